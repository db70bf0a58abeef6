"""Search strategies beside the Optuna samplers: exhaustive population training and zero-cost ranking.

:mod:`snn_core.search` draws one topology per trial with a sampler and trains it with one seed.
Population training (:mod:`snn_core.population_training`) trains hundreds of topologies of one
block as one batched model, in about the time of a few, which makes two other strategies cheap:

- ``exhaustive``: train every topology of the space (or a given subset), ``seeds`` times each,
  and pick the one of the best mean validation score over its seeds (a single seed's score is
  mostly noise on small budgets);
- ``zero-cost``: rank every topology at initialisation by a training-free score
  (:mod:`snn_core.zero_cost`: SNASNet's sparsity-aware Hamming score, or NASWOT on the ANN twin),
  then train only the ``top`` best ranked, ``seeds`` times each, and pick by mean validation score.

The strategies run on any frontend through :mod:`snn_core.strategy_runs`, which records them
in an ordinary Optuna study; this module holds their settings and the command-line checks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from snn_core.errors import InputError
from snn_core.search import SAMPLER_NAMES
from snn_core.topology import SkipTopology
from snn_core.zero_cost import PROXIES

__all__ = [
    "DEFAULT_SEEDS",
    "DEFAULT_TOP",
    "POPULATION_STRATEGIES",
    "PRECISIONS",
    "STRATEGY_NAMES",
    "Strategy",
    "add_strategy_arguments",
    "all_topologies",
    "check_strategy",
    "strategy_from_args",
]

POPULATION_STRATEGIES = ("exhaustive", "zero-cost")
# ``sampler``: the Optuna sampler named by --sampler (the default); a sampler's name is a strategy too
STRATEGY_NAMES = ("sampler", *SAMPLER_NAMES, *POPULATION_STRATEGIES)
DEFAULT_SEEDS = {"exhaustive": 3, "zero-cost": 1}
DEFAULT_TOP = 5  # at most the number of topologies ranked
PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class Strategy:
    """A population strategy and its settings (the command line's ``--strategy`` and its options).

    Attributes:
        name: ``"exhaustive"`` or ``"zero-cost"``.
        seeds: seeds per trained topology (the base seed and the next ones).
        top: zero-cost: how many of the best ranked topologies are trained (None: :data:`DEFAULT_TOP`).
        proxy: zero-cost: the ranking proxy, one of :data:`snn_core.zero_cost.PROXIES`.
        topologies: a subset of the space, as ``--topologies`` gives it: topologies separated by
            commas, or a file with one per line (``#`` starts a comment); None: the whole space.
        precision: population training's precision, ``"float32"`` or ``"bfloat16"``.
        memory_gb: about how much memory one population may take.
    """

    name: str
    seeds: int = 1
    top: int | None = None
    proxy: str = "hamming"
    topologies: str | None = None
    precision: str = "float32"
    memory_gb: float = 2.0

    def candidates(self, layers_per_block: Sequence[int]) -> list[str]:
        """The topologies the strategy considers, in the space's order (or the order given).

        Raises:
            InputError: ``--topologies`` naming a missing file or a topology of other block
                sizes, or ``--top`` above the number of candidates.
        """
        sizes = tuple(int(n) for n in layers_per_block)
        if self.topologies is None:
            found = all_topologies(sizes)
        else:
            found = _read_topologies(self.topologies, sizes)
        top = self.top_k(len(found))
        if self.name == "zero-cost" and top > len(found):
            raise InputError("command line", "--top", f"1 to {len(found)} (the topologies ranked), got {top}")
        return found

    def top_k(self, candidates: int) -> int:
        """The number of topologies zero-cost trains out of ``candidates``."""
        return self.top if self.top is not None else min(DEFAULT_TOP, candidates)

    def seed_list(self, base: int) -> list[int]:
        """The seeds each topology is trained with: ``base`` and the next ``seeds - 1``."""
        return [int(base) + k for k in range(self.seeds)]

    def settings(self, seeds: Sequence[int]) -> dict:
        """What a study of this strategy is bound to: what its trials' scores depend on. Which
        topologies it trains (``topologies``, ``top``, ``proxy``) is not bound: a rerun with a
        larger subset or ``top`` trains only the topologies not yet recorded."""
        return {"strategy": self.name, "seeds": list(seeds), "precision": self.precision}


def all_topologies(layers_per_block: Sequence[int]) -> list[str]:
    """Every topology of the space, in text form, in the order of their digits (``3-000``, ``3-001``, ...)."""
    entries = [n * (n - 1) // 2 for n in layers_per_block]
    found = []
    for digits in itertools.product("012", repeat=sum(entries)):
        groups, start = [], 0
        for n, count in zip(layers_per_block, entries):
            groups.append(f"{n}-{''.join(digits[start : start + count])}")
            start += count
        found.append("_".join(groups))
    return found


def _read_topologies(text: str, sizes: tuple[int, ...]) -> list[str]:
    """``--topologies``: a file with one topology per line, else a comma-separated list."""
    path = Path(text)
    if path.is_file():
        items = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
        source = str(path)
    elif "/" in text or text.endswith(".txt"):
        raise InputError(text, "--topologies", "an existing file with one topology per line")
    else:
        items, source = text.split(","), "command line"
    found = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            topology = SkipTopology.from_string(item)
        except ValueError as err:
            raise InputError(
                source, "--topologies", f"topologies in text form, e.g. {all_topologies(sizes)[0]} ({err})"
            ) from None
        if topology.layers_per_block != sizes:
            raise InputError(source, "--topologies", f"topologies of blocks of {list(sizes)} layers, got {item!r}")
        if str(topology) not in found:
            found.append(str(topology))
    if not found:
        raise InputError(source, "--topologies", "at least one topology")
    return found


def check_strategy(
    name: str,
    *,
    seeds: int | None,
    top: int | None,
    proxy: str | None,
    topologies: str | None,
    precision: str | None,
    memory_gb: float | None,
    sampler: str | None,
    sampler_options: Mapping[str, object],
) -> tuple[Strategy | None, str | None]:
    """The command-line checks of ``--strategy`` and its options.

    Args:
        name: ``--strategy``.
        seeds, top, proxy, topologies, precision, memory_gb: the population strategies' options
            (None: not given).
        sampler: ``--sampler`` (None: not given).
        sampler_options: the sampler strategy's other options by flag, e.g. ``{"--trials": 20}``
            (None: not given); a population strategy refuses every one given.

    Returns:
        (the population strategy, None) or, for a sampler strategy, (None, the sampler named by
        ``--strategy`` or ``--sampler``, None when neither names one).

    Raises:
        InputError: one line naming the option and what was expected.
    """
    population = {"--seeds": seeds, "--top": top, "--proxy": proxy, "--topologies": topologies}
    population.update({"--precision": precision, "--memory-gb": memory_gb})
    if name not in STRATEGY_NAMES:
        raise InputError("command line", "--strategy", f"one of {', '.join(STRATEGY_NAMES)}, got {name!r}")
    if name not in POPULATION_STRATEGIES:
        for flag, value in population.items():
            if value is not None:
                raise InputError(
                    "command line", flag, f"no {flag} with --strategy {name} (it is an option of exhaustive or zero-cost)"
                )
        if name != "sampler":
            if sampler is not None and sampler != name:
                raise InputError("command line", "--sampler", f"{name} as --strategy {name} says, or none, got {sampler!r}")
            sampler = name
        return None, sampler
    for flag, value in {"--sampler": sampler, **sampler_options}.items():
        if value is not None:
            raise InputError(
                "command line", flag, f"no {flag} with --strategy {name} (it trains the topologies it picks, --seeds each)"
            )
    if name == "exhaustive":
        for flag in ("--top", "--proxy"):
            if population[flag] is not None:
                raise InputError("command line", flag, f"no {flag} with --strategy exhaustive (it is an option of zero-cost)")
    if seeds is not None and seeds < 1:
        raise InputError("command line", "--seeds", f"at least 1, got {seeds}")
    if top is not None and top < 1:
        raise InputError("command line", "--top", f"at least 1 topology to train, got {top}")
    if proxy is not None and proxy not in PROXIES:
        raise InputError("command line", "--proxy", f"one of {', '.join(PROXIES)}, got {proxy!r}")
    if precision is not None and precision not in PRECISIONS:
        raise InputError("command line", "--precision", f"one of {', '.join(PRECISIONS)}, got {precision!r}")
    if memory_gb is not None and not (math.isfinite(memory_gb) and memory_gb > 0):
        raise InputError("command line", "--memory-gb", f"a size in GB above 0, got {memory_gb}")
    strategy = Strategy(
        name,
        seeds if seeds is not None else DEFAULT_SEEDS[name],
        top,
        proxy or "hamming",
        topologies,
        precision or "float32",
        memory_gb if memory_gb is not None else 2.0,
    )
    return strategy, None


def add_strategy_arguments(parser, score: str) -> None:
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
    group.add_argument("--seeds", type=int, metavar="K", help="seeds per trained topology (default 3 exhaustive, 1 zero-cost)")
    group.add_argument("--top", type=int, metavar="K", help=f"zero-cost: topologies trained (default {DEFAULT_TOP})")
    group.add_argument("--proxy", metavar="NAME", help=f"zero-cost: the ranking, one of {', '.join(PROXIES)} (default hamming)")
    group.add_argument(
        "--topologies", metavar="LIST|FILE", help="only these topologies: comma-separated, or a file with one per line"
    )
    group.add_argument("--precision", metavar="P", help=f"population training in {' or '.join(PRECISIONS)} (default float32)")
    group.add_argument("--memory-gb", type=float, metavar="GB", help="about the memory one population may use (default 2)")


def strategy_from_args(args, sampler_options: Mapping[str, object]) -> tuple[Strategy | None, str | None]:
    """:func:`check_strategy` on the options :func:`add_strategy_arguments` added to ``args``."""
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
