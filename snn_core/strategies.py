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
in an ordinary Optuna study; this module holds their settings and their checks. A refusal names
the setting (``top``, ``topologies``); the command lines name their options instead
(:func:`snn_core.cli.strategy_from_args`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from snn_core.errors import InputError
from snn_core.names import (
    DEFAULT_SEEDS,
    DEFAULT_TOP,
    POPULATION_STRATEGIES,
    PRECISIONS,
    PROXIES,
    STRATEGY_NAMES,
    STRATEGY_SETTINGS,
)
from snn_core.topology import SkipTopology

__all__ = [
    "DEFAULT_SEEDS",
    "DEFAULT_TOP",
    "POPULATION_STRATEGIES",
    "PRECISIONS",
    "STRATEGY_NAMES",
    "STRATEGY_SETTINGS",
    "Strategy",
    "all_topologies",
    "check_strategy",
]


@dataclass(frozen=True)
class Strategy:
    """A population strategy and its settings (the search commands' ``--strategy`` and its options).

    Attributes:
        name: ``"exhaustive"`` or ``"zero-cost"``.
        seeds: seeds per trained topology (the base seed and the next ones).
        top: zero-cost: how many of the best ranked topologies are trained (None: :data:`DEFAULT_TOP`).
        proxy: zero-cost: the ranking proxy, one of :data:`snn_core.zero_cost.PROXIES`.
        topologies: a subset of the space: topologies separated by commas, or a file with one
            per line (``#`` starts a comment); None: the whole space.
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
            InputError: ``topologies`` naming a missing file or a topology of other block
                sizes, or ``top`` above the number of candidates.
        """
        sizes = tuple(int(n) for n in layers_per_block)
        if self.topologies is None:
            found = all_topologies(sizes)
        else:
            found = _read_topologies(self.topologies, sizes)
        top = self.top_k(len(found))
        if self.name == "zero-cost" and top > len(found):
            raise InputError(STRATEGY_SETTINGS, "top", f"1 to {len(found)} (the topologies ranked), got {top}")
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
    """``topologies``: a file with one topology per line, else a comma-separated list."""
    path = Path(text)
    if path.is_file():
        items = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
        source = str(path)
    elif "/" in text or text.endswith(".txt"):
        raise InputError(text, "topologies", "an existing file with one topology per line")
    else:
        items, source = text.split(","), STRATEGY_SETTINGS
    found = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            topology = SkipTopology.from_string(item)
        except ValueError as err:
            raise InputError(source, "topologies", f"topologies in text form, e.g. {all_topologies(sizes)[0]} ({err})") from None
        if topology.layers_per_block != sizes:
            raise InputError(source, "topologies", f"topologies of blocks of {list(sizes)} layers, got {item!r}")
        if str(topology) not in found:
            found.append(str(topology))
    if not found:
        raise InputError(source, "topologies", "at least one topology")
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
    """The strategy named ``name`` with its settings, once they are possible together.

    Args:
        name: one of :data:`STRATEGY_NAMES`.
        seeds, top, proxy, topologies, precision, memory_gb: the population strategies' settings
            (None: not given).
        sampler: the sampler setting of a search (None: not given).
        sampler_options: the sampler strategy's other settings by name, e.g. ``{"trials": 20}``
            (None: not given); a population strategy refuses every one given.

    Returns:
        (the population strategy, None) or, for a sampler strategy, (None, the sampler named by
        ``name`` or ``sampler``, None when neither names one).

    Raises:
        InputError: from :data:`STRATEGY_SETTINGS`, naming the setting and what was expected.
    """
    population = {"seeds": seeds, "top": top, "proxy": proxy, "topologies": topologies}
    population.update({"precision": precision, "memory_gb": memory_gb})

    def refuse(field: str, expected: str) -> InputError:
        return InputError(STRATEGY_SETTINGS, field, expected)

    if name not in STRATEGY_NAMES:
        raise refuse("strategy", f"one of {', '.join(STRATEGY_NAMES)}, got {name!r}")
    if name not in POPULATION_STRATEGIES:
        for field, value in population.items():
            if value is not None:
                raise refuse(field, f"none with the {name} strategy (a setting of exhaustive and zero-cost)")
        if name != "sampler":
            if sampler is not None and sampler != name:
                raise refuse("sampler", f"{name} as the {name} strategy says, or none, got {sampler!r}")
            sampler = name
        return None, sampler
    for field, value in {"sampler": sampler, **sampler_options}.items():
        if value is not None:
            raise refuse(field, f"none with the {name} strategy (it trains the topologies it picks, with each seed)")
    if name == "exhaustive":
        for field in ("top", "proxy"):
            if population[field] is not None:
                raise refuse(field, "none with the exhaustive strategy (a setting of zero-cost)")
    if seeds is not None and seeds < 1:
        raise refuse("seeds", f"at least 1, got {seeds}")
    if top is not None and top < 1:
        raise refuse("top", f"at least 1 topology to train, got {top}")
    if proxy is not None and proxy not in PROXIES:
        raise refuse("proxy", f"one of {', '.join(PROXIES)}, got {proxy!r}")
    if precision is not None and precision not in PRECISIONS:
        raise refuse("precision", f"one of {', '.join(PRECISIONS)}, got {precision!r}")
    if memory_gb is not None and not (math.isfinite(memory_gb) and memory_gb > 0):
        raise refuse("memory_gb", f"a size in GB above 0, got {memory_gb}")
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
