"""Training-free ranking against the trained tables: each zero-cost proxy's Kendall tau.

``--strategy zero-cost`` ranks every topology of a block at initialisation
(:mod:`snn_core.zero_cost`: SNASNet's sparsity-aware Hamming score, Kim et al. ECCV 2022, and
NASWOT on the ANN twin, Mellor et al. ICML 2021), then trains only the top K. Whether that pays
depends on how well the ranking agrees with trained scores. Here every topology of the tables'
4-layer block (benchmarks/topology_table.py) is scored exactly as the search strategy scores it
(the same networks, initial weights and mini-batch), once per initialisation seed of the table,
and each ranking is compared with the table's seed-mean validation and test scores by Kendall's
tau-b (:func:`snn_core.zero_cost.kendall_tau`). The wall seconds of each full ranking are kept:
``benchmarks/search_samplers.py`` charges them to the zero-cost strategy's time to best.

    python benchmarks/zero_cost_tau.py [--tasks bmi vision] [--tables benchmarks/tables]
        [--json docs/results/zero_cost_tau.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from results_json import count
from table_rows import read_rows, seed_means
from topology_table import BUDGETS, TASKS, all_topologies, check_header, snn_settings

from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError
from snn_core.zero_cost import PROXIES, kendall_tau, score_topologies

FILES = {"bmi": "bmi_snn_4layer.csv", "vision": "vision_snn_4layer.csv"}


def scorer(task: str, runner):
    """``(build, inputs, group)`` of the task's ``--strategy zero-cost``, for an init ``seed``:
    the untrained networks and the mini-batch the search scores them on."""
    if task == "bmi":
        from bmi_decoder.decoders import SNNDecoder
        from bmi_decoder.search_strategies import ZERO_COST_GROUP, untrained_body, zero_cost_inputs

        template = SNNDecoder(progress=False, device="cpu", **snn_settings(runner.budget))
        X = runner.session.split("train")[0]
        return untrained_body(template, X.shape[1]), lambda seed: zero_cost_inputs(X, template.chunk_bins, seed), ZERO_COST_GROUP
    from vision_bench.models import build_vision_model
    from vision_bench.search import trunk_topology
    from vision_bench.search_strategies import ZERO_COST_GROUP, zero_cost_frames

    def build(topology: str, seed: int):
        return build_vision_model(runner.model_config, "none", "snn", seed, trunk_topology(topology)).trunk

    return build, lambda seed: zero_cost_frames(runner.fit_set, seed), ZERO_COST_GROUP


def run_task(task: str, table_path: Path, data_dir: Path, log=print) -> dict:
    """Every proxy at every seed of the task's table: taus against the seed means, and seconds."""
    check_header(table_path.with_suffix(".json"), task, BUDGETS[task])
    means = seed_means(read_rows(table_path))
    topologies = all_topologies()
    missing = [t for t in topologies if t not in means]
    if missing:
        raise InputError(table_path, "rows", f"all {len(topologies)} topologies, {len(missing)} missing")
    build, inputs, group = scorer(task, TASKS[task](BUDGETS[task], data_dir))
    val = [means[t].val_score for t in topologies]
    test = [means[t].test_score for t in topologies]
    per_seed = []
    for seed in BUDGETS[task]["seeds"]:
        start = time.perf_counter()
        scores = score_topologies(build, topologies, inputs(seed), seed, PROXIES, group=group)
        seconds = time.perf_counter() - start
        per_seed.append(
            {
                "seed": seed,
                "seconds": seconds,
                "scores": {p: [float(v) for v in s] for p, s in scores.items()},
                "tau_val": {p: kendall_tau(s, val) for p, s in scores.items()},
                "tau_test": {p: kendall_tau(s, test) for p, s in scores.items()},
            }
        )
        taus = ", ".join(f"{p} {per_seed[-1]['tau_val'][p]:+.3f}" for p in PROXIES)
        log(f"  {task} seed {seed}: {seconds:.1f} s; Kendall tau vs seed-mean validation: {taus}")
    summary = {}
    for proxy in PROXIES:
        taus = np.array([s["tau_val"][proxy] for s in per_seed if s["tau_val"][proxy] is not None], dtype=float)
        summary[proxy] = {
            "tau_val_mean": float(taus.mean()) if taus.size else None,
            "tau_val_se": float(taus.std(ddof=1) / np.sqrt(taus.size)) if taus.size > 1 else None,
            "tau_test_mean": float(np.mean([s["tau_test"][proxy] for s in per_seed if s["tau_test"][proxy] is not None])),
        }
    return {
        "topologies": len(topologies),
        "seconds": float(np.mean([s["seconds"] for s in per_seed])),
        "proxies": summary,
        "per_seed": per_seed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(FILES), default=list(FILES))
    parser.add_argument("--tables", type=Path, default=Path("benchmarks/tables"))
    parser.add_argument("--data-dir", type=Path, default=Path("datasets/tables"))
    parser.add_argument("--threads", type=count, default=2, help="torch threads (default 2)")
    parser.add_argument("--json", type=Path, default=Path("docs/results/zero_cost_tau.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = {"command": " ".join(["python", *sys.argv]), "threads": args.threads, "tasks": {}}
    if args.json.exists():  # one task at a time keeps the other's results
        report["tasks"] = json.loads(args.json.read_text()).get("tasks", {})
    for task in args.tasks:
        try:
            report["tasks"][task] = run_task(task, args.tables / FILES[task], args.data_dir)
        except InputError as err:
            print(f"zero_cost_tau: error: {err}", file=sys.stderr)
            return 2
    write_text_atomic(args.json, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
