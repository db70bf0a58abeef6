"""The frame both console scripts share: subcommand modules, bad input as exit status 2, Ctrl-C as 130.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` (taking the parsed arguments) on it. A subcommand module imports nothing
heavy at its top: its option choices come from the torch-free ``names`` modules
(:mod:`snn_core.names`, ``bmi_decoder.names``, ``vision_bench.names``) and its ``func`` imports
torch, optuna or the file readers when it runs, so every ``--help`` answers at once
(``tests/test_cli_help.py``). :func:`console` is what the console scripts call: it imports those
modules only once Ctrl-C is handled, so an interrupt during start-up is one line too, never an
import traceback. This module itself must therefore import nothing heavy either.

The core names the settings it refuses (``strategy settings: top``); :func:`command_line_error`
and :func:`checked_search` name the options instead (``command line: --top``).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, NoReturn

from snn_core.errors import InputError, NoTrialCompleted
from snn_core.names import DEFAULT_SEEDS, DEFAULT_TOP, PRECISIONS, PROXIES, SEED_MAX, STRATEGY_SETTINGS

if TYPE_CHECKING:
    from snn_core.search import SearchRequest
    from snn_core.strategies import Strategy

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


STRATEGY_OPTIONS = {
    **SEARCH_OPTIONS,
    "strategy": "--strategy",
    "seeds": "--seeds",
    "top": "--top",
    "proxy": "--proxy",
    "topologies": "--topologies",
    "precision": "--precision",
    "memory_gb": "--memory-gb",
}
"""The options :func:`add_strategy_arguments` adds (and the sampler's), by the setting of
:func:`snn_core.strategies.check_strategy` they give."""


def add_strategy_arguments(parser: argparse.ArgumentParser, score: str) -> None:
    """``--strategy`` and the population strategies' options, on a search command's ``parser``;
    ``score`` names its validation score in the help (e.g. ``"validation R2"``)."""
    group = parser.add_argument_group("strategies (--strategy exhaustive or zero-cost: population training)")
    group.add_argument(
        "--strategy",
        default="sampler",
        metavar="NAME",
        help="sampler (default: Optuna with --sampler), a sampler's name, exhaustive (train every topology, "
        f"--seeds each, pick the best mean {score}) or zero-cost (rank every topology untrained, train the --top K)",
    )
    seeds = ", ".join(f"{count} {name}" for name, count in DEFAULT_SEEDS.items())
    group.add_argument("--seeds", type=int, metavar="K", help=f"seeds per trained topology (default {seeds})")
    group.add_argument("--top", type=int, metavar="K", help=f"zero-cost: topologies trained (default {DEFAULT_TOP})")
    group.add_argument("--proxy", metavar="NAME", help=f"zero-cost: the ranking, one of {', '.join(PROXIES)} (default hamming)")
    group.add_argument(
        "--topologies", metavar="LIST|FILE", help="only these topologies: comma-separated, or a file with one per line"
    )
    group.add_argument("--precision", metavar="P", help=f"population training in {' or '.join(PRECISIONS)} (default float32)")
    group.add_argument("--memory-gb", type=float, metavar="GB", help="about the memory one population may use (default 2)")


def strategy_from_args(args: argparse.Namespace, sampler_options: Mapping[str, object]) -> tuple[Strategy | None, str | None]:
    """:func:`snn_core.strategies.check_strategy` on the options :func:`add_strategy_arguments`
    added to ``args``; ``sampler_options``: the sampler strategy's other options by setting, e.g.
    ``{"trials": args.trials}``. Its refusals name the options (:func:`command_line_error`)."""
    from snn_core.strategies import check_strategy  # numpy; the parser is built without it

    return check_strategy(
        args.strategy,
        seeds=args.seeds,
        top=args.top,
        proxy=args.proxy,
        topologies=args.topologies,
        precision=args.precision,
        memory_gb=args.memory_gb,
        sampler=args.sampler,
        sampler_options=sampler_options,
    )


def command_line_error(err: InputError) -> InputError:
    """``err`` as the command line says it: a refused strategy setting (``strategy settings:
    top``, from :mod:`snn_core.strategies`, however deep in a search) names its option
    (``command line: --top``); any other error is returned as it is."""
    if err.source == STRATEGY_SETTINGS and err.field in STRATEGY_OPTIONS:
        return InputError("command line", STRATEGY_OPTIONS[err.field], err.expected)
    return err


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
        print(f"{parser.prog}: error: {command_line_error(err)}", file=sys.stderr)
        return 2
    except NoTrialCompleted as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return _interrupted(parser.prog)


def console(prog: str, description: str, module_names: Sequence[str], argv: Sequence[str] | None = None) -> int:
    """The console script ``prog``: import its subcommand modules, then :func:`run` the command.

    Ctrl-C while the modules import is handled like Ctrl-C in a command: one line on stderr and
    exit status 130. Run as a program (``argv`` None), later Ctrl-Cs are ignored once the first
    is reported, so that one pressed again while the interpreter shuts down (joining worker
    threads, flushing files) adds no traceback to that line.

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
