"""Full-space topology tables: every skip topology of one 4-layer block, trained once each.

Benmeziane et al. (2023) compare samplers and claim that the searched topology beats the
ANN-derived start (docs/data.md, claims 3 and 4). A search over a space small enough to train
exhaustively can be replayed without training: the score of a topology is the same whichever
sampler asks for it (each fit is seeded), so a table of all 3^6 = 729 topologies of a 4-layer
block lets any number of seeded searches, and pruning replays, run as table look-ups
(benchmarks/search_benchmark.py).

Two tasks, each trained at one fixed budget (:data:`BUDGETS`) and several seeds, so that the
table tells topologies apart rather than lucky draws (issue 19): every (topology, seed) member is
fitted by population training (:mod:`snn_core.population`), a batch of topologies of one seed as
one model, each member equal to the same fit alone.

- ``bmi``: the SNN decoder (:class:`bmi_decoder.decoders.SNNDecoder`, a 4-layer block) on a
  simulated reaching session (:mod:`bmi_decoder.simulate`), scored by validation and test R2 on
  the NeuroBench split. Early stopping is off (patience = epochs), so every row holds the whole
  validation curve; the fitted decoder keeps its best epoch, as a search trial does
  (:func:`bmi_decoder.decoders.snn_population.fit_population`).
- ``vision``: the small convolutional SNN of :mod:`vision_bench.models` (a 1-layer stem, then one
  4-layer skip block) on the simulated DVS set (``--difficulty hard``), scored by validation
  accuracy on the last 10% of each training class (:func:`vision_bench.search.validation_split`)
  and test accuracy; every epoch runs and the model ends with the last epoch's weights, as in
  ``vision-bench search`` (:func:`vision_bench.population.train_population`).

One CSV row per (topology, seed): ``topology``, ``seed``, ``val_per_epoch`` (the validation score
after each epoch, ``;``-separated, so that pruning can be replayed), ``val_score`` (the score a
search trial would return), ``test_score``, the synaptic operations per step (``dense``,
``effective_macs``, ``effective_acs``), ``energy_pj_per_step`` (45 nm, NeuroBench's counting) and
``seconds`` (the row's share of its population's training time, plus its own scoring).
:func:`read_table` gives the seed means per topology, :func:`read_rows` every seed's row, and
:func:`split_half` the reliability of the topology ranking over seeds. A JSON header beside the
CSV (``<out>.json``) records the task, budget, seeds, data, package and simulator versions, the
command and the split-half reliability. The builder resumes: rows already in the CSV are kept,
the CSV is rewritten atomically after every population, and a population interrupted mid-fit
resumes from its progress file; a header of another budget is refused. ``--part K/N`` builds one
of N slices of the topologies, and ``--merge`` gathers slices into one table.

    python benchmarks/topology_table.py bmi --out benchmarks/tables/bmi_snn_4layer.csv
    python benchmarks/topology_table.py vision --out benchmarks/tables/vision_snn_4layer.csv
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from results_json import count
from table_rows import COLUMNS, Row, read_rows, read_table, seed_means, split_half, write_table  # noqa: F401 (re-exported)
from tqdm import tqdm

from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError
from snn_core.topology import SkipTopology

LAYERS = 4
# Budgets at which topologies differ more than seeds do (issue 19): the BMI decoder on a 300 s
# session (a 60 s session with 16-wide layers and 6 epochs left the median topology at validation
# R2 -0.02) at seven seeds (five left the split-half reliability at 0.77), the vision model on
# 24 x 24 frames, T = 5 and 16 channels with 100 test recordings of the "hard" simulated set
# (on the "easy" one, 432 topologies of the first seed all scored 99-100%: nothing to rank).
BUDGETS: dict[str, dict] = {
    "bmi": {
        "session": {"seconds": 300.0, "seed": 0},
        "snn": {"hidden": [32] * LAYERS, "max_epochs": 15, "patience": 15, "lr": 2e-3},
        "seeds": [0, 1, 2, 3, 4, 5, 6],
    },
    "vision": {
        "data": {"per_class": 100, "data_seed": 0, "time_bins": 5, "size": 24, "difficulty": "hard"},
        "model": {"family": "resnet", "stem_width": 16, "widths": [16], "depth": LAYERS},
        "train": {"epochs": 6, "batch_size": 16, "lr": 1e-2, "optimizer": "adam"},
        "activity_samples": 30,
        "seeds": [0, 1, 2],
    },
}


def all_topologies(layers: int = LAYERS) -> list[str]:
    """Every topology of one block of ``layers`` layers, in text form, in counting order."""
    return [
        str(SkipTopology.from_string(f"{layers}-{''.join(d)}"))
        for d in itertools.product("012", repeat=layers * (layers - 1) // 2)
    ]


# The SNN decoder's defaults when the BMI table was trained: pinned, so that the command in its
# header reproduces its rows whatever the decoder's defaults are now (one network per member, not
# an ensemble; no weight average; the initial gain and membrane decay of that time).
TABLE_SNN_DEFAULTS = {"ensemble": 1, "weight_average": 0.0, "weight_gain": 3.0, "beta": 0.98}


def snn_settings(budget: dict) -> dict:
    """The SNN decoder's settings of a BMI budget: :data:`TABLE_SNN_DEFAULTS` and the budget's."""
    return {**TABLE_SNN_DEFAULTS, **budget["snn"]}


class BmiTask:
    """Fits the SNN decoder on one simulated session (:data:`BUDGETS` ``bmi``), a population at a time."""

    # members per population: enough to batch the kernels, few enough to save progress often
    chunk = 81

    def __init__(self, budget: dict, data_dir: Path) -> None:
        from bmi_decoder.preprocess import prepare_session
        from bmi_decoder.simulate import SIMULATOR_VERSION, simulate_session

        self.budget = budget
        session = budget["session"]
        # simulated in memory (seconds of work): the session is a function of its seed
        self.session = prepare_session(simulate_session(seconds=session["seconds"], seed=session["seed"]).recording)
        self.data = {
            "simulator_version": SIMULATOR_VERSION,
            **session,
            "bins": {s: len(self.session.split(s)[0]) for s in ("train", "val", "test")},
        }

    def run(self, members: list[tuple[str, int]], progress_dir: Path) -> list[Row]:
        from bmi_decoder.decoders import SNNDecoder
        from bmi_decoder.decoders.snn_population import fit_population
        from bmi_decoder.evaluation import r2_score

        X_val, y_val = self.session.split("val")
        X_test, y_test = self.session.split("test")
        template = SNNDecoder(progress=False, device="cpu", **snn_settings(self.budget))
        fitted = fit_population(
            template,
            members,
            *self.session.split("train"),
            X_val,
            y_val,
            memory_gb=4.0,
            progress_dir=progress_dir,
            progress=False,
        )
        rows = []
        for decoder in fitted:
            start = time.perf_counter()
            synops = decoder.cost(X_test).synops
            rows.append(
                Row(
                    topology=decoder.topology,
                    val_per_epoch=[float(v) for v in decoder.validation_r2_],
                    val_score=float(r2_score(y_val, decoder.predict(X_val))),
                    test_score=float(r2_score(y_test, decoder.predict(X_test))),
                    dense=synops.dense,
                    effective_macs=synops.effective_macs,
                    effective_acs=synops.effective_acs,
                    energy_pj_per_step=synops.energy_pj,
                    seconds=decoder.fit_seconds_ + time.perf_counter() - start,
                    seed=decoder.seed,
                )
            )
        return rows


class VisionTask:
    """Trains the small vision SNN on the simulated DVS set (:data:`BUDGETS` ``vision``)."""

    chunk = 27

    def __init__(self, budget: dict, data_dir: Path) -> None:
        from torch.utils.data import Subset

        from vision_bench.data import load_frames
        from vision_bench.data.synthetic import GENERATOR_VERSION, write_synthetic_cifar10dvs
        from vision_bench.models import VisionModelConfig
        from vision_bench.search import validation_split

        self.budget = budget
        data = budget["data"]
        difficulty = data.get("difficulty", "easy")
        root = data_dir / f"synthetic_dvs{GENERATOR_VERSION}_{difficulty}_{data['per_class']}pc_seed{data['data_seed']}"
        if not (root / "CIFAR10DVS").exists():
            write_synthetic_cifar10dvs(root, per_class=data["per_class"], seed=data["data_seed"], difficulty=difficulty)
        train_set, self.test_set = (
            load_frames("synthetic", root, split, data["time_bins"], data["size"], progress=False) for split in ("train", "test")
        )
        fit_idx, val_idx = validation_split(train_set.labels)
        self.fit_set, self.val_set = Subset(train_set, fit_idx.tolist()), Subset(train_set, val_idx.tolist())
        self.model_config = VisionModelConfig(num_classes=train_set.n_classes, **budget["model"])
        self.data = {
            "generator_version": GENERATOR_VERSION,
            **data,
            "fit": len(fit_idx),
            "validation": len(val_idx),
            "test": len(self.test_set),
        }

    def fit(self, blocks: str, seed: int, mode: str = "snn"):
        """Train one model alone on the fit set; returns (model, validation accuracy per epoch)
        (the ANN twins of ``benchmarks/search_claim3.py``)."""
        from vision_bench.models import build_vision_model
        from vision_bench.search import trunk_topology
        from vision_bench.train import TrainConfig, train

        config = TrainConfig(seed=seed, device="cpu", **self.budget["train"])
        model = build_vision_model(self.model_config, "none", mode, seed, trunk_topology(blocks))
        history = train(model, self.fit_set, self.val_set, config, progress=False, log=None).history
        return model, [float(r["val_accuracy"]) for r in history]

    def run(self, members: list[tuple[str, int]], progress_dir: Path) -> list[Row]:
        from vision_bench.analysis import measure_activity
        from vision_bench.population import train_population
        from vision_bench.train import TrainConfig, evaluate

        rows = []
        for seed in sorted({s for _, s in members}):  # one population per seed: shared batches
            group = [(t, s) for t, s in members if s == seed]
            config = TrainConfig(seed=seed, device="cpu", **self.budget["train"])
            run = train_population(
                self.model_config, group, self.fit_set, self.val_set, config, checkpoint=progress_dir / f"seed{seed}.pt"
            )
            for (topology, _), model, curve in zip(group, run.models, run.curves):
                start = time.perf_counter()
                synops = measure_activity(model, self.test_set, self.budget["activity_samples"], seed).cost.synops
                rows.append(
                    Row(
                        topology=topology,
                        val_per_epoch=curve,
                        val_score=curve[-1],
                        test_score=float(evaluate(model, self.test_set, self.budget["train"]["batch_size"])),
                        dense=synops.dense,
                        effective_macs=synops.effective_macs,
                        effective_acs=synops.effective_acs,
                        energy_pj_per_step=synops.energy_pj,
                        seconds=run.seconds_per_member + time.perf_counter() - start,
                        seed=seed,
                    )
                )
        return rows


TASKS: dict[str, Callable[[dict, Path], BmiTask | VisionTask]] = {"bmi": BmiTask, "vision": VisionTask}


def header(task: str, budget: dict, data: dict, command: list[str]) -> dict:
    """The JSON header stored beside a table: what its scores depend on, and how it was made."""
    return {
        "task": task,
        "layers": LAYERS,
        "topologies": 3 ** (LAYERS * (LAYERS - 1) // 2),
        "budget": budget,
        "data": data,
        "columns": list(COLUMNS),
        "versions": {
            "skipsnn": version("skipsnn"),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "command": " ".join(command),
    }


def check_header(path: Path, task: str, budget: dict) -> dict:
    """The header at ``path``, refused when made with another task or budget.

    More seeds than stored are accepted when the stored seeds come first (a table grows by seeds,
    as issue 19 asks when its split-half reliability falls short); the header then lists them all.

    Raises:
        InputError: naming the header and the differing field (also for a missing header).
    """
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(path, "header", f"the JSON header of a table ({err})") from None
    wanted = json.loads(json.dumps(budget))
    have = stored.get("budget")
    seeds = have.get("seeds") if isinstance(have, dict) else None
    if isinstance(seeds, list) and wanted["seeds"][: len(seeds)] == seeds:
        have = {**have, "seeds": wanted["seeds"]}  # the stored seeds come first: the table grows
    for key, stored_value, value in (("task", stored.get("task"), task), ("budget", have, wanted)):
        if stored_value != value:
            raise InputError(path, key, f"{value!r} as stored, to resume or merge this table (or another --out)")
    return stored


def part(text: str, topologies: list[str]) -> list[str]:
    """The K-th of N contiguous slices of ``topologies`` for ``--part K/N``.

    Raises:
        InputError: not of the form K/N with 1 <= K <= N.
    """
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise InputError("command line", "--part", f"K/N with 1 <= K <= N, e.g. 2/2, got {text!r}")
    bounds = np.linspace(0, len(topologies), int(n) + 1).round().astype(int)
    return topologies[bounds[int(k) - 1] : bounds[int(k)]]


def build_table(
    task: str,
    out: str | Path,
    budget: dict | None = None,
    topologies: list[str] | None = None,
    data_dir: str | Path = "datasets/tables",
    progress: bool = True,
    command: list[str] | None = None,
    merge: tuple[str | Path, ...] = (),
) -> dict[tuple[str, int], Row]:
    """Train every missing (topology, seed) of the table at ``out`` and return all its rows.

    Args:
        task: ``"bmi"`` or ``"vision"``.
        out: the CSV; its header goes to the same name with ``.json``, and the progress of the
            population being fitted to ``<out>.progress/``.
        budget: the training budget with its ``seeds`` (default :data:`BUDGETS` of ``task``).
        topologies: the topologies wanted (default: all 729), each at every seed.
        data_dir: where the simulated data are written (once) and read.
        progress: a tqdm bar over the missing rows.
        command: recorded in the header (default: this process's command line).
        merge: tables built elsewhere with the same task and budget (e.g. ``--part`` slices run
            on other cores); their rows are added before training what is missing.

    Raises:
        InputError: the header beside ``out`` or a merged table was made with another task or budget.
    """
    out = Path(out)
    budget = BUDGETS[task] if budget is None else budget
    order = all_topologies()
    wanted = order if topologies is None else [str(SkipTopology.from_string(t)) for t in topologies]
    meta_path = out.with_suffix(".json")
    for path in (Path(p).with_suffix(".json") for p in merge):
        check_header(path, task, budget)
    argv = command if command is not None else ["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]]
    stored = check_header(meta_path, task, budget) if meta_path.exists() else None
    if stored is not None and stored["budget"]["seeds"] != budget["seeds"]:
        # grown by seeds: the header says so (and how) before the new fits start
        stored["budget"]["seeds"], stored["command"] = list(budget["seeds"]), " ".join(argv)
        write_text_atomic(meta_path, json.dumps(stored, indent=1) + "\n")
    rows = read_rows(out)
    merged = {k: r for table in merge for k, r in read_rows(table).items() if k not in rows}
    if merged:
        rows.update(merged)
        write_table(out, rows, order)
    # by seed, then topology: a population shares its batches and its block input's skips
    missing = sorted(
        ((t, s) for t in wanted for s in budget["seeds"] if (t, s) not in rows), key=lambda k: (k[1], order.index(k[0]))
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    runner = TASKS[task](budget, Path(data_dir))
    if not meta_path.exists():
        write_text_atomic(meta_path, json.dumps(header(task, budget, runner.data, argv), indent=1) + "\n")
    progress_dir = out.with_name(out.name + ".progress")
    with tqdm(total=len(missing), desc=f"{task} table", unit="fit", disable=not progress) as bar:
        for start in range(0, len(missing), runner.chunk):
            chunk = missing[start : start + runner.chunk]
            for row in runner.run(chunk, progress_dir / f"{chunk[0][0]}_seed{chunk[0][1]}"):
                rows[(row.topology, row.seed)] = row
            write_table(out, rows, order)
            bar.update(len(chunk))
    if missing:
        stored = json.loads(meta_path.read_text())
        stored["split_half"] = {field: split_half(rows, field) for field in ("val_score", "test_score")}
        write_text_atomic(meta_path, json.dumps(stored, indent=1) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--out", type=Path, required=True, help="the table CSV (header: same name, .json)")
    parser.add_argument("--data-dir", type=Path, default=Path("datasets/tables"), help="simulated data folder")
    parser.add_argument("--threads", type=count, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--part", metavar="K/N", help="build only the K-th of N slices of the topologies (one per core)")
    parser.add_argument("--merge", type=Path, nargs="+", default=[], metavar="CSV", help="add the rows of these tables")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        topologies = part(args.part, all_topologies()) if args.part else None
        rows = build_table(args.task, args.out, data_dir=args.data_dir, topologies=topologies, merge=args.merge)
    except InputError as err:
        print(f"topology_table: error: {err}", file=sys.stderr)
        return 2
    reliability = split_half(rows)
    print(
        f"{args.out}: {len(rows)} rows, {sum(r.seconds for r in rows.values()):.0f} s of training in all; "
        f"split-half Spearman of the validation ranking {reliability['mean']:.3f} (mean over splits)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
