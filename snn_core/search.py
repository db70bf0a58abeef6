"""Skip-topology search: adjacency matrices as Optuna trials, Bayesian optimisation vs random.

Benmeziane et al. (2023) optimise the position, type and number of skips of each block and find
Bayesian optimisation better than random search, in fewer iterations and more stably (docs/data.md,
claims 3 and 4). Here every upper-triangle entry of every block is one categorical parameter with
choices 0 (none), 1 (DSC) and 2 (ASC), so the sampler sees all three decisions at once and every
topology counted by :func:`~snn_core.topology.search_space_size` can be drawn.

The objective takes a :class:`SkipTopology` and returns a score (e.g. validation R2 or accuracy):
the core knows nothing of what is trained on. It must be deterministic given the topology (seed
its training), because a topology suggested again reuses its first score instead of training
again. A trial fails, and the search goes on, when the objective returns NaN or raises one of
:data:`TRIAL_FAILURES` (training that diverged, a topology too large for memory); any other
exception, e.g. :class:`~snn_core.errors.InputError` for a bad setting, would fail every trial
alike and stops the search.

Studies live in an Optuna RDB storage: a SQLite file for one machine, a PostgreSQL or MySQL URL
when workers on several machines share one study. A rerun with the same storage and study name
resumes: completed trials are kept and only the missing ones run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import optuna
import sqlalchemy.exc
import torch
from optuna.trial import FrozenTrial, Trial, TrialState

from snn_core.errors import InputError
from snn_core.topology import ASC, DSC, NONE, SkipTopology

SAMPLERS = ("tpe", "gp", "random")
# Optuna's default of 10 random start-up trials would leave a model-based sampler only a few
# guided trials of the 10 to 30 that a search affords when each trial trains a network.
STARTUP_TRIALS = 5
TRIAL_FAILURES: tuple[type[Exception], ...] = (FloatingPointError, OverflowError, MemoryError, torch.OutOfMemoryError)
# A worker killed mid-trial (SIGKILL, lost machine) leaves its trial RUNNING forever; with a
# heartbeat, the next worker to start a trial marks it failed.
HEARTBEAT_SECONDS = 60


def suggest_topology(trial: Trial, layers_per_block: Sequence[int]) -> SkipTopology:
    """Draw a topology with one categorical parameter ``b{block}_{i}_{j}`` per upper-triangle entry.

    The text form is stored as the trial's user attribute ``"topology"``.
    """
    matrices = []
    for block, n in enumerate(layers_per_block):
        m = np.zeros((n, n), dtype=int)
        for i, j in zip(*np.triu_indices(n, k=1)):
            m[i, j] = trial.suggest_categorical(f"b{block}_{i}_{j}", (NONE, DSC, ASC))
        matrices.append(m)
    topology = SkipTopology(matrices)
    trial.set_user_attr("topology", str(topology))
    return topology


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """``"tpe"`` (multivariate TPE), ``"gp"`` (Gaussian-process BO) or ``"random"``, seeded.

    Raises:
        ValueError: for another name, listing the known ones.
    """
    if name == "tpe":
        # multivariate: the entries of one block interact (a DSC widens what later layers read)
        return optuna.samplers.TPESampler(multivariate=True, n_startup_trials=STARTUP_TRIALS, seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(n_startup_trials=STARTUP_TRIALS, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}")


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """Open (creating if needed) the Optuna RDB storage at ``url``.

    Raises:
        InputError: when the URL cannot be parsed, its database driver is missing, or the
            database cannot be opened.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as err:
        reason = str(err).splitlines()[0]
        raise InputError(url, "storage", f"an Optuna RDB URL that opens, e.g. sqlite:///search.db ({reason})") from None


def _check_resumed(study: optuna.Study, layers_per_block: Sequence[int]) -> None:
    """Keep a study to one search space: trials of other block sizes cannot be mixed in."""
    layers = [int(n) for n in layers_per_block]
    stored = study.user_attrs.get("layers_per_block")
    if stored is None:
        study.set_user_attr("layers_per_block", layers)
    elif stored != layers:
        raise InputError(
            f"study {study.study_name!r}", "layers_per_block", f"{stored} as stored, or a new study name; got {layers}"
        )


def run_search(
    objective: Callable[[SkipTopology], float],
    layers_per_block: Sequence[int],
    sampler: str = "tpe",
    n_trials: int = 20,
    seed: int = 0,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str = "skip-search",
    direction: str = "maximize",
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
) -> optuna.Study:
    """Search the skip topology maximising (or minimising) ``objective``; resumes a stored study.

    Args:
        objective: scores a topology (module docstring: determinism, failures).
        layers_per_block: block sizes; the study remembers them and refuses others.
        sampler: one of :data:`SAMPLERS`.
        n_trials: completed trials the study should hold in the end; a resumed study runs only
            the missing ones (each failure in this run uses one of them).
        seed: seeds the sampler, mixed with the number of trials already stored so that a
            resumed search continues rather than replaying its first suggestions.
        storage: an RDB URL (``sqlite:///FILE``, ``postgresql://...``, ``mysql://...``), an Optuna
            storage, or None for an in-memory study.
        study_name: the study within the storage.
        direction: ``"maximize"`` or ``"minimize"``.
        callbacks: called with (study, trial) after every trial, as in ``Study.optimize``.

    Returns:
        the study, with every trial's topology in its ``"topology"`` user attribute.

    Raises:
        ValueError: for an unknown sampler.
        InputError: for a storage that does not open or a stored study of other block sizes.
    """
    make_sampler(sampler, seed)  # an unknown name fails before the storage is touched
    if isinstance(storage, str):
        storage = open_storage(storage)
    study = optuna.create_study(storage=storage, study_name=study_name, direction=direction, load_if_exists=True)
    _check_resumed(study, layers_per_block)
    entropy = np.random.SeedSequence([seed, len(study.trials)]).generate_state(1)[0]
    study.sampler = make_sampler(sampler, int(entropy))

    def trial_objective(trial: Trial) -> float:
        topology = suggest_topology(trial, layers_per_block)
        for done in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if done.user_attrs.get("topology") == str(topology):
                trial.set_user_attr("repeat_of", done.number)
                return float(done.value)
        value = float(objective(topology))
        return value if math.isfinite(value) else math.nan  # NaN: Optuna records a failed trial

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if n_trials > done:
        study.optimize(
            trial_objective, n_trials=n_trials - done, catch=TRIAL_FAILURES,
            # with several workers on one study, all stop once it holds n_trials completed trials
            callbacks=[*callbacks, optuna.study.MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))],
        )
    return study


def best_so_far(study: optuna.Study) -> list[float]:
    """The best score after each completed trial, in trial order (for sampler comparisons)."""
    values = [t.value for t in sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)]
    if not values:
        return []
    running = np.minimum.accumulate if study.direction == optuna.study.StudyDirection.MINIMIZE else np.maximum.accumulate
    return [float(v) for v in running(np.asarray(values, dtype=float))]
