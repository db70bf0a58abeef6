"""Arguments that several bmi-decoder subcommands share."""

from __future__ import annotations

import argparse

from snn_core.device import DEVICE_HELP


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``: where every trainable decoder (snn, ann, gru) of the run trains."""
    parser.add_argument(
        "--device",
        metavar="DEVICE",
        help=f"device of every trainable decoder (snn, ann, gru), overriding the config's: {DEVICE_HELP}",
    )
