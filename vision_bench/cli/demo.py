"""``vision-bench demo``: the skip-type analysis on the simulated DVS set, in minutes on a CPU."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from snn_core.cli import seed as seed_argument
from snn_core.errors import InputError
from snn_core.outputs import check_output
from vision_bench.cli._arguments import add_device_argument, with_device
from vision_bench.cli.analyze import REPORT_FILES, print_summary

# In a checkout the configuration lives in configs/ and data in datasets/ (docs/architecture.md);
# an installed wheel has neither, so data then goes to ./datasets and --config is needed.
REPOSITORY = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPOSITORY / "configs" / "vision_demo.toml"
DEMO_DATA = (REPOSITORY if (REPOSITORY / "pyproject.toml").is_file() else Path()) / "datasets" / "synthetic_dvs"

DESCRIPTION = f"""\
Run `vision-bench analyze` end to end on the simulated CIFAR10-DVS (10 classes of moving
shapes, real .aedat4 files read through tonic) with a small model: write the set once (kept in
DATA, reused while --per-class and --seed match), train the none / DSC / ASC / mixed variants as
SNNs and ANN twins, print the table and the verdict on each of the paper's claims, and write the
report to OUT. Sized to finish within 5 minutes on 2 CPU cores (it trains on one thread, which
stays fast when other processes share the machine).

Defaults: DATA {DEMO_DATA}, config {DEMO_CONFIG}."""

EPILOG = """\
exit status: 0 report written; 2 bad input (e.g. a configuration file that is missing or wrong).

examples:
  vision-bench demo
  vision-bench demo --out runs/demo2 --per-class 100"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the skip-type analysis on the simulated DVS set with a small model (minutes on a CPU)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs") / "vision-demo", metavar="DIR", help="output folder (default runs/vision-demo)"
    )
    parser.add_argument("--data", type=Path, default=DEMO_DATA, metavar="DIR", help="where the simulated set is written and kept")
    parser.add_argument(
        "--config", type=Path, default=DEMO_CONFIG, metavar="TOML", help="analysis configuration (default: the demo's)"
    )
    parser.add_argument(
        "--per-class", type=int, default=60, metavar="N", help="simulated recordings per class (default 60: 540 train, 60 test)"
    )
    parser.add_argument("--seed", type=seed_argument, default=0, metavar="K", help="seed of the simulated set (default 0)")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def ensure_synthetic_set(root: Path, per_class: int, seed: int) -> None:
    """Write the simulated set under ``root`` unless a set with these parameters is already there.

    A smaller set of the same seed is extended (sample i depends only on seed, class and i);
    a set of another seed, or a larger one, would leave foreign files in the set: refused.
    """
    from vision_bench.data import write_synthetic_cifar10dvs
    from vision_bench.data.datasets import CIFAR10DVS_FOLDER, SYNTHETIC_MANIFEST

    manifest = root / CIFAR10DVS_FOLDER / SYNTHETIC_MANIFEST
    try:
        written = json.loads(manifest.read_text())
    except (OSError, ValueError):
        written = {}
    if written.get("per_class") == per_class and written.get("seed") == seed:
        return
    if written and (written.get("seed") != seed or written.get("per_class", 0) > per_class):
        raise InputError(
            manifest, "per_class/seed", f"a set of at most {per_class} per class with seed {seed}; use another --data folder"
        )
    write_synthetic_cifar10dvs(root, per_class=per_class, seed=seed)


def run(args: argparse.Namespace) -> int:
    import torch

    from vision_bench.analysis import run_analysis
    from vision_bench.config import load_config

    # The demo's convolutions are small, so a second intra-op thread gains little (about 1.5x
    # alone) and, when another process holds a core, stalls at every parallel region: measured
    # 4 instead of 500 samples/s on 2 shared cores. One thread keeps the 5-minute budget.
    torch.set_num_threads(1)
    if not args.config.is_file():
        raise InputError(args.config, "config", "the demo configuration (configs/vision_demo.toml in a checkout); pass --config")
    config = with_device(load_config(args.config), args.device)
    check_output(args.out, "--out", [args.config], folder=True, contents=REPORT_FILES)
    check_output(args.data, "--data", [args.config], folder=True)
    ensure_synthetic_set(args.data, args.per_class, args.seed)
    report = run_analysis("synthetic", args.data, config, args.out)
    print_summary(report, args.out)
    return 0
