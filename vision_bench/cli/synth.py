"""``vision-bench synth``: write the simulated CIFAR10-DVS set as real ``.aedat4`` files."""

from __future__ import annotations

import argparse
from pathlib import Path

from snn_core.cli import seed as seed_argument
from snn_core.outputs import check_output
from vision_bench.names import SYNTHETIC_DIFFICULTIES, SYNTHETIC_STEP_US, SYNTHETIC_STEPS

DESCRIPTION = f"""\
Write a simulated CIFAR10-DVS: ten classes of bright shapes sweeping across a 128 x 128 DVS,
each class with its own shape (and, unless --difficulty hard, its own direction), as AEDAT 4.0
files (dv-processing's MonoCameraWriter) in CIFAR10-DVS's own layout

  ROOT/CIFAR10DVS/<class>/cifar10_<class>_<i>.aedat4   (airplane ... truck)

so that tonic.datasets.CIFAR10DVS(save_to=ROOT) reads it like the real set. Each recording
lasts {SYNTHETIC_STEPS * SYNTHETIC_STEP_US / 1e6:g} s on an absolute microsecond clock (about 1.6e15, as the real
files) and holds a few thousand to about 12,000 events. Sample i of a class depends only on
(seed, class, i). Files are written through a temporary file and a rename."""

EPILOG = """\
exit status: 0 written; 2 bad input (e.g. --per-class 0, dv-processing missing,
a ROOT that cannot be written).

examples:
  vision-bench synth data/sim
  vision-bench synth data/sim --per-class 100 --seed 3
  vision-bench synth data/hard --per-class 100 --difficulty hard
  vision-bench info --dataset synthetic --root data/sim"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write the simulated CIFAR10-DVS set (real .aedat4 files, CIFAR10-DVS layout)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", type=Path, metavar="ROOT", help="data root; files go to ROOT/CIFAR10DVS/<class>/")
    parser.add_argument("--per-class", type=int, default=20, metavar="N", help="recordings per class (default 20)")
    parser.add_argument("--seed", type=seed_argument, default=0, metavar="K", help="seed of every random choice (default 0)")
    parser.add_argument(
        "--difficulty",
        choices=SYNTHETIC_DIFFICULTIES,
        default="easy",
        help="easy (default): each class its own shape and direction, little noise; "
        "hard: the shape alone, smaller, in more background noise",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vision_bench.data.datasets import CIFAR10DVS_FOLDER
    from vision_bench.data.synthetic import write_synthetic_cifar10dvs

    for folder in (args.root, args.root / CIFAR10DVS_FOLDER):  # ROOT as typed first, in the message
        check_output(folder, "ROOT", folder=True)
    written = write_synthetic_cifar10dvs(args.root, per_class=args.per_class, seed=args.seed, difficulty=args.difficulty)
    counts = written.event_counts
    print(
        f"wrote {len(written.files)} recordings ({args.per_class} per class, seed {args.seed}, {args.difficulty}) to "
        f"{args.root / 'CIFAR10DVS'}; events per recording: mean {counts.mean():.0f}, "
        f"min {counts.min()}, max {counts.max()}"
    )
    return 0
