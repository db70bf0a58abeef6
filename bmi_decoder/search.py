"""Skip-topology search of the SNN decoder as a library: :func:`search_topology`.

The SNN decoder's block of LIF layers has one adjacency matrix; each of its upper-triangle
entries is one Optuna trial parameter (:mod:`snn_core.search`). Every trial fits the decoder on
the train split of the NeuroBench protocol and scores it by validation R2; only the best
topology is scored on the test split, at the end.

A study is tied to what its scores depend on (:func:`snn_core.search.bind_study`, user attribute
``objective``): the recording, the data settings and every SNN setting the search does not set
itself. The recording enters as its base name and as the SHA-256 of its binned session (features
and velocity labels of all splits, with their dtypes and shapes): the content, not the name, so
another recording under the same file name is refused, while the same data read from ``.mat`` or
from NWB resumes one study.

Pruning, parallel workers and a second objective come from :mod:`snn_core.search`. With
``objectives=("score", "energy")`` (or ``"synops"``) every trial is also measured on the validation
split by the decoder's own NeuroBench cost (:mod:`bmi_decoder.cost`: energy in pJ, or effective
synaptic operations, per 4 ms step), the study keeps the Pareto front of R2 against that cost,
and the report draws it (``search_pareto.png``). ``workers`` processes share the study; each
reads the recording and bins it again, which costs seconds against minutes of training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from bmi_decoder.checkpoint import save_decoder
from bmi_decoder.decoders import Decoder, SNNDecoder
from bmi_decoder.evaluation import r2_score
from bmi_decoder.experiment import ExperimentConfig
from bmi_decoder.io import read_recording
from bmi_decoder.preprocess import PreparedSession, prepare_session
from bmi_decoder.quality import require_decodable
from bmi_decoder.recording import Recording
from bmi_decoder.search_results import SearchResult, SearchTrial
from bmi_decoder.search_strategies import population_search
from snn_core import search as core_search
from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError, NoTrialCompleted
from snn_core.pareto import plot_pareto
from snn_core.search import (
    SearchInterrupted,
    SearchRequest,
    best_so_far,
    default_storage,
    open_storage,
    pareto_front,
    resumable,
    run_search,
    run_workers,
    shown_url,
    trial_printer,
)
from snn_core.strategies import Strategy
from snn_core.topology import SkipTopology, search_space_size

__all__ = ["SearchRequest", "SearchResult", "SearchTrial", "block_widths", "search_topology", "session_sha256"]

# SNN parameters the search sets itself, or that do not change a fit's result (the device only
# changes rounding: workers with and without a GPU share one study). A trial trains one network,
# not the decoder's default ensemble: a topology's seeds are the search's to draw (``--seeds``).
SEARCH_SET = ("topology", "hidden", "ensemble", "progress", "progress_file", "device")
# the cost objectives, as reported and plotted (per 4 ms bin: one step of the decoder)
COST_LABELS = {"energy": "energy per step (pJ)", "synops": "effective synaptic operations per step"}


def block_widths(config_hidden: list[int] | None, layers: int | None, source: str) -> tuple[int, ...]:
    """The block's layer widths: the config's ``hidden``, or the decoder's default width per layer."""
    if config_hidden is None:
        width = SNNDecoder().hidden[0]
        return (width,) * (layers if layers is not None else len(SNNDecoder().hidden))
    if not isinstance(config_hidden, list) or not config_hidden:
        raise InputError(source, "decoders.snn.hidden", f"a list of layer widths, got {config_hidden!r}")
    if layers is not None and layers != len(config_hidden):
        raise InputError(source, "decoders.snn.hidden", f"{layers} widths to match --layers {layers}, got {config_hidden}")
    return tuple(config_hidden)


def session_sha256(session: PreparedSession) -> str:
    """SHA-256 of a binned session: features and velocity (dtype, shape, bytes) and its split."""
    digest = hashlib.sha256()
    for array in (session.features, session.velocity):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)
    digest.update(repr([(s.start, s.stop) for s in (session.train, session.val, session.test)]).encode())
    return digest.hexdigest()


def search_topology(
    recording: str | Path | Recording,
    config: ExperimentConfig | None = None,
    request: SearchRequest | None = None,
    *,
    layers: int | None = None,
    out: str | Path = "runs/search",
    config_source: str = "config",
    log: Callable[[str], None] | None = None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    strategy: Strategy | None = None,
) -> SearchResult:
    """Search the SNN decoder's skip topology for the best validation R2; resumes a stored study.

    Args:
        recording: a recording file (``.mat`` or ``.nwb``) or a :class:`Recording`.
        config: data settings, seed, device and the ``[decoders.snn]`` settings (``hidden``: the
            block's widths, default the SNN decoder's: 128 per layer); None for the defaults.
        request: the search's settings (:class:`~snn_core.search.SearchRequest`; None: its
            defaults): sampler, trials, pruner, objectives (``("score",)``, or with
            ``"energy"`` or ``"synops"``), workers (processes on this machine running the study
            together, :func:`snn_core.search.run_workers`; this process then runs whatever they
            left), heartbeat, storage (default: :func:`~snn_core.search.default_storage` of
            ``out``), study (default ``skip-search``, and ``skip-search-exhaustive`` or
            ``skip-search-zero-cost`` for those strategies) and the sampler's seed (default: the
            config's seed, which seeds every fit).
        layers: layers of the block (default: the length of ``hidden``, else 3).
        out: folder for ``search.json``, ``best.pt`` (a checkpoint ``bmi-decoder replay`` reads)
            and the default storage; created if missing.
        config_source: how the config is named in error messages (its file).
        log: receives one line before the search starts (None: silent).
        callbacks: called with (study, trial) after every trial, e.g.
            :func:`snn_core.search.trial_printer`; with several workers they must pickle.
        strategy: a population strategy (:mod:`snn_core.strategies`: exhaustive, or zero-cost
            ranking then training the top K) instead of the sampler; the request's sampler,
            trials, pruner, objectives and workers are then unused
            (:mod:`bmi_decoder.search_strategies`).

    Raises:
        InputError: impossible request values, bad widths, a recording that cannot be decoded
            honestly (:mod:`bmi_decoder.quality`), a storage that does not open, or a stored
            study made on another recording or with other settings.
        NoTrialCompleted: every trial failed.
        SearchInterrupted: on Ctrl-C; rerunning the same call resumes.
    """
    config = config or ExperimentConfig()
    request = (request or SearchRequest()).check()
    widths = block_widths(config.decoders.get("snn", {}).get("hidden"), layers, config_source)
    name = str(recording) if isinstance(recording, (str, Path)) else recording.provenance.get("source", "recording")
    request = replace(
        request,
        seed=config.seed if request.seed is None else request.seed,
        storage=request.storage or default_storage(out),
        study=request.study or ("skip-search" if strategy is None else f"skip-search-{strategy.name}"),
    )
    with resumable():
        return _search(_Job(recording, name, config, widths, request), Path(out), log, callbacks, strategy)


@dataclass(frozen=True)
class _Job:
    """What every worker process of one search needs, as data that pickles: the recording (a file
    each worker reads again, or the recording itself), its name, the config, the block's widths
    and the request with its seed, storage and study settled."""

    recording: str | Path | Recording
    name: str
    config: ExperimentConfig
    widths: tuple[int, ...]
    request: SearchRequest


@dataclass
class _Task:
    """What a search process trains on: the binned session and what the study is tied to."""

    name: str
    config: ExperimentConfig
    widths: tuple[int, ...]
    session: PreparedSession
    digest: str
    settings: dict


def _task(recording: Recording, job: _Job) -> _Task:
    """Bin the session and name what its scores depend on (module docstring)."""
    config = job.config
    session = prepare_session(recording, config.preprocessing)
    digest = session_sha256(session)
    snn_params = {k: v for k, v in config.decoder("snn").get_params().items() if k not in SEARCH_SET}
    identity = {
        "session": Path(job.name).name,
        "session_sha256": digest,
        "data": config.preprocessing.to_dict(),
        "snn": {**snn_params, "hidden": list(job.widths)},
    }
    return _Task(job.name, config, job.widths, session, digest, {"objective": identity})


def _read(recording: str | Path | Recording) -> Recording:
    return read_recording(recording) if isinstance(recording, (str, Path)) else recording


def _fit(task: _Task, topology: SkipTopology) -> Decoder:
    decoder = task.config.decoder("snn").set_params(hidden=list(task.widths), topology=str(topology), ensemble=1, progress=False)
    return decoder.fit(*task.session.split("train"), *task.session.split("val"))


def _cost(decoder: Decoder, X: np.ndarray, objective: str) -> float:
    """The decoder's cost per step on ``X``: energy (pJ) or effective synaptic operations."""
    cost = decoder.cost(X)
    return cost.energy_pj_per_step if objective == "energy" else cost.synops.effective_macs + cost.synops.effective_acs


def _metric(objectives: Sequence[str]) -> str:
    """How a trial's values are named in its printed line."""
    return "validation R2" if len(objectives) == 1 else f"validation R2, {objectives[1]}"


def _study(task: _Task, request: SearchRequest, store, callbacks, best: dict, worker: int = 0) -> optuna.Study:
    """Run (or join, or resume) the study in this process; ``best`` receives the best decoder it fits."""
    X_val, y_val = task.session.split("val")
    objectives = request.objectives

    def objective(topology: SkipTopology) -> float | tuple[float, float]:
        decoder = _fit(task, topology)
        r2 = r2_score(y_val, decoder.predict(X_val))
        if not best or r2 > best["r2"]:
            best.update(r2=r2, topology=str(topology), decoder=decoder)
        return r2 if len(objectives) == 1 else (r2, _cost(decoder, X_val, objectives[1]))

    return run_search(
        objective, [len(task.widths)], request, storage=store, settings=task.settings, callbacks=callbacks, worker=worker
    )


def _worker(job: _Job, worker: int) -> None:
    """One of :func:`search_topology`'s worker processes (:func:`snn_core.search.run_workers`)."""
    request = job.request
    try:
        store = open_storage(request.storage, request.heartbeat_s)
        _study(_task(_read(job.recording), job), request, store, [trial_printer(_metric(request.objectives))], {}, worker)
    except SearchInterrupted:
        raise KeyboardInterrupt from None


def _search(job: _Job, out: Path, log, callbacks, strategy: Strategy | None) -> SearchResult:
    request, config, widths = job.request, job.config, job.widths
    candidates = strategy.candidates([len(widths)]) if strategy is not None else None  # bad options fail first
    recording = _read(job.recording)
    require_decodable(recording, config.max_gap_s)  # before the output folder and any trial
    out.mkdir(parents=True, exist_ok=True)
    store = open_storage(request.storage, request.heartbeat_s)  # a bad URL fails before any training
    task = _task(recording, job)
    if strategy is not None:
        return population_search(task, request, store, strategy, candidates=candidates, out=out, log=log, callbacks=callbacks)
    # refused before the first line is logged and before any worker starts
    core_search.bind_study(store, request.study, task.settings, request.direction)
    best: dict = {}  # the best decoder fitted in this process, kept to spare a refit of the winner
    if log is not None:
        log(
            f"searching {search_space_size([len(widths)]):,} topologies of a {len(widths)}-layer block (widths {list(widths)}) "
            f"with {request.sampler_label}, {request.trials} trials, objectives {','.join(request.objectives)}, "
            f"pruner {request.pruner_label}, {request.workers} worker(s), storage {shown_url(request.storage)}"
        )
    if request.workers > 1:
        codes = run_workers(_worker, (job,), request.workers)
        if log is not None and any(codes):
            log(f"worker exit codes {codes}; finishing the study here")
    # a lone search, or what the workers left (a killed worker's trial, queued again)
    found = _study(task, request, store, callbacks, best, request.workers if request.workers > 1 else 0)
    return _report(task, request, found, best, out)


def _report(task: _Task, request: SearchRequest, found: optuna.Study, best: dict, out: Path) -> SearchResult:
    """Test the winner, then write ``search.json``, ``best.pt`` and, with a cost, the Pareto plot."""
    complete = found.get_trials(states=(TrialState.COMPLETE,))
    if not complete:
        raise NoTrialCompleted(f"no trial of study {request.study!r} completed (training diverged?)")
    top = max(complete, key=lambda t: (t.values[0], -t.number))  # the best score; ties: the first
    winner = top.user_attrs["topology"]
    decoder = best["decoder"] if best.get("topology") == winner else _fit(task, SkipTopology.from_string(winner))
    X_test, y_test = task.session.split("test")
    test_r2 = r2_score(y_test, decoder.predict(X_test))
    report, checkpoint, figure = out / "search.json", out / "best.pt", out / "search_pareto.png"
    objectives = request.objectives
    front = ()
    if len(objectives) > 1:
        front = tuple(
            {"trial": t.number, "topology": t.user_attrs["topology"], "validation_r2": t.values[0], "cost": t.values[1]}
            for t in sorted(pareto_front(found), key=lambda t: t.values[1])
        )
    result = SearchResult(
        session=task.name,
        session_sha256=task.digest,
        study=request.study,
        storage=shown_url(request.storage),
        sampler=request.sampler_label,
        seed=task.config.seed,
        hidden=tuple(task.widths),
        search_space_size=search_space_size([len(task.widths)]),
        trials=tuple(
            SearchTrial(
                t.number,
                t.user_attrs.get("topology"),
                t.state.name.lower(),
                t.values[0] if t.values else None,
                t.values[1] if t.values and len(t.values) > 1 else None,
                t.user_attrs.get("worker"),
            )
            for t in found.trials
        ),
        best_so_far=tuple(best_so_far(found)),
        best_trial=top.number,
        best_topology=winner,
        validation_r2=top.values[0],
        test_r2=test_r2,
        objectives=objectives,
        pruner=request.pruner_label,
        pareto_front=front,
        paths=(report, checkpoint, figure) if front else (report, checkpoint),
        decoder=decoder,
        wall_s=sum(t.duration.total_seconds() for t in found.trials if t.duration is not None),
    )
    save_decoder(decoder, checkpoint, {"session": task.name, "seed": task.config.seed}, preprocessing=task.config.preprocessing)
    if front:
        plot_pareto(
            [tuple(t.values) for t in complete if "repeat_of" not in t.user_attrs],
            [(p["validation_r2"], p["cost"]) for p in front],
            figure,
            "validation R2",
            COST_LABELS[objectives[1]],
            f"SNN decoder skip search: R2 vs {objectives[1]} ({len(complete)} trials)",
        )
    write_text_atomic(report, json.dumps(result.to_dict(), indent=2) + "\n")
    return result
