"""``vision-bench info``: check a data set on disk and describe it."""

from __future__ import annotations

import argparse
import json

from vision_bench.cli._arguments import add_dataset_arguments
from vision_bench.names import SPLIT_SCHEMES

DESCRIPTION = """\
Check a downloaded (or simulated) data set and print its classes, recordings per class, the
train and test sizes of its split, and the mean number of events per recording. Every
recording is read through tonic, so a wrong layout or an unreadable file is reported here.

Layouts (ROOT is tonic's save_to):
  cifar10dvs  ROOT/CIFAR10DVS/<class>/cifar10_<class>_<i>.aedat4  (CIFAR10DVS.zip extracted)
  synthetic   the same layout, written by `vision-bench synth ROOT`
  dvsgesture  ROOT/DVSGesture/ibmGestureTrain|ibmGestureTest/user<NN>_<lighting>/<label>.npy

Split schemes: cifar10dvs and synthetic "9:1" (default: first 90% of each class by sorted file
name, SpikingJelly's) or "tebn" (first 90% by file number: 900/100 on the real set);
dvsgesture "subjects" (the data set's own split by subject)."""

EPILOG = """\
With --json one object with exactly the keys classes (names in label order),
samples_per_class (name -> count), train, test, mean_events.

exit status: 0 the data set is complete and readable; 2 bad input (missing root, wrong layout,
unreadable file), with one line naming the file.

examples:
  vision-bench info --dataset synthetic --root data/sim
  vision-bench info --dataset cifar10dvs --root ~/data --split-scheme tebn --json"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="check a data set on disk: classes, split sizes, events per recording",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataset_arguments(parser)
    schemes = sorted({s for options in SPLIT_SCHEMES.values() for s in options})
    parser.add_argument(
        "--split-scheme",
        default=None,
        choices=schemes,
        help="train/test split to count (default: 9:1 for cifar10dvs and synthetic, subjects for dvsgesture)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vision_bench.data.summary import summarize

    summary = summarize(args.dataset, args.root, args.split_scheme, progress=not args.json)
    if args.json:
        print(json.dumps(summary))
        return 0
    width = max(len(name) for name in summary["classes"])
    print(f"{args.dataset} at {args.root}")
    for label, name in enumerate(summary["classes"]):
        print(f"  {label:2d} {name:<{width}}  {summary['samples_per_class'][name]:6d} recordings")
    print(f"train {summary['train']}, test {summary['test']}; mean {summary['mean_events']:.0f} events per recording")
    return 0
