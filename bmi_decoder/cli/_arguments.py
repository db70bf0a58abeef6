"""Arguments that several bmi-decoder subcommands share."""

from __future__ import annotations

import argparse

from snn_core.names import DEVICE_HELP

MIN_SPEED, MAX_SPEED = 1e-3, 1e6
"""Playback speeds (``rig``, ``replay``) that can work: below 1e-3 one 4 ms bin takes over a
minute (1e-300 overflows the wait); above 1e6 real-time pacing is the same as none."""


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``: where every trainable decoder (snn, ann, gru) of the run trains."""
    parser.add_argument(
        "--device",
        metavar="DEVICE",
        help=f"device of every trainable decoder (snn, ann, gru), overriding the config's: {DEVICE_HELP}",
    )
