"""``bmi-decoder``: the command line of the reaching-decoder frontend.

The subcommand modules are imported by :func:`main`, not here, so that Ctrl-C while they import
is reported like any other Ctrl-C (:func:`snn_core.cli.console`). They import nothing heavy at
their top, so ``--help`` answers at once; each command imports torch and the rest when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from snn_core import cli

COMMAND_MODULES: list[str] = [
    f"bmi_decoder.cli.{name}"
    for name in (
        "demo",
        "evaluate",
        "evaluate_days",
        "train",
        "search",
        "replay",
        "rig",
        "stream",
        "export",
        "fetch",
        "synth",
        "convert",
        "info",
    )
]

DESCRIPTION = (
    "Decode cursor velocity from intracortical spike recordings (O'Doherty et al.) "
    "with skip-connected spiking networks and the standard baselines."
)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.console("bmi-decoder", DESCRIPTION, COMMAND_MODULES, argv)
