"""``bmi-decoder``: the command line of the reaching-decoder frontend."""

from __future__ import annotations

from collections.abc import Sequence

from bmi_decoder.cli import convert, demo, evaluate, fetch, info, replay, search, synth, train
from snn_core import cli

COMMAND_MODULES: list = [demo, evaluate, train, search, replay, fetch, synth, convert, info]

DESCRIPTION = (
    "Decode cursor velocity from intracortical spike recordings (O'Doherty et al.) "
    "with skip-connected spiking networks and the standard baselines."
)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(cli.build_parser("bmi-decoder", DESCRIPTION, COMMAND_MODULES), argv)
