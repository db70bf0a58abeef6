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

Every trial reports its validation score after each epoch (:func:`snn_core.training.epoch_listener`,
``trial.report``), so a pruner (:data:`PRUNERS`: Optuna's successive halving or Hyperband) can stop
a poor trial early; it is recorded as PRUNED, counts as one of the study's trials, is never
reused as a completed score, and a topology suggested again after it was pruned is pruned again
without training. With several objectives (score and a cost, :func:`run_search`'s
``direction``) the study is multi-objective: its Pareto front is Optuna's ``best_trials``, and
there is no pruning (Optuna's pruners take one score).

Studies live in an Optuna RDB storage: a SQLite file for one machine, a PostgreSQL or MySQL URL
when workers on several machines share one study. Several workers (processes on one machine,
:func:`run_workers`, or runs on other machines) run one study together: each trial records its
worker (``host:pid``), a heartbeat marks a killed worker's trial failed and queues it again
(``RetryHeartbeatStaleTrialCallback``), a topology another worker is training is waited for and its
score reused instead of being trained twice, and a worker starts a trial only while the study
lacks one, so the study ends with exactly the requested number. A rerun with the same storage
and study name resumes: finished trials are kept and only the missing ones run. A study records the settings
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
import multiprocessing
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
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
from snn_core.training import epoch_listener

__all__ = [  # NoTrialCompleted lives in snn_core.errors; searches raise it, so it is offered here too
    "FINISHED",
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "SAMPLER_NAMES",
    "STARTUP_TRIALS",
    "TRIAL_FAILURES",
    "NoTrialCompleted",
    "SearchInterrupted",
    "StudyOutcome",
    "best_so_far",
    "bind_study",
    "check_objectives",
    "check_options",
    "default_storage",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "pareto_front",
    "resumable",
    "run_search",
    "run_workers",
    "shown_url",
    "storage_label",
    "suggest_topology",
    "trial_printer",
]

SAMPLERS = ("tpe", "gp", "random")  # the ones compared (claim 4; ``--sampler all``)
# NSGA-II is Optuna's evolutionary multi-objective sampler (Deb et al. 2002); TPE, GP and random
# search take several objectives too.
SAMPLER_NAMES = (*SAMPLERS, "nsga2")
PRUNERS = ("none", "sha", "hyperband")
# What a search can optimise: the validation score, and with it one cost per step of the trained
# model (snn_core.metrics: energy in pJ of its effective operations, or those operations).
OBJECTIVES = {"score": "maximize", "energy": "minimize", "synops": "minimize"}
# A pruned trial finished too: it holds one of the study's trials (it ran, and the sampler learns
# from its last reported score), but it has no score to reuse.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Optuna's default of 10 random start-up trials would leave a model-based sampler only a few
# guided trials of the 10 to 30 that a search affords when each trial trains a network.
STARTUP_TRIALS = 5
TRIAL_FAILURES: tuple[type[Exception], ...] = (FloatingPointError, OverflowError, MemoryError, torch.OutOfMemoryError)
# A worker killed mid-trial (SIGKILL, lost machine) leaves its trial RUNNING forever; with a
# heartbeat, the next worker to start a trial marks it failed.
HEARTBEAT_SECONDS = 60
# A trial killed again and again (e.g. by the kernel's out-of-memory killer) is not queued forever.
MAX_RETRY = 2
# How often a worker waiting for another worker's trial looks at the study again.
POLL_SECONDS = 0.5
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


def check_options(
    sampler: str, trials: int, allow_all: bool = False, pruner: str = "none", workers: int = 1, objectives: int = 1
) -> list[str]:
    """The command-line checks of the search commands; returns the sampler names (``all``: the
    compared ones, :data:`SAMPLERS`).

    Raises:
        InputError: for an unknown ``--sampler`` or ``--pruner``, ``--trials`` or ``--workers``
            below 1, or a pruner with several objectives.
    """
    if trials < 1:
        raise InputError("command line", "--trials", f"at least 1, got {trials}")
    if workers < 1:
        raise InputError("command line", "--workers", f"at least 1, got {workers}")
    if pruner not in PRUNERS:
        raise InputError("command line", "--pruner", f"one of {', '.join(PRUNERS)}, got {pruner!r}")
    if pruner != "none" and objectives > 1:
        raise InputError("command line", "--pruner", "none with several --objectives (Optuna prunes on one score)")
    if allow_all and sampler == "all":
        return list(SAMPLERS)
    if sampler not in SAMPLER_NAMES:
        known = ", ".join(SAMPLER_NAMES) + (" or all" if allow_all else "")
        raise InputError("command line", "--sampler", f"one of {known}, got {sampler!r}")
    return [sampler]


def check_objectives(text: str) -> tuple[str, ...]:
    """``--objectives``: ``score``, or the score and one cost, ``score,energy`` or ``score,synops``.

    Raises:
        InputError: for anything else.
    """
    names = tuple(name.strip() for name in text.split(","))
    if names not in (("score",), *(("score", cost) for cost in OBJECTIVES if cost != "score")):
        raise InputError("command line", "--objectives", f"score, score,energy or score,synops, got {text!r}")
    return names


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
    ``"validation R2"``) and the best so far (with several objectives: every value and the size
    of the Pareto front); a repeated topology names the trial it repeats, a pruned one its last
    epoch.
    """

    def print_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        head = f"{label(study)}trial {trial.number:3d}  {trial.user_attrs.get('topology', '?')}"
        repeat = f"  (as trial {trial.user_attrs['repeat_of']})" if "repeat_of" in trial.user_attrs else ""
        if trial.state == TrialState.PRUNED:
            line = f"{head}  pruned after epoch {trial.last_step}{repeat}"
        elif trial.state != TrialState.COMPLETE:
            line = f"{head}  {trial.state.name.lower()}"
        elif len(trial.values) > 1:
            values = "  ".join(f"{v:.4g}" for v in trial.values)
            line = f"{head}  {metric} {values}{repeat}  Pareto front {len(pareto_front(study))} trials"
        else:
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
    """``"tpe"`` (multivariate TPE), ``"gp"`` (Gaussian-process BO), ``"random"`` or ``"nsga2"``
    (NSGA-II), seeded; each takes one objective or several.

    Raises:
        ValueError: for another name, listing the known ones.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            # multivariate: the entries of one block interact (a DSC widens what later layers read);
            # constant liar: with parallel workers, running trials count as bad so that two workers
            # do not draw the same topology (no effect on a lone worker)
            return optuna.samplers.TPESampler(multivariate=True, n_startup_trials=STARTUP_TRIALS, constant_liar=True, seed=seed)
        if name == "gp":
            return optuna.samplers.GPSampler(n_startup_trials=STARTUP_TRIALS, seed=seed)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "nsga2":
            # a population of 50 (Optuna's default) would leave a 20 to 50-trial search random
            return optuna.samplers.NSGAIISampler(population_size=10, seed=seed)
    raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLER_NAMES)}")


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """``"none"``, ``"sha"`` (asynchronous successive halving, Li et al. 2020) or ``"hyperband"``
    (Li et al. 2018), with Optuna's defaults: the resource is the epoch, the smallest budget is
    found from the first trials (``min_resource="auto"``) and the largest from the first
    completed trial (``max_resource="auto"``).

    Raises:
        ValueError: for another name, listing the known ones.
    """
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    raise ValueError(f"unknown pruner {name!r}; expected one of {', '.join(PRUNERS)}")


def open_storage(url: str, heartbeat_s: int = HEARTBEAT_SECONDS) -> optuna.storages.RDBStorage:
    """Open (creating if needed) the Optuna RDB storage at ``url``.

    A running trial beats every ``heartbeat_s`` seconds; one silent for twice that (its worker
    killed) is marked failed by the next worker that looks, and queued again (at most
    :data:`MAX_RETRY` times).

    Raises:
        InputError: when the URL cannot be parsed, its database driver is missing, or the
            database cannot be opened.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=heartbeat_s,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
            )
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
    direction: str | Sequence[str] = "maximize",
) -> optuna.Study:
    """Open (creating if needed) a study tied to ``settings``: the one identity check of every search.

    Each setting is stored as a user attribute of the study (as JSON: tuples become lists) when
    the study first sees it; a later run must pass the same value, so that the scores of its
    trials stay comparable with the stored ones. ``direction`` is one direction, or one per
    objective; a stored study of other directions is refused too.

    Raises:
        InputError: naming the storage, the study and the differing field (for a table, its
            differing keys) when a stored setting differs.
    """
    settings = json.loads(json.dumps(dict(settings)))
    directions = [direction] if isinstance(direction, str) else list(direction)
    study = optuna.create_study(storage=storage, study_name=study_name, directions=directions, load_if_exists=True)
    stored = study.user_attrs
    differ = [_differing(k, stored[k], v) for k, v in settings.items() if k in stored and stored[k] != v]
    if [d.name.lower() for d in study.directions] != directions:
        differ.append("directions")
    if differ:
        raise InputError(f"{storage_label(storage)}, study {study_name!r}", ", ".join(differ), RESUME_HINT)
    for key, value in settings.items():
        if key not in stored:
            study.set_user_attr(key, value)
    return study


class _Surplus(Exception):
    """A trial begun when the study already had all its trials running or finished."""


class _NoInterruptTraceback(logging.Filter):
    """Drops Optuna's "trial failed" warning, traceback included, for a Ctrl-C or a surplus trial."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], (KeyboardInterrupt, _Surplus)))


def worker_name() -> str:
    """This process as a trial's ``worker`` user attribute: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _fail_stale(study: optuna.Study) -> None:
    """Mark the trials of killed workers failed, queueing each again (:func:`open_storage`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _topology_of(trial: FrozenTrial) -> str | None:
    """The topology a trial trains: its user attribute, or for a queued trial its fixed parameters."""
    if "topology" in trial.user_attrs:
        return trial.user_attrs["topology"]
    fixed = trial.system_attrs.get("fixed_params")
    if trial.state == TrialState.WAITING and fixed:
        blocks = sorted({name.split("_")[0] for name in fixed})
        matrices = []
        for block in blocks:
            entries = {tuple(map(int, k.split("_")[1:])): v for k, v in fixed.items() if k.split("_")[0] == block}
            n = max(j for _, j in entries) + 1
            m = np.zeros((n, n), dtype=int)
            for (i, j), v in entries.items():
                m[i, j] = v
            matrices.append(m)
        return str(SkipTopology(matrices))
    return None


def _wait_for_others(study: optuna.Study, trial: Trial, topology: str) -> FrozenTrial | None:
    """The finished trial of ``topology`` to reuse, else None once this trial may train it.

    Workers agree without a lock because trial numbers are given out in order: a trial defers to
    every earlier trial of the same topology that is still running, and first waits until each
    earlier running trial has drawn its topology, so that of two trials of one topology the later
    always sees the earlier one. A trial whose worker died stops running once the heartbeat fails
    it (and its queued retry is a later trial).
    """
    while True:
        trials = study.get_trials(deepcopy=False)
        same = [t for t in trials if t.number != trial.number and _topology_of(t) == topology]
        for state in FINISHED:
            done = [t for t in same if t.state == state]
            if done:
                return min(done, key=lambda t: t.number)
        earlier = [t for t in trials if t.state == TrialState.RUNNING and t.number < trial.number]
        if not any(t in same or _topology_of(t) is None for t in earlier):
            return None
        time.sleep(POLL_SECONDS)
        _fail_stale(study)


def run_search(
    objective: Callable[[SkipTopology], float | Sequence[float]],
    layers_per_block: Sequence[int],
    sampler: str = "tpe",
    n_trials: int = 20,
    seed: int = 0,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str = "skip-search",
    direction: str | Sequence[str] = "maximize",
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    settings: Mapping[str, Any] | None = None,
    pruner: str = "none",
    worker: int = 0,
) -> optuna.Study:
    """Search the skip topology maximising (or minimising) ``objective``; resumes a stored study.

    Several calls on one stored study, in processes of this machine (:func:`run_workers`) or of
    others, share its work (module docstring).

    Args:
        objective: scores a topology (module docstring: determinism, failures); with several
            directions, returns one value per objective. Training inside it through
            :func:`snn_core.training.train` reports each epoch's score to the trial.
        layers_per_block: block sizes; the study remembers them and refuses others.
        sampler: one of :data:`SAMPLER_NAMES`.
        n_trials: finished (completed or pruned) trials the study should hold in the end; this
            call runs at most the ones missing when it starts (each failure uses one of them).
        seed: seeds the sampler, mixed with the number of trials already stored and ``worker``
            so that a resumed search continues rather than replaying its first suggestions, and
            parallel workers draw differently.
        storage: an RDB URL (``sqlite:///FILE``, ``postgresql://...``, ``mysql://...``), an Optuna
            storage, or None for an in-memory study.
        study_name: the study within the storage.
        direction: ``"maximize"`` or ``"minimize"``, or one of them per objective.
        callbacks: called with (study, trial) after every trial, as in ``Study.optimize``.
        settings: what else the scores depend on (data, training settings), bound to the study
            with ``layers_per_block`` by :func:`bind_study`.
        pruner: one of :data:`PRUNERS` (single objective only).
        worker: this worker's index among parallel ones on this machine.

    Returns:
        the study, with every trial's topology in its ``"topology"`` user attribute and its worker
        in ``"worker"``.

    Raises:
        ValueError: for an unknown sampler or pruner, or a pruner with several objectives.
        InputError: for a storage that does not open or a stored study of other block sizes
            or settings.
        SearchInterrupted: on Ctrl-C; the completed trials are stored.
    """
    make_sampler(sampler, seed)  # an unknown name fails before the storage is touched
    make_pruner(pruner)
    several = not isinstance(direction, str) and len(direction) > 1
    if several and pruner != "none":
        raise ValueError("pruning needs a single objective")
    if isinstance(storage, str):
        storage = open_storage(storage)
    layers = [int(n) for n in layers_per_block]
    study = bind_study(storage, study_name, {**(settings or {}), "layers_per_block": layers}, direction)
    entropy = np.random.SeedSequence([seed, len(study.trials), *([worker] if worker else [])]).generate_state(1)[0]
    study.sampler = make_sampler(sampler, int(entropy))
    study.pruner = make_pruner(pruner)

    def finished(trials: Sequence[FrozenTrial]) -> int:
        return sum(t.state in FINISHED for t in trials)

    def trial_objective(trial: Trial) -> float | Sequence[float]:
        trial.set_user_attr("worker", worker_name())
        trials = study.get_trials(deepcopy=False)
        earlier = [t for t in trials if t.state == TrialState.RUNNING and t.number < trial.number]
        if finished(trials) + len(earlier) >= n_trials:  # another worker began the last one first
            trial.set_user_attr("surplus", True)
            raise _Surplus()
        topology = suggest_topology(trial, layers_per_block)
        done = _wait_for_others(study, trial, str(topology))
        if done is not None:
            trial.set_user_attr("repeat_of", done.number)
            for step, value in sorted(done.intermediate_values.items()):  # its curve, as if trained again
                trial.report(value, step)
            if done.state == TrialState.PRUNED:  # training is deterministic: it would be pruned again
                raise optuna.TrialPruned()
            return tuple(done.values) if several else float(done.value)

        def report(record: dict) -> None:
            trial.report(float(record["score"]), int(record["epoch"]))
            if trial.should_prune():
                raise optuna.TrialPruned()

        with epoch_listener(report) if not several else nullcontext():
            value = objective(topology)
        values = [float(v) for v in value] if several else [float(value)]
        if not all(math.isfinite(v) for v in values):
            return math.nan  # Optuna records a failed trial
        return values if several else values[0]

    budget = n_trials - finished(study.get_trials(deepcopy=False))
    optimize_log, quiet = logging.getLogger("optuna.study._optimize"), _NoInterruptTraceback()
    optimize_log.addFilter(quiet)
    try:
        with resumable():
            while budget > 0:
                _fail_stale(study)
                trials = study.get_trials(deepcopy=False)
                if finished(trials) >= n_trials:
                    break
                states = [t.state for t in trials]
                if finished(trials) + states.count(TrialState.RUNNING) >= n_trials and TrialState.WAITING not in states:
                    time.sleep(POLL_SECONDS)  # the running trials may fill the study, or one may fail
                    continue
                try:
                    study.optimize(trial_objective, n_trials=1, catch=TRIAL_FAILURES, callbacks=list(callbacks))
                except _Surplus:
                    continue
                budget -= 1
    finally:
        optimize_log.removeFilter(quiet)
    return study


def run_workers(target: Callable[..., Any], args: Sequence[Any], workers: int) -> list[int]:
    """Run ``target(*args, worker)`` in ``workers`` new processes, ``worker`` = 0, 1, ...; returns
    their exit codes (negative: killed by that signal).

    The processes are spawned, not forked: numba's OpenMP threading layer, once the fused LIF
    kernels have run, does not survive a fork. Each process gets its share of this machine's
    cores for torch and numba, so that the workers together do not oversubscribe them.
    ``target`` and ``args`` must pickle (a module-level function; data, not closures), and a
    script that calls this needs Python's ``if __name__ == "__main__":`` guard, since each spawned
    process imports the script's main module.
    """
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    processes = [
        context.Process(target=_worker_main, args=(target, tuple(args), k, threads), name=f"search-worker-{k}")
        for k in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:  # Ctrl-C reached the workers too: each fails its trial and exits
        for process in processes:
            process.join()
        raise
    return [int(process.exitcode) for process in processes]


def _worker_main(target: Callable[..., Any], args: tuple, worker: int, threads: int) -> None:
    """One spawned worker: its thread share, quiet Optuna logs, then the search; Ctrl-C ends it quietly."""
    import numba

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        target(*args, worker)
    except KeyboardInterrupt:
        sys.exit(130)


def best_so_far(study: optuna.Study) -> list[float]:
    """The best score after each completed trial, in trial order (for sampler comparisons); with
    several objectives, of the first one (the score). Pruned trials have no score and are left out."""
    values = [t.values[0] for t in sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)]
    if not values:
        return []
    minimize = study.directions[0] == optuna.study.StudyDirection.MINIMIZE
    running = np.minimum.accumulate if minimize else np.maximum.accumulate
    return [float(v) for v in running(np.asarray(values, dtype=float))]


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The completed trials no other completed trial beats in every objective, by trial number
    (a repeated topology appears once, as its first trial)."""
    front = sorted(study.best_trials, key=lambda t: t.number)
    return [t for t in front if "repeat_of" not in t.user_attrs]
