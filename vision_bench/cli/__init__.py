"""``vision-bench``: the command line of the DVS vision benchmark."""

from __future__ import annotations

from collections.abc import Sequence

from snn_core import cli
from vision_bench.cli import analyze, demo, info, search, synth

COMMAND_MODULES: list = [synth, info, analyze, demo, search]

DESCRIPTION = (
    'Reproduce "Skip Connections in Spiking Neural Networks" (Benmeziane et al. 2023) '
    "on CIFAR10-DVS, DVS128 Gesture and a simulated DVS set."
)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(cli.build_parser("vision-bench", DESCRIPTION, COMMAND_MODULES), argv)
