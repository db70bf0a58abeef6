"""The search loop: trials on one study, shared by workers, stopped and resumed safely.

The objective takes a :class:`~snn_core.topology.SkipTopology` and returns a score (e.g.
validation R2 or accuracy): the core knows nothing of what is trained on. It must be
deterministic given the topology (seed its training), because a topology suggested again reuses
its first score instead of training again. A trial fails, and the search goes on, when the
objective returns NaN or raises one of :data:`TRIAL_FAILURES` (training that diverged, a topology
too large for memory); any other exception, e.g. :class:`~snn_core.errors.InputError` for a bad
setting, would fail every trial alike and stops the search.

Every trial reports its validation score after each epoch (:func:`snn_core.training.epoch_listener`,
``trial.report``), so a pruner can stop a poor trial early; it is recorded as PRUNED, counts as
one of the study's trials, is never reused as a completed score, and a topology suggested again
after it was pruned is pruned again without training. With several objectives the study is
multi-objective: its Pareto front is Optuna's ``best_trials``, and there is no pruning (Optuna's
pruners take one score).

Several workers (processes on one machine, :func:`run_workers`, or runs on other machines) run
one study together: each trial records its worker (``host:pid``), a heartbeat marks a killed
worker's trial failed and queues it again (``RetryHeartbeatStaleTrialCallback``), a topology
another worker is training is waited for and its score reused instead of being trained twice, and
a worker starts a trial only while the study lacks one, so the study ends with exactly the
requested number. A rerun with the same storage and study name resumes: finished trials are kept
and only the missing ones run. Ctrl-C stops a search with :class:`SearchInterrupted`: the
interrupted trial is marked failed, the completed ones are kept, and the same call resumes.
"""

from __future__ import annotations

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
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import FrozenTrial, Trial, TrialState

from snn_core.errors import InputError
from snn_core.search.factories import make_pruner, make_sampler, prunes
from snn_core.search.request import SearchRequest
from snn_core.search.space import suggest_topology, trial_topology
from snn_core.search.storage import bind_study, open_storage
from snn_core.topology import SkipTopology
from snn_core.training import epoch_listener

# A pruned trial finished too: it holds one of the study's trials (it ran, and the sampler learns
# from its last reported score), but it has no score to reuse.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TRIAL_FAILURES: tuple[type[Exception], ...] = (FloatingPointError, OverflowError, MemoryError, torch.OutOfMemoryError)
# How often a worker waiting for another worker's trial looks at the study again.
POLL_SECONDS = 0.5
DEFAULT_STUDY = "skip-search"


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
    """Mark the trials of killed workers failed, queueing each again (:func:`~snn_core.search.open_storage`).

    The heartbeat finds a killed worker only after two silent intervals (minutes); a worker of
    this host whose process is gone is known dead at once, so its trials fail now.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
        storage = study._storage  # an RDB storage is wrapped in a cache that passes these calls on
        retry = storage.get_heartbeat_stale_trial_callback() if hasattr(storage, "get_heartbeat_stale_trial_callback") else None
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if not _dead_here(trial.user_attrs.get("worker")):
                continue
            try:
                if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL) and retry is not None:
                    retry(study, storage.get_trial(trial._trial_id))
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another worker failed it first


def _dead_here(worker: object) -> bool:
    """Whether ``worker`` (``host:pid``) names a process of this host that no longer exists (a
    reused pid reads as alive: the heartbeat then decides, as for other hosts)."""
    host, _, pid = str(worker).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, owned by someone else
    return False


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
        same = [t for t in trials if t.number != trial.number and trial_topology(t) == topology]
        for state in FINISHED:
            done = [t for t in same if t.state == state]
            if done:
                return min(done, key=lambda t: t.number)
        earlier = [t for t in trials if t.state == TrialState.RUNNING and t.number < trial.number]
        if not any(t in same or trial_topology(t) is None for t in earlier):
            return None
        time.sleep(POLL_SECONDS)
        _fail_stale(study)


def _finished(trials: Sequence[FrozenTrial]) -> int:
    return sum(t.state in FINISHED for t in trials)


def run_search(
    objective: Callable[[SkipTopology], float | Sequence[float]],
    layers_per_block: Sequence[int],
    request: SearchRequest | None = None,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    direction: str | Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
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
        request: sampler, trials, seed (None: 0), pruner, objectives, storage URL, study name
            (None: ``skip-search``) and heartbeat; ``workers`` is the frontends' business. The
            seed is mixed with the number of trials already stored and ``worker``, so that a
            resumed search continues rather than replaying its first suggestions and parallel
            workers draw differently (a sampler object keeps its own seed).
        storage: an Optuna storage or URL in place of ``request.storage`` (both None: in memory).
        direction: ``"maximize"`` or ``"minimize"``, or one per objective, in place of the
            request's objectives' directions.
        settings: what else the scores depend on (data, training settings), bound to the study
            with ``layers_per_block`` by :func:`~snn_core.search.bind_study`.
        callbacks: called with (study, trial) after every trial, as in ``Study.optimize``.
        worker: this worker's index among parallel ones on this machine.

    Returns:
        the study, with every trial's topology in its ``"topology"`` user attribute and its worker
        in ``"worker"``.

    Raises:
        InputError: for impossible request values (:meth:`SearchRequest.check`; an InputError is
            a ValueError), a storage that does not open, or a stored study of other block sizes
            or settings.
        SearchInterrupted: on Ctrl-C; the completed trials are stored.
    """
    request = (request or SearchRequest()).check()
    direction = request.direction if direction is None else direction
    several = not isinstance(direction, str) and len(direction) > 1
    if several and prunes(request.pruner):
        raise InputError("search request", "pruner", "none with several objectives (Optuna prunes on a single objective)")
    store = open_storage(storage if storage is not None else request.storage, request.heartbeat_s)
    layers = [int(n) for n in layers_per_block]
    study = bind_study(store, request.study or DEFAULT_STUDY, {**(settings or {}), "layers_per_block": layers}, direction)
    seed = 0 if request.seed is None else request.seed
    entropy = np.random.SeedSequence([seed, len(study.trials), *([worker] if worker else [])]).generate_state(1)[0]
    study.sampler = make_sampler(request.sampler, int(entropy))
    study.pruner = make_pruner(request.pruner)

    def trial_objective(trial: Trial) -> float | Sequence[float]:
        trial.set_user_attr("worker", worker_name())
        trials = study.get_trials(deepcopy=False)
        earlier = [t for t in trials if t.state == TrialState.RUNNING and t.number < trial.number]
        if _finished(trials) + len(earlier) >= request.trials:  # another worker began the last one first
            trial.set_user_attr("surplus", True)
            raise _Surplus()
        topology = suggest_topology(trial, layers)
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

    _optimize(study, trial_objective, request.trials, callbacks)
    return study


def _optimize(study: optuna.Study, objective: Callable[[Trial], Any], trials: int, callbacks: Sequence) -> None:
    """Run trials one at a time until the study holds ``trials`` finished ones (this call runs at
    most the ones missing when it starts; each failure uses one of them)."""
    budget = trials - _finished(study.get_trials(deepcopy=False))
    optimize_log, quiet = logging.getLogger("optuna.study._optimize"), _NoInterruptTraceback()
    optimize_log.addFilter(quiet)
    try:
        with resumable():
            while budget > 0:
                _fail_stale(study)
                stored = study.get_trials(deepcopy=False)
                if _finished(stored) >= trials:
                    break
                states = [t.state for t in stored]
                if _finished(stored) + states.count(TrialState.RUNNING) >= trials and TrialState.WAITING not in states:
                    time.sleep(POLL_SECONDS)  # the running trials may fill the study, or one may fail
                    continue
                try:
                    study.optimize(objective, n_trials=1, catch=TRIAL_FAILURES, callbacks=list(callbacks))
                except _Surplus:
                    continue
                budget -= 1
    finally:
        optimize_log.removeFilter(quiet)


def run_workers(target: Callable[..., Any], args: Sequence[Any], workers: int) -> list[int]:
    """Run ``target(*args, worker)`` in ``workers`` new processes, ``worker`` = 0, 1, ...; returns
    their exit codes (negative: killed by that signal).

    The processes are spawned, not forked: numba's OpenMP threading layer, once the fused LIF
    kernels have run, does not survive a fork. Each process gets its share of this machine's
    cores for torch and numba, so that the workers together do not oversubscribe them.
    ``target`` and ``args`` must pickle (a module-level function; data such as a
    :class:`SearchRequest`, not closures), and a script that calls this needs Python's
    ``if __name__ == "__main__":`` guard, since each spawned process imports the script's main
    module.
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
