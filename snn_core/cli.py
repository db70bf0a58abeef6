"""The frame both console scripts share: subcommand modules, bad input as exit status 2, Ctrl-C as 130.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` (taking the parsed arguments) on it. :func:`console` is what the console
scripts call: it imports those modules (and with them torch) only once Ctrl-C is handled, so an
interrupt during start-up is one line too, never an import traceback. This module itself must
therefore import nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, NoReturn

from snn_core.config import SEED_MAX
from snn_core.errors import InputError, NoTrialCompleted

if TYPE_CHECKING:
    from snn_core.search import SearchRequest

INTERRUPTED = "interrupted; rerun to resume"
"""What Ctrl-C prints after the program name: searches and training resume when rerun."""

INTERRUPTED_STATUS = 130
"""The exit status of an interrupted command: 128 + SIGINT, as shells report it."""


class OneLineParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose usage errors are one line on stderr, exit 2.

    argparse prints the whole usage block before the error; the project's contract for bad input
    is one line naming the option and what was expected (``PROG COMMAND: error: argument
    --channels: invalid choice: 7 (choose from 96, 192)``). ``--help`` still shows the usage.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def seed(text: str) -> int:
    """argparse ``type`` of a ``--seed`` option: an integer in [0, 2**32 - 1]."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, {SEED_MAX}], got {text!r}")
    return value


SEARCH_OPTIONS = {
    "sampler": "--sampler",
    "trials": "--trials",
    "pruner": "--pruner",
    "workers": "--workers",
    "objectives": "--objectives",
}
"""The search commands' options, by the :class:`~snn_core.search.SearchRequest` field they set."""


def checked_search(request: SearchRequest) -> SearchRequest:
    """``request.check()``, its refusals naming the search commands' options (``--trials``) and
    the command line, where the core names its fields (``trials``)."""
    try:
        return request.check()
    except InputError as err:
        raise InputError("command line", SEARCH_OPTIONS.get(err.field, err.field), err.expected) from None


def build_parser(prog: str, description: str, modules: Sequence[ModuleType]) -> argparse.ArgumentParser:
    parser = OneLineParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    for module in modules:
        module.register(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand.

    An :class:`InputError` becomes one line on stderr and exit status 2 (argparse's own usage
    errors already exit 2), so no traceback ever reaches a user for bad input. A search whose
    every trial failed (:class:`NoTrialCompleted`) exits 1, Ctrl-C 130, each with one line
    (Ctrl-C: ``PROG: interrupted; rerun to resume``).
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
    except KeyboardInterrupt:
        return _interrupted(parser.prog)


def console(prog: str, description: str, module_names: Sequence[str], argv: Sequence[str] | None = None) -> int:
    """The console script ``prog``: import its subcommand modules, then :func:`run` the command.

    Ctrl-C while the modules import (torch takes seconds) is handled like Ctrl-C in a command:
    one line on stderr and exit status 130. Run as a program (``argv`` None), later Ctrl-Cs are
    ignored once the first is reported, so that one pressed again while the interpreter shuts
    down (joining worker threads, flushing files) adds no traceback to that line.

    Args:
        prog: the program name, for messages and ``--help``.
        description: the ``--help`` description.
        module_names: the subcommand modules, in ``--help`` order, imported here.
        argv: the arguments (None: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    try:
        modules = [importlib.import_module(name) for name in module_names]
        status = run(build_parser(prog, description, modules), argv)
    except KeyboardInterrupt:
        status = _interrupted(prog)
    if status == INTERRUPTED_STATUS and argv is None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return status


def _interrupted(prog: str) -> int:
    """Report Ctrl-C as one line on stderr; return its exit status."""
    print(f"{prog}: {INTERRUPTED}", file=sys.stderr)
    return INTERRUPTED_STATUS
