"""The frame both console scripts share: subcommand modules, and bad input as exit status 2.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` (taking the parsed arguments) on it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from snn_core.errors import InputError


def build_parser(prog: str, description: str, modules: Sequence[ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules:
        module.register(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand.

    An :class:`InputError` becomes one line on stderr and exit status 2 (argparse's own usage
    errors already exit 2), so no traceback ever reaches a user for bad input.
    """
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except InputError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
