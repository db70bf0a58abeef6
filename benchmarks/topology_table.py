"""Full-space topology tables: every skip topology of one 4-layer block, trained once each.

Benmeziane et al. (2023) compare samplers and claim that the searched topology beats the
ANN-derived start (docs/data.md, claims 3 and 4). A search over a space small enough to train
exhaustively can be replayed without training: the score of a topology is the same whichever
sampler asks for it (each fit is seeded), so a table of all 3^6 = 729 topologies of a 4-layer
block lets any number of seeded searches, and pruning replays, run as table look-ups
(benchmarks/search_benchmark.py).

Two tasks, each trained at one fixed small budget (:data:`BUDGETS`), sized so that both tables
build in about an hour beside other work on 2 CPU cores:

- ``bmi``: the SNN decoder (:class:`bmi_decoder.decoders.SNNDecoder`, a 4-layer block) on a
  simulated reaching session (:mod:`bmi_decoder.simulate`), scored by validation and test R2 on
  the NeuroBench split. Early stopping is off (patience = epochs), so every row holds the whole
  validation curve; the fitted decoder keeps its best epoch, as a search trial does.
- ``vision``: the small convolutional SNN of :mod:`vision_bench.models` (a 1-layer stem, then one
  4-layer skip block) on the simulated DVS set, scored by validation accuracy on the last 10% of
  each training class (:func:`vision_bench.search.validation_split`) and test accuracy; every
  epoch runs and the model ends with the last epoch's weights, as in ``vision-bench search``.

One CSV row per topology: ``topology``, ``val_per_epoch`` (the validation score after each
epoch, ``;``-separated, so that pruning can be replayed), ``val_score`` (the score a search
trial would return), ``test_score``, the synaptic operations per step (``dense``,
``effective_macs``, ``effective_acs``), ``energy_pj_per_step`` (45 nm, NeuroBench's counting) and
``seconds`` (training and scoring of that row, on a shared machine). A JSON header beside the CSV
(``<out>.json``) records the task, budget, seed, data, package and simulator versions and the
command. The builder resumes: rows already in the CSV are kept, and the CSV is rewritten
atomically after every new row; a header of another budget is refused. ``--part K/N`` builds one
of N slices (one process per core or machine), and ``--merge`` gathers the slices into one table.

    python benchmarks/topology_table.py bmi --out benchmarks/tables/bmi_snn_4layer.csv
    python benchmarks/topology_table.py vision --out benchmarks/tables/vision_snn_4layer.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError
from snn_core.topology import SkipTopology

LAYERS = 4
COLUMNS = (
    "topology",
    "val_per_epoch",
    "val_score",
    "test_score",
    "dense",
    "effective_macs",
    "effective_acs",
    "energy_pj_per_step",
    "seconds",
)
# The fixed small budgets (measured on this 2-core machine: about 1 s per BMI row and 1.2 s per
# vision row on one core, before sharing it).
BUDGETS: dict[str, dict] = {
    "bmi": {
        "session": {"seconds": 60.0, "seed": 0},
        "snn": {"hidden": [16] * LAYERS, "max_epochs": 6, "patience": 6, "lr": 5e-3},
    },
    "vision": {
        "data": {"per_class": 30, "data_seed": 0, "time_bins": 3, "size": 12},
        "model": {"family": "resnet", "stem_width": 8, "widths": [8], "depth": LAYERS},
        "train": {"epochs": 3, "batch_size": 16, "lr": 1e-2, "optimizer": "adam"},
        "activity_samples": 30,
    },
}


def all_topologies(layers: int = LAYERS) -> list[str]:
    """Every topology of one block of ``layers`` layers, in text form, in counting order."""
    return [
        str(SkipTopology.from_string(f"{layers}-{''.join(d)}"))
        for d in itertools.product("012", repeat=layers * (layers - 1) // 2)
    ]


@dataclass
class Row:
    """One trained topology (see the module docstring for the columns)."""

    topology: str
    val_per_epoch: list[float]
    val_score: float
    test_score: float
    dense: float
    effective_macs: float
    effective_acs: float
    energy_pj_per_step: float
    seconds: float

    def cells(self) -> list[str]:
        values = [self.topology, ";".join(f"{v:.6g}" for v in self.val_per_epoch)]
        values += [f"{getattr(self, c):.6g}" for c in COLUMNS[2:]]
        return values


def parse_row(record: dict[str, str], source: str) -> Row:
    """A CSV record as a :class:`Row`.

    Raises:
        InputError: a missing or non-numeric cell.
    """
    try:
        return Row(
            topology=str(SkipTopology.from_string(record["topology"])),
            val_per_epoch=[float(v) for v in record["val_per_epoch"].split(";")],
            **{c: float(record[c]) for c in COLUMNS[2:]},
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(source, "row", f"the columns {', '.join(COLUMNS)} with numbers ({err})") from None


def read_table(path: str | Path) -> dict[str, Row]:
    """The rows of a table CSV by topology (empty when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {row.topology: row for row in (parse_row(r, str(path)) for r in csv.DictReader(f))}


def write_table(path: Path, rows: dict[str, Row], order: list[str]) -> None:
    """Rewrite the CSV atomically, rows in counting order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    rank = {t: k for k, t in enumerate(order)}
    for topology in sorted(rows, key=lambda t: rank.get(t, len(rank))):
        writer.writerow(rows[topology].cells())
    write_text_atomic(path, buffer.getvalue())


class BmiTask:
    """Trains the SNN decoder on one simulated session (:data:`BUDGETS` ``bmi``)."""

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

    def run(self, topology: str, seed: int) -> Row:
        from bmi_decoder.decoders import SNNDecoder
        from bmi_decoder.evaluation import r2_score

        start = time.perf_counter()
        X_val, y_val = self.session.split("val")
        X_test, y_test = self.session.split("test")
        snn = self.budget["snn"]
        decoder = SNNDecoder(topology=topology, seed=seed, progress=False, device="cpu", **snn)
        decoder.fit(*self.session.split("train"), X_val, y_val)
        synops = decoder.cost(X_test).synops
        return Row(
            topology=topology,
            val_per_epoch=[float(v) for v in decoder.validation_r2_],
            val_score=float(r2_score(y_val, decoder.predict(X_val))),
            test_score=float(r2_score(y_test, decoder.predict(X_test))),
            dense=synops.dense,
            effective_macs=synops.effective_macs,
            effective_acs=synops.effective_acs,
            energy_pj_per_step=synops.energy_pj,
            seconds=time.perf_counter() - start,
        )


class VisionTask:
    """Trains the small vision SNN on the simulated DVS set (:data:`BUDGETS` ``vision``)."""

    def __init__(self, budget: dict, data_dir: Path) -> None:
        from torch.utils.data import Subset

        from vision_bench.data import load_frames
        from vision_bench.data.synthetic import GENERATOR_VERSION, write_synthetic_cifar10dvs
        from vision_bench.models import VisionModelConfig
        from vision_bench.search import validation_split

        self.budget = budget
        data = budget["data"]
        root = data_dir / f"synthetic_dvs{GENERATOR_VERSION}_{data['per_class']}pc_seed{data['data_seed']}"
        if not (root / "CIFAR10DVS").exists():
            write_synthetic_cifar10dvs(root, per_class=data["per_class"], seed=data["data_seed"])
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
        """Train one model on the fit set; returns (model, validation accuracy per epoch)."""
        from vision_bench.models import build_vision_model
        from vision_bench.search import trunk_topology
        from vision_bench.train import TrainConfig, train

        config = TrainConfig(seed=seed, device="cpu", **self.budget["train"])
        model = build_vision_model(self.model_config, "none", mode, seed, trunk_topology(blocks))
        history = train(model, self.fit_set, self.val_set, config, progress=False, log=None).history
        return model, [float(r["val_accuracy"]) for r in history]

    def run(self, topology: str, seed: int) -> Row:
        from vision_bench.analysis import measure_activity
        from vision_bench.train import evaluate

        start = time.perf_counter()
        model, curve = self.fit(topology, seed)
        activity = measure_activity(model, self.test_set, self.budget["activity_samples"], seed)
        synops = activity.cost.synops
        return Row(
            topology=topology,
            val_per_epoch=curve,
            val_score=curve[-1],
            test_score=float(evaluate(model, self.test_set, self.budget["train"]["batch_size"])),
            dense=synops.dense,
            effective_macs=synops.effective_macs,
            effective_acs=synops.effective_acs,
            energy_pj_per_step=synops.energy_pj,
            seconds=time.perf_counter() - start,
        )


TASKS: dict[str, Callable[[dict, Path], BmiTask | VisionTask]] = {"bmi": BmiTask, "vision": VisionTask}


def header(task: str, budget: dict, seed: int, data: dict, command: list[str]) -> dict:
    """The JSON header stored beside a table: what its scores depend on, and how it was made."""
    return {
        "task": task,
        "layers": LAYERS,
        "topologies": 3 ** (LAYERS * (LAYERS - 1) // 2),
        "seed": seed,
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


def check_header(path: Path, task: str, seed: int, budget: dict) -> None:
    """Refuse a table whose header (``path``) was made with another task, seed or budget.

    Raises:
        InputError: naming the header and the differing field (also for a missing header).
    """
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(path, "header", f"the JSON header of a table ({err})") from None
    for key, value in (("task", task), ("seed", seed), ("budget", json.loads(json.dumps(budget)))):
        if stored.get(key) != value:
            raise InputError(path, key, f"{value!r} as stored, to resume or merge this table (or another --out)")


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
    seed: int = 0,
    topologies: list[str] | None = None,
    data_dir: str | Path = "datasets/tables",
    progress: bool = True,
    command: list[str] | None = None,
    merge: tuple[str | Path, ...] = (),
) -> dict[str, Row]:
    """Train every missing topology of the table at ``out`` and return all its rows.

    Args:
        task: ``"bmi"`` or ``"vision"``.
        out: the CSV; its header goes to the same name with ``.json``.
        budget: the training budget (default :data:`BUDGETS` of ``task``).
        seed: the seed of every fit.
        topologies: the rows wanted (default: all 729).
        data_dir: where the simulated data are written (once) and read.
        progress: a tqdm bar over the missing rows.
        command: recorded in the header (default: this process's command line).
        merge: tables built elsewhere with the same task, seed and budget (e.g. ``--part``
            slices run on other cores); their rows are added before training what is missing.

    Raises:
        InputError: the header beside ``out`` or a merged table was made with another task,
            budget or seed.
    """
    out = Path(out)
    budget = BUDGETS[task] if budget is None else budget
    order = all_topologies()
    wanted = order if topologies is None else [str(SkipTopology.from_string(t)) for t in topologies]
    meta_path = out.with_suffix(".json")
    for path in (meta_path, *(Path(p).with_suffix(".json") for p in merge)):
        if path.exists() or path != meta_path:
            check_header(path, task, seed, budget)
    rows = read_table(out)
    merged = {t: r for part in merge for t, r in read_table(part).items() if t not in rows}
    if merged:
        rows.update(merged)
        write_table(out, rows, order)
    missing = [t for t in wanted if t not in rows]
    out.parent.mkdir(parents=True, exist_ok=True)
    runner = TASKS[task](budget, Path(data_dir))
    if not meta_path.exists():
        argv = command if command is not None else ["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]]
        write_text_atomic(meta_path, json.dumps(header(task, budget, seed, runner.data, argv), indent=1) + "\n")
    for topology in tqdm(missing, desc=f"{task} table", unit="topology", disable=not progress):
        rows[topology] = runner.run(topology, seed)
        write_table(out, rows, order)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--out", type=Path, required=True, help="the table CSV (header: same name, .json)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every fit (default 0)")
    parser.add_argument("--data-dir", type=Path, default=Path("datasets/tables"), help="simulated data folder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: the machine is shared)")
    parser.add_argument("--part", metavar="K/N", help="build only the K-th of N slices of the topologies (one per core)")
    parser.add_argument("--merge", type=Path, nargs="+", default=[], metavar="CSV", help="add the rows of these tables")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        topologies = part(args.part, all_topologies()) if args.part else None
        rows = build_table(args.task, args.out, seed=args.seed, data_dir=args.data_dir, topologies=topologies, merge=args.merge)
    except InputError as err:
        print(f"topology_table: error: {err}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(rows)} rows, {sum(r.seconds for r in rows.values()):.0f} s of training in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
