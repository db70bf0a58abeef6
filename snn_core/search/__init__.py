"""Skip-topology search: adjacency matrices as Optuna trials, Bayesian optimisation vs random.

Benmeziane et al. (2023) optimise the position, type and number of skips of each block and find
Bayesian optimisation better than random search, in fewer iterations and more stably (docs/data.md,
claims 3 and 4). The package's parts:

- :mod:`~snn_core.search.space`: a topology as trial parameters (:func:`suggest_topology`);
- :mod:`~snn_core.search.factories`: samplers and pruners by name or as Optuna objects;
- :mod:`~snn_core.search.storage`: RDB storages and the settings a study is tied to
  (:func:`bind_study`);
- :mod:`~snn_core.search.request`: :class:`SearchRequest`, the settings of one search;
- :mod:`~snn_core.search.engine`: the trial loop shared by workers (:func:`run_search`,
  :func:`run_workers`), stopped by Ctrl-C and resumed;
- :mod:`~snn_core.search.results`: what a study reports (:func:`best_so_far`,
  :func:`pareto_front`, :func:`trial_printer`, :class:`StudyOutcome`).

Import the names from the package: ``from snn_core.search import SearchRequest, run_search``.
"""

from __future__ import annotations

from snn_core.errors import NoTrialCompleted
from snn_core.search.engine import (
    FINISHED,
    TRIAL_FAILURES,
    SearchInterrupted,
    resumable,
    run_search,
    run_workers,
    worker_name,
)
from snn_core.search.factories import (
    PRUNERS,
    SAMPLER_NAMES,
    SAMPLERS,
    STARTUP_TRIALS,
    make_pruner,
    make_sampler,
    pruner_label,
    sampler_label,
)
from snn_core.search.request import OBJECTIVES, SearchRequest, parse_objectives
from snn_core.search.results import StudyOutcome, best_so_far, pareto_front, trial_printer
from snn_core.search.space import suggest_topology, topology_params, trial_topology
from snn_core.search.storage import (
    HEARTBEAT_SECONDS,
    bind_study,
    default_storage,
    driver_url,
    open_storage,
    shown_url,
    storage_label,
)

__all__ = [  # NoTrialCompleted lives in snn_core.errors; searches raise it, so it is offered here too
    "FINISHED",
    "HEARTBEAT_SECONDS",
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "SAMPLER_NAMES",
    "STARTUP_TRIALS",
    "TRIAL_FAILURES",
    "NoTrialCompleted",
    "SearchInterrupted",
    "SearchRequest",
    "StudyOutcome",
    "best_so_far",
    "bind_study",
    "default_storage",
    "driver_url",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "parse_objectives",
    "pareto_front",
    "pruner_label",
    "resumable",
    "run_search",
    "run_workers",
    "sampler_label",
    "shown_url",
    "storage_label",
    "suggest_topology",
    "topology_params",
    "trial_topology",
    "trial_printer",
    "worker_name",
]
