"""``--help`` of both console scripts, and of every subcommand, imports nothing heavy.

Building the parsers imports every subcommand module, so one of them importing torch at the top
makes every ``--help`` (and every typo answered with a usage line) take seconds. The option
choices come from torch-free modules (``snn_core.names``, ``bmi_decoder.names``,
``vision_bench.names``); the commands import the heavy libraries when they run. Nothing here is
timed: the test checks what was imported, in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bmi_decoder import names

ROOT = Path(__file__).resolve().parents[1]
FRONTENDS = ("bmi_decoder.cli", "vision_bench.cli")
# what takes seconds to import; numpy too, about a second on a loaded 2-core machine
HEAVY = ("torch", "optuna", "numba", "numpy", "scipy", "h5py", "pynwb", "tonic", "matplotlib", "sqlalchemy", "pylsl")

DRIVER = textwrap.dedent(
    """
    import argparse, contextlib, importlib, io, json, sys

    from snn_core import cli

    frontend = importlib.import_module(sys.argv[1])
    heavy = sys.argv[2].split(",")
    modules = [importlib.import_module(name) for name in frontend.COMMAND_MODULES]
    parser = cli.build_parser("prog", "", modules)
    (commands,) = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    runs = []
    for argv in [["--help"], *([command, "--help"] for command in commands)]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                status = frontend.main(argv)
            except SystemExit as done:
                status = done.code
        imported = [name for name in heavy if name in sys.modules]
        runs.append({"argv": argv, "status": status, "usage": out.getvalue().startswith("usage:"), "heavy": imported})
    print(json.dumps(runs))
    """
)


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_help_of_every_command_imports_nothing_heavy(frontend):
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, frontend, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = json.loads(result.stdout)
    assert len(runs) > 2, runs  # the top level and its subcommands
    for run in runs:
        assert run["status"] == 0 and run["usage"], run
        assert not run["heavy"], f"{' '.join(run['argv'])} imported {run['heavy']}"


def test_the_names_help_offers_are_the_registries_names():
    from bmi_decoder.decoders import DECODERS
    from bmi_decoder.recalibration import METHODS

    assert tuple(DECODERS) == names.DECODER_NAMES
    assert tuple(METHODS) == names.RECALIBRATION_METHODS
