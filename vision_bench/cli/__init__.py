"""``vision-bench``: the command line of the DVS vision benchmark.

The subcommand modules are imported by :func:`main`, not here, so that Ctrl-C while they import
is reported like any other Ctrl-C (:func:`snn_core.cli.console`). They import nothing heavy at
their top, so ``--help`` answers at once; each command imports torch and the rest when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from snn_core import cli

COMMAND_MODULES: list[str] = [f"vision_bench.cli.{name}" for name in ("synth", "info", "analyze", "demo", "search")]

DESCRIPTION = (
    'Reproduce "Skip Connections in Spiking Neural Networks" (Benmeziane et al. 2023) '
    "on CIFAR10-DVS, DVS128 Gesture and a simulated DVS set."
)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.console("vision-bench", DESCRIPTION, COMMAND_MODULES, argv)
