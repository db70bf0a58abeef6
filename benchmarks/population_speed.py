"""Speed of population training against solo fits: one epoch of every topology, as ratios.

Both run in the same process on the same data, one after the other, at the budgets of the
topology tables (benchmarks/topology_table.py):

- ``bmi``: one epoch (and its validation pass) of the SNN decoder with a 4 x 32 block on the
  300 s simulated session, for every one of the 729 topologies of the block: as one population
  (:func:`bmi_decoder.decoders.snn_population.fit_population`, seed 0, in groups sized to
  ``--memory-gb``), and as 729 solo ``SNNDecoder.fit`` calls;
- ``vision``: one epoch of the vision table's model on its simulated DVS set, for a sample of the
  topologies (``--vision-topologies``, every 27th by default: convolutions on 2 cores are slow),
  as one population and as solo ``vision_bench.train.train`` calls.

A solo fit that is not in the sample is not timed: ``--solo-sample N`` times every N-th topology
alone and scales the sum (the report says which). Timings are wall seconds on this machine, so
the ratio is what a user gains here; both sides use torch's threads as set by ``--threads``.

    python benchmarks/population_speed.py [--tasks bmi vision] [--threads 2] [--json docs/results/population_speed.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from results_json import count
from topology_table import BUDGETS, BmiTask, VisionTask, all_topologies, snn_settings

from snn_core.atomic import write_text_atomic


def bmi_speed(solo_every: int, memory_gb: float, precision: str, data_dir: Path) -> dict:
    from bmi_decoder.decoders import SNNDecoder
    from bmi_decoder.decoders.snn_population import fit_population

    task = BmiTask(BUDGETS["bmi"], data_dir)
    train, val = task.session.split("train"), task.session.split("val")
    settings = {**snn_settings(BUDGETS["bmi"]), "max_epochs": 1, "patience": 1}
    topologies = all_topologies()
    SNNDecoder(topology=topologies[0], progress=False, device="cpu", **settings).fit(*train, *val)  # compiles the LIF kernels
    start = time.perf_counter()
    fit_population(
        SNNDecoder(progress=False, device="cpu", **settings),
        [(t, 0) for t in topologies],
        *train,
        *val,
        memory_gb=memory_gb,
        precision=precision,
        progress=True,
    )
    population = time.perf_counter() - start
    timed = topologies[::solo_every]
    start = time.perf_counter()
    for topology in timed:
        SNNDecoder(topology=topology, progress=False, device="cpu", **settings).fit(*train, *val)
    solo = (time.perf_counter() - start) * len(topologies) / len(timed)
    return _result(
        len(topologies), len(timed), population, solo, {"snn": settings, "precision": precision, "memory_gb": memory_gb}
    )


def vision_speed(every: int, data_dir: Path) -> dict:
    from vision_bench.models import build_vision_model
    from vision_bench.population import train_population
    from vision_bench.search import trunk_topology
    from vision_bench.train import TrainConfig, train

    task = VisionTask(BUDGETS["vision"], data_dir)
    config = TrainConfig(seed=0, device="cpu", **{**BUDGETS["vision"]["train"], "epochs": 1})
    topologies = all_topologies()[::every]
    start = time.perf_counter()
    train_population(task.model_config, [(t, 0) for t in topologies], task.fit_set, task.val_set, config)
    population = time.perf_counter() - start
    start = time.perf_counter()
    for topology in topologies:
        model = build_vision_model(task.model_config, "none", "snn", 0, trunk_topology(topology))
        train(model, task.fit_set, task.val_set, config, progress=False, log=None)
    solo = time.perf_counter() - start
    return _result(len(topologies), len(topologies), population, solo, {"train": BUDGETS["vision"]["train"], "epochs": 1})


def _result(topologies: int, solo_timed: int, population: float, solo: float, budget: dict) -> dict:
    return {
        "topologies": topologies,
        "solo_timed": solo_timed,
        "population_s": population,
        "solo_s": solo,
        "ratio": solo / population,
        "budget": budget,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=("bmi", "vision"), default=["bmi", "vision"])
    parser.add_argument("--threads", type=count, default=2, help="torch threads for both sides (default 2)")
    parser.add_argument(
        "--solo-sample", type=count, default=1, metavar="N", help="time every N-th BMI topology alone (default 1: all)"
    )
    parser.add_argument(
        "--vision-topologies", type=count, default=27, metavar="N", help="every N-th topology in the vision run (default 27)"
    )
    parser.add_argument("--memory-gb", type=float, default=4.0, help="memory per population group (default 4)")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--data-dir", type=Path, default=Path("datasets/tables"))
    parser.add_argument("--json", type=Path, default=Path("docs/results/population_speed.json"))
    args = parser.parse_args(argv)
    if args.threads < 1 or args.solo_sample < 1 or args.vision_topologies < 1:
        print("population_speed: error: --threads, --solo-sample and --vision-topologies must be at least 1", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    report = {
        "command": " ".join(["python", *sys.argv]),
        "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "tasks": {},
    }
    if "bmi" in args.tasks:
        report["tasks"]["bmi"] = bmi_speed(args.solo_sample, args.memory_gb, args.precision, args.data_dir)
    if "vision" in args.tasks:
        report["tasks"]["vision"] = vision_speed(args.vision_topologies, args.data_dir)
    for name, r in report["tasks"].items():
        print(
            f"{name}: {r['topologies']} topologies, one epoch: population {r['population_s']:.1f} s, solo {r['solo_s']:.1f} s ({r['solo_timed']} timed), {r['ratio']:.1f}x"
        )
    write_text_atomic(args.json, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
