"""Arguments that several vision-bench subcommands share."""

from __future__ import annotations

import argparse
from pathlib import Path

from vision_bench.data import DATASETS


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dataset`` and ``--root``: which data set, and where it lies on disk."""
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="which data set lies under ROOT")
    parser.add_argument("--root", required=True, type=Path, metavar="DIR", help="the data root (tonic's save_to)")
