"""The frame both console scripts share: subcommand modules, and bad input as exit status 2.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` (taking the parsed arguments) on it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from snn_core.errors import InputError, NoTrialCompleted


def build_parser(prog: str, description: str, modules: Sequence[ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules:
        module.register(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand.

    An :class:`InputError` becomes one line on stderr and exit status 2 (argparse's own usage
    errors already exit 2), so no traceback ever reaches a user for bad input. A search whose
    every trial failed (:class:`NoTrialCompleted`) exits 1, Ctrl-C 130, each with one line (a
    search's Ctrl-C says "interrupted; rerun to resume").
    """
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except InputError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except NoTrialCompleted as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        print(f"{parser.prog}: {err or 'interrupted'}", file=sys.stderr)
        return 130
