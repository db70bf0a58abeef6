"""The names and bounds that the core's settings accept, in a module that imports nothing heavy.

The command lines build every subcommand's parser, for ``--help`` too, from these; importing them
must not import torch, optuna or numba, which take seconds. The modules that act on the
names (:mod:`snn_core.config`, :mod:`snn_core.device`, :mod:`snn_core.search`, :mod:`snn_core.zero_cost`,
:mod:`snn_core.strategies`) import them from here.
"""

from __future__ import annotations

import re

SEED_MAX = 2**32 - 1
"""The largest seed: seeds go to ``numpy.random.default_rng`` and torch, and 32 bits is what every
seeded library accepts; a larger number would be silently folded or refused deep in a run."""

DEVICE_NAMES = "auto, cpu, cuda or cuda:N"
"""The device names :func:`snn_core.device.choose_device` takes, in words."""

DEVICE_HELP = f"{DEVICE_NAMES}; auto (the default) takes a CUDA GPU when one is visible, else the CPU"

SAMPLERS = ("tpe", "gp", "random")
"""The samplers compared with one another (claim 4)."""

# NSGA-II is Optuna's evolutionary multi-objective sampler (Deb et al. 2002); TPE, GP and random
# search take several objectives too.
SAMPLER_NAMES = (*SAMPLERS, "nsga2")
PRUNERS = ("none", "sha", "hyperband")

PROXIES = ("hamming", "naswot")
"""The zero-cost proxies (:func:`snn_core.zero_cost.score_topologies`): SNASNet's score on the SNN,
NASWOT's on its ANN twin."""

POPULATION_STRATEGIES = ("exhaustive", "zero-cost")
# ``sampler``: the Optuna sampler the search's sampler setting names (the default); a sampler's
# name is a strategy too
STRATEGY_NAMES = ("sampler", *SAMPLER_NAMES, *POPULATION_STRATEGIES)
DEFAULT_SEEDS = {"exhaustive": 3, "zero-cost": 1}
DEFAULT_TOP = 5  # at most the number of topologies ranked
PRECISIONS = ("float32", "bfloat16")
"""Population training's precisions (:class:`snn_core.strategies.Strategy`)."""

STRATEGY_SETTINGS = "strategy settings"
"""The source a refused strategy setting is named with (``strategy settings: top: expected ...``,
:func:`snn_core.strategies.check_strategy`); the command lines name their options instead."""


def is_device_name(name: object) -> bool:
    """True for the device names this project accepts (checked without looking at the hardware)."""
    return isinstance(name, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", name) is not None
