"""Arguments that several vision-bench subcommands share."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from snn_core.names import DEVICE_HELP
from vision_bench.names import DATASETS

if TYPE_CHECKING:
    from vision_bench.config import AnalysisConfig


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dataset`` and ``--root``: which data set, and where it lies on disk."""
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="which data set lies under ROOT")
    parser.add_argument("--root", required=True, type=Path, metavar="DIR", help="the data root (tonic's save_to)")


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``: where every model of the run trains, overriding the config's [train] device."""
    parser.add_argument("--device", metavar="DEVICE", help=f"device to train on, overriding [train] device: {DEVICE_HELP}")


def with_device(config: AnalysisConfig, device: str | None) -> AnalysisConfig:
    """``config`` with the ``--device`` given, checked before any data is read (None: unchanged).

    Raises:
        InputError: for a name that is not a device, or a CUDA device this machine lacks.
    """
    from snn_core.device import choose_device

    if device is None:
        return config
    choose_device(device, "command line", "--device")
    return replace(config, train=replace(config.train, device=device))
