"""The README is a front door: short, with every subcommand in its table and the test command
that `.ci/run` runs."""

import argparse
import importlib
import re
from pathlib import Path

import pytest

from bmi_decoder.cli import COMMAND_MODULES as BMI_COMMANDS
from vision_bench.cli import COMMAND_MODULES as VISION_COMMANDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README").with_suffix(".md").read_text(encoding="utf-8")


def test_the_readme_stays_short():
    assert len(README.splitlines()) <= 200


@pytest.mark.parametrize(("prog", "modules"), [("bmi-decoder", BMI_COMMANDS), ("vision-bench", VISION_COMMANDS)])
def test_every_subcommand_has_one_line_in_the_commands_table(prog, modules):
    subparsers = argparse.ArgumentParser(prog=prog).add_subparsers()
    for module in modules:
        importlib.import_module(module).register(subparsers)
    listed = re.findall(rf"^\| `{prog} ([\w-]+)", README, flags=re.MULTILINE)
    assert sorted(listed) == sorted(subparsers.choices)


def test_the_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    install_and_test = ci.replace("pip install -q ", "pip install ")
    assert install_and_test in README
