"""Samplers and pruners, given by name or as Optuna objects.

As Optuna's own ``get_storage(None | str | BaseStorage)`` takes a storage, :func:`make_sampler`
and :func:`make_pruner` take a name (the search commands' choices) or an Optuna object, which is
used as given: a sampler object keeps its own seed.
"""

from __future__ import annotations

import warnings

import optuna

from snn_core.names import PRUNERS, SAMPLER_NAMES, SAMPLERS

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "SAMPLER_NAMES",
    "STARTUP_TRIALS",
    "PrunerSpec",
    "SamplerSpec",
    "make_pruner",
    "make_sampler",
    "pruner_label",
    "prunes",
    "sampler_label",
]

# Optuna's default of 10 random start-up trials would leave a model-based sampler only a few
# guided trials of the 10 to 30 that a search affords when each trial trains a network.
STARTUP_TRIALS = 5

SamplerSpec = str | optuna.samplers.BaseSampler
PrunerSpec = str | optuna.pruners.BasePruner


def sampler_label(sampler: SamplerSpec) -> str:
    """How a sampler is named in reports and study names: its name, or its class's."""
    return sampler if isinstance(sampler, str) else type(sampler).__name__


def pruner_label(pruner: PrunerSpec) -> str:
    """How a pruner is named in reports: its name, or its class's."""
    return pruner if isinstance(pruner, str) else type(pruner).__name__


def make_sampler(sampler: SamplerSpec, seed: int) -> optuna.samplers.BaseSampler:
    """A sampler object as given, or by name, seeded: ``"tpe"`` (multivariate TPE), ``"gp"``
    (Gaussian-process BO), ``"random"`` or ``"nsga2"`` (NSGA-II); each takes one objective or
    several.

    Raises:
        ValueError: for another name, listing the known ones.
    """
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if sampler == "tpe":
            # multivariate: the entries of one block interact (a DSC widens what later layers read);
            # constant liar: with parallel workers, running trials count as bad so that two workers
            # do not draw the same topology (no effect on a lone worker)
            return optuna.samplers.TPESampler(multivariate=True, n_startup_trials=STARTUP_TRIALS, constant_liar=True, seed=seed)
        if sampler == "gp":
            return optuna.samplers.GPSampler(n_startup_trials=STARTUP_TRIALS, seed=seed)
        if sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if sampler == "nsga2":
            # a population of 50 (Optuna's default) would leave a 20 to 50-trial search random
            return optuna.samplers.NSGAIISampler(population_size=10, seed=seed)
    raise ValueError(f"unknown sampler {sampler!r}; expected one of {', '.join(SAMPLER_NAMES)}")


def make_pruner(pruner: PrunerSpec) -> optuna.pruners.BasePruner:
    """A pruner object as given, or by name: ``"none"``, ``"sha"`` (asynchronous successive
    halving, Li et al. 2020) or ``"hyperband"`` (Li et al. 2018), with Optuna's defaults: the
    resource is the epoch, the smallest budget is found from the first trials
    (``min_resource="auto"``) and the largest from the first completed trial
    (``max_resource="auto"``).

    Raises:
        ValueError: for another name, listing the known ones.
    """
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "sha":
        return optuna.pruners.SuccessiveHalvingPruner()
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    raise ValueError(f"unknown pruner {pruner!r}; expected one of {', '.join(PRUNERS)}")


def prunes(pruner: PrunerSpec) -> bool:
    """Whether ``pruner`` can stop a trial (anything but ``"none"`` or Optuna's ``NopPruner``)."""
    return not (pruner == "none" or isinstance(pruner, optuna.pruners.NopPruner))
