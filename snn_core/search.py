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
resumes: completed trials are kept and only the missing ones run. A study records the settings
that make its scores comparable (:func:`bind_study`, one user attribute per setting), and a
resume with other settings is refused. Ctrl-C stops a search with :class:`SearchInterrupted`:
the interrupted trial is marked failed, the completed ones are kept, and the same call resumes.

The frontends' search commands share the rest here too: the default storage
(:func:`default_storage`), the URL as shown with its password masked (:func:`shown_url`), the
per-trial line (:func:`trial_printer`) and the command-line checks (:func:`check_options`).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import optuna
import sqlalchemy.exc
import torch
from optuna.trial import FrozenTrial, Trial, TrialState

from snn_core.errors import InputError, NoTrialCompleted
from snn_core.topology import ASC, DSC, NONE, SkipTopology

__all__ = [  # NoTrialCompleted lives in snn_core.errors; searches raise it, so it is offered here too
    "SAMPLERS",
    "STARTUP_TRIALS",
    "TRIAL_FAILURES",
    "NoTrialCompleted",
    "SearchInterrupted",
    "StudyOutcome",
    "best_so_far",
    "bind_study",
    "check_options",
    "default_storage",
    "make_sampler",
    "open_storage",
    "resumable",
    "run_search",
    "shown_url",
    "storage_label",
    "suggest_topology",
    "trial_printer",
]

SAMPLERS = ("tpe", "gp", "random")
# Optuna's default of 10 random start-up trials would leave a model-based sampler only a few
# guided trials of the 10 to 30 that a search affords when each trial trains a network.
STARTUP_TRIALS = 5
TRIAL_FAILURES: tuple[type[Exception], ...] = (FloatingPointError, OverflowError, MemoryError, torch.OutOfMemoryError)
# A worker killed mid-trial (SIGKILL, lost machine) leaves its trial RUNNING forever; with a
# heartbeat, the next worker to start a trial marks it failed.
HEARTBEAT_SECONDS = 60
RESUME_HINT = "the same as stored to resume the study (or a new study name or storage)"


@dataclass(frozen=True)
class StudyOutcome:
    """What a frontend's search result reports of a study; the frontends' result types extend it.

    Attributes:
        study: the study's name.
        trials: one record per trial, in trial order (the frontend's type).
        best_so_far: the best score after each completed trial (:func:`best_so_far`).
        best_trial, best_topology: the best trial's number and topology.
    """

    study: str
    trials: tuple
    best_so_far: tuple[float, ...]
    best_trial: int
    best_topology: str


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search: completed trials are stored, and rerunning the search resumes it."""

    def __init__(self) -> None:
        super().__init__("interrupted; rerun to resume")


@contextmanager
def resumable() -> Iterator[None]:
    """Turn Ctrl-C inside the block into :class:`SearchInterrupted` (one line, no traceback)."""
    try:
        yield
    except SearchInterrupted:
        raise
    except KeyboardInterrupt:
        raise SearchInterrupted() from None


class _NoInterruptTraceback(logging.Filter):
    """Drops Optuna's "trial failed" warning, traceback included, for a Ctrl-C."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt))


def check_options(sampler: str, trials: int, allow_all: bool = False) -> list[str]:
    """The command-line checks of the search commands; returns the sampler names (``all``: every one).

    Raises:
        InputError: for an unknown ``--sampler`` or ``--trials`` below 1.
    """
    if allow_all and sampler == "all":
        return list(SAMPLERS)
    if sampler not in SAMPLERS:
        known = ", ".join(SAMPLERS) + (" or all" if allow_all else "")
        raise InputError("command line", "--sampler", f"one of {known}, got {sampler!r}")
    if trials < 1:
        raise InputError("command line", "--trials", f"at least 1, got {trials}")
    return [sampler]


def default_storage(out: str | Path) -> str:
    """The default storage of a search writing to folder ``out``: the SQLite file ``out/search.db``."""
    return f"sqlite:///{(Path(out) / 'search.db').resolve()}"


def shown_url(url: str) -> str:
    """``url`` with any password masked, for printing, reports and error messages."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return url  # not a URL: no password in it to hide


def storage_label(storage: str | optuna.storages.BaseStorage | None) -> str:
    """How ``storage`` is named in messages: its URL, password masked, or ``in-memory storage``."""
    url = storage if isinstance(storage, str) else getattr(storage, "url", None)
    return shown_url(url) if isinstance(url, str) else "in-memory storage"


def trial_printer(
    metric: str,
    label: Callable[[optuna.Study], str] = lambda study: "",
    file: TextIO | None = None,
) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A :func:`run_search` callback printing one line per finished trial.

    The line holds ``label(study)``, the trial, its topology, its score as ``metric`` (e.g.
    ``"validation R2"``) and the best so far; a repeated topology names the trial it repeats.
    """

    def print_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        head = f"{label(study)}trial {trial.number:3d}  {trial.user_attrs.get('topology', '?')}"
        if trial.state != TrialState.COMPLETE:
            line = f"{head}  {trial.state.name.lower()}"
        else:
            repeat = f"  (as trial {trial.user_attrs['repeat_of']})" if "repeat_of" in trial.user_attrs else ""
            best = study.best_trial
            line = f"{head}  {metric} {trial.value:.3f}{repeat}  best {best.value:.3f} ({best.user_attrs['topology']})"
        print(line, file=file if file is not None else sys.stdout, flush=True)

    return print_trial


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
        raise InputError(
            shown_url(url), "storage", f"an Optuna RDB URL that opens, e.g. sqlite:///search.db ({reason})"
        ) from None


def _differing(key: str, stored: Any, wanted: Any) -> str:
    """The field named in a refusal: the differing keys of a table, else the setting itself."""
    if isinstance(stored, dict) and isinstance(wanted, dict):
        return ", ".join(k for k in {**wanted, **stored} if stored.get(k) != wanted.get(k))
    return key


def bind_study(
    storage: optuna.storages.BaseStorage | None,
    study_name: str,
    settings: Mapping[str, Any],
    direction: str = "maximize",
) -> optuna.Study:
    """Open (creating if needed) a study tied to ``settings``: the one identity check of every search.

    Each setting is stored as a user attribute of the study (as JSON: tuples become lists) when
    the study first sees it; a later run must pass the same value, so that the scores of its
    trials stay comparable with the stored ones.

    Raises:
        InputError: naming the storage, the study and the differing field (for a table, its
            differing keys) when a stored setting differs.
    """
    settings = json.loads(json.dumps(dict(settings)))
    study = optuna.create_study(storage=storage, study_name=study_name, direction=direction, load_if_exists=True)
    stored = study.user_attrs
    differ = [_differing(k, stored[k], v) for k, v in settings.items() if k in stored and stored[k] != v]
    if differ:
        raise InputError(f"{storage_label(storage)}, study {study_name!r}", ", ".join(differ), RESUME_HINT)
    for key, value in settings.items():
        if key not in stored:
            study.set_user_attr(key, value)
    return study


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
    settings: Mapping[str, Any] | None = None,
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
        settings: what else the scores depend on (data, training settings), bound to the study
            with ``layers_per_block`` by :func:`bind_study`.

    Returns:
        the study, with every trial's topology in its ``"topology"`` user attribute.

    Raises:
        ValueError: for an unknown sampler.
        InputError: for a storage that does not open or a stored study of other block sizes
            or settings.
        SearchInterrupted: on Ctrl-C; the completed trials are stored.
    """
    make_sampler(sampler, seed)  # an unknown name fails before the storage is touched
    if isinstance(storage, str):
        storage = open_storage(storage)
    layers = [int(n) for n in layers_per_block]
    study = bind_study(storage, study_name, {**(settings or {}), "layers_per_block": layers}, direction)
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
        optimize_log, quiet = logging.getLogger("optuna.study._optimize"), _NoInterruptTraceback()
        optimize_log.addFilter(quiet)
        with resumable():
            try:
                study.optimize(
                    trial_objective,
                    n_trials=n_trials - done,
                    catch=TRIAL_FAILURES,
                    # with several workers on one study, all stop once it holds n_trials completed trials
                    callbacks=[*callbacks, optuna.study.MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))],
                )
            finally:
                optimize_log.removeFilter(quiet)
    return study


def best_so_far(study: optuna.Study) -> list[float]:
    """The best score after each completed trial, in trial order (for sampler comparisons)."""
    values = [t.value for t in sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)]
    if not values:
        return []
    running = np.minimum.accumulate if study.direction == optuna.study.StudyDirection.MINIMIZE else np.maximum.accumulate
    return [float(v) for v in running(np.asarray(values, dtype=float))]
