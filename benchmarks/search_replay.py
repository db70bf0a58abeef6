"""Searches replayed on a multi-seed topology table: what each strategy picks, and when.

Every topology of the tables' 4-layer block was trained at several seeds
(benchmarks/topology_table.py). A search is replayed by look-up, as a real one would run:

- a trial of a sampler (TPE, GP, random, NSGA-II) trains its topology once, at one seed drawn at
  random for that search and topology (:func:`observed_seed`; asking again for the same topology
  gives the same score, as a seeded study does), and the search picks the best score it saw;
- the exhaustive strategy (``--strategy exhaustive``) trains every topology in populations of
  :data:`CHUNK` at one seed, then the space again at the next seed, and so on, the seeds in an
  order drawn for the search; after each population it picks the best mean over the seeds seen;
- the zero-cost strategy (``--strategy zero-cost``) ranks the space at initialisation first, then
  trains the ranked topologies in populations of :data:`CHUNK` from the top, at one seed drawn
  for the search, and picks the best score seen.

What a pick is worth is read from the seed means, not from the lucky seed that chose it
(issue 19): :func:`quality` is the pick's seed-mean validation score, and its regret the gap to
the best seed mean of the table.

Time is wall seconds on the machine the costs were measured on (:class:`Costs`): a sampler's
trial costs one solo fit at the table's budget (scaled by the epochs it trained when a pruner
stops it) plus the sampler's own measured proposal time; a population costs its members' share of
the table build (the table's ``seconds`` column); the zero-cost ranking its measured seconds.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import optuna
from optuna.trial import TrialState
from table_rows import Row, seed_means

from snn_core.search import make_sampler, suggest_topology

CHUNK = 81  # topologies per population, as benchmarks/topology_table.py trains the BMI table
NSGA2_POPULATION = 10  # NSGA-II's generation: 100 trials make 10 generations


@dataclass(frozen=True)
class Table:
    """A topology table's rows per (topology, seed), and their seed means."""

    rows: dict[tuple[str, int], Row]

    @cached_property
    def means(self) -> dict[str, Row]:
        return seed_means(self.rows)

    @cached_property
    def seeds(self) -> list[int]:
        return sorted({s for _, s in self.rows})

    @cached_property
    def topologies(self) -> list[str]:
        return list(self.means)

    @cached_property
    def best_mean(self) -> float:
        return max(r.val_score for r in self.means.values())


@dataclass(frozen=True)
class Costs:
    """Wall seconds of the work a strategy does, on the machine they were measured on."""

    solo_fit: float  # one topology trained alone at the table's budget, with its validation
    population_member: float  # one (topology, seed) member of a population (the table's mean)
    ranking: float  # the zero-cost score of every topology of the space


@dataclass
class Replay:
    """One replayed search: after each event (a trial or a population), the seconds spent so far
    and the topology picked; for samplers also every trial's observed score (NaN: pruned) and the
    epochs trained."""

    times: list[float]
    picks: list[str]
    values: list[float] | None = None
    epochs: int | None = None


def observed_seed(seeds: list[int], search_seed: int, topology: str) -> int:
    """The table seed whose score a search of ``search_seed`` observes for ``topology``."""
    rng = np.random.default_rng([search_seed, zlib.crc32(topology.encode())])
    return seeds[int(rng.integers(len(seeds)))]


def sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """The search commands' samplers (:func:`snn_core.search.make_sampler`), plus ``"nsga2"``."""
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=NSGA2_POPULATION, seed=seed)
    return make_sampler(name, seed)


def pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """No pruning, successive halving or Hyperband over ``epochs`` (reduction factor 3, Optuna's default)."""
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    return optuna.pruners.NopPruner()


def sampler_search(table: Table, name: str, seed: int, trials: int, costs: Costs, pruner_name: str = "none") -> Replay:
    """A seeded study of ``trials`` trials with sampler ``name``; a trial reports its observed
    seed's validation curve epoch by epoch (so that a pruner can stop it)."""
    seeds, layers = table.seeds, [int(table.topologies[0].split("-")[0])]
    epochs = len(next(iter(table.rows.values())).val_per_epoch)
    used: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        topology = str(suggest_topology(trial, layers))
        row = table.rows[(topology, observed_seed(seeds, seed, topology))]
        for step, value in enumerate(row.val_per_epoch):
            trial.report(value, step)
            if pruner_name != "none" and step + 1 < epochs and trial.should_prune():
                used.append(step + 1)
                raise optuna.TrialPruned()
        used.append(epochs)
        return row.val_score

    ends = []
    study = optuna.create_study(direction="maximize", sampler=sampler(name, seed), pruner=pruner(pruner_name, epochs))
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, callbacks=[lambda *_: ends.append(time.perf_counter())])
    proposing = np.diff([start, *ends])  # the sampler's own seconds per trial (the look-up is free)
    spent = np.cumsum(proposing + costs.solo_fit * np.asarray(used) / epochs)
    values = [t.value if t.state == TrialState.COMPLETE else math.nan for t in study.trials]
    picks, best, pick = [], -math.inf, None
    for t, value in zip(study.trials, values):
        if not math.isnan(value) and value > best:  # the first of equal scores, as Optuna's best_trial
            best, pick = value, t.user_attrs["topology"]
        picks.append(pick)
    return Replay([float(s) for s in spent], picks, values, int(sum(used)))


def population_search(table: Table, seed: int, costs: Costs, ranking: list[str] | None = None) -> Replay:
    """Exhaustive (``ranking`` None: every topology, seed after seed) or zero-cost (topologies in
    ``ranking`` order, one seed) training by populations of :data:`CHUNK`, replayed."""
    rng = np.random.default_rng(seed)
    if ranking is None:
        passes = [(list(rng.permutation(table.topologies)), int(s)) for s in rng.permutation(table.seeds)]
        spent = 0.0
    else:
        passes = [(ranking, int(rng.choice(table.seeds)))]
        spent = costs.ranking
    observed: dict[str, list[float]] = {}
    times, picks = [], []
    for order, s in passes:
        for start in range(0, len(order), CHUNK):
            chunk = order[start : start + CHUNK]
            for topology in chunk:
                observed.setdefault(topology, []).append(table.rows[(topology, s)].val_score)
            spent += len(chunk) * costs.population_member
            times.append(spent)
            picks.append(max(observed, key=lambda t: np.mean(observed[t])))
    return Replay(times, picks)


def quality(table: Table, picks: list[str | None]) -> np.ndarray:
    """Each pick's seed-mean validation score (-inf before the first pick)."""
    means = table.means
    return np.array([means[p].val_score if p is not None else -np.inf for p in picks])


def quality_at(replay: Replay, table: Table, seconds: np.ndarray) -> np.ndarray:
    """The seed-mean validation score of the pick held at each of ``seconds`` (-inf: none yet)."""
    q = quality(table, replay.picks)
    index = np.searchsorted(np.asarray(replay.times), seconds, side="right") - 1
    return np.where(index >= 0, q[np.clip(index, 0, None)], -np.inf)


def time_to_within(replay: Replay, table: Table, tolerance: float) -> float:
    """Seconds until the pick's seed mean is within ``tolerance`` of the table's best seed mean
    (inf: not within the replay)."""
    hits = np.flatnonzero(quality(table, replay.picks) >= table.best_mean - tolerance - 1e-12)
    return float(replay.times[hits[0]]) if hits.size else math.inf
