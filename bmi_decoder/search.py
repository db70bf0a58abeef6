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
from dataclasses import dataclass
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
from snn_core import search as core_search
from snn_core.atomic import write_text_atomic
from snn_core.errors import InputError, NoTrialCompleted
from snn_core.pareto import plot_pareto
from snn_core.search import (
    HEARTBEAT_SECONDS,
    OBJECTIVES,
    SearchInterrupted,
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

__all__ = ["SearchResult", "SearchTrial", "block_widths", "search_topology", "session_sha256"]

# SNN parameters the search sets itself, or that do not change a fit's result (the device only
# changes rounding: workers with and without a GPU share one study)
SEARCH_SET = ("topology", "hidden", "progress", "progress_file", "device")
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
    *,
    sampler: str = "tpe",
    trials: int = 20,
    layers: int | None = None,
    storage: str | None = None,
    study: str | None = None,
    out: str | Path = "runs/search",
    config_source: str = "config",
    log: Callable[[str], None] | None = None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    pruner: str = "none",
    objectives: Sequence[str] = ("score",),
    workers: int = 1,
    heartbeat_s: int = HEARTBEAT_SECONDS,
    strategy: Strategy | None = None,
) -> SearchResult:
    """Search the SNN decoder's skip topology for the best validation R2; resumes a stored study.

    Args:
        recording: a recording file (``.mat`` or ``.nwb``) or a :class:`Recording`.
        config: data settings, seed, device and the ``[decoders.snn]`` settings (``hidden``: the
            block's widths, default the SNN decoder's: 128 per layer); None for the defaults.
        sampler: one of :data:`snn_core.search.SAMPLERS`.
        trials: completed trials the study should hold in the end.
        layers: layers of the block (default: the length of ``hidden``, else 3).
        storage: Optuna RDB URL (default: :func:`~snn_core.search.default_storage` of ``out``).
        study: the study's name in the storage (default ``skip-search``, and
            ``skip-search-exhaustive`` or ``skip-search-zero-cost`` for those strategies).
        out: folder for ``search.json``, ``best.pt`` (a checkpoint ``bmi-decoder replay`` reads)
            and the default storage; created if missing.
        config_source: how the config is named in error messages (its file).
        log: receives one line before the search starts (None: silent).
        callbacks: called with (study, trial) after every trial, e.g.
            :func:`snn_core.search.trial_printer`; with ``workers`` above 1 they must pickle.
        pruner: one of :data:`snn_core.search.PRUNERS` (single objective only).
        objectives: ``("score",)``, ``("score", "energy")`` or ``("score", "synops")``.
        workers: processes on this machine running the study together
            (:func:`snn_core.search.run_workers`); this process then runs whatever they left.
        heartbeat_s: a running trial's heartbeat (:func:`snn_core.search.open_storage`).
        strategy: a population strategy (:mod:`snn_core.strategies`: exhaustive, or zero-cost
            ranking then training the top K) instead of the sampler; ``sampler``, ``trials``,
            ``pruner``, ``objectives`` and ``workers`` are then unused
            (:mod:`bmi_decoder.search_strategies`).

    Raises:
        InputError: bad widths, a recording that cannot be decoded honestly
            (:mod:`bmi_decoder.quality`), a storage that does not open, or a stored study made on
            another recording or with other settings.
        NoTrialCompleted: every trial failed.
        SearchInterrupted: on Ctrl-C; rerunning the same call resumes.
    """
    with resumable():
        return _search(
            recording,
            config or ExperimentConfig(),
            sampler,
            trials,
            layers,
            storage,
            study or ("skip-search" if strategy is None else f"skip-search-{strategy.name}"),
            Path(out),
            config_source,
            log,
            callbacks,
            pruner,
            tuple(objectives),
            workers,
            heartbeat_s,
            strategy,
        )


@dataclass
class _Task:
    """What every worker of one search needs: the binned session and what the study is tied to."""

    config: ExperimentConfig
    widths: tuple[int, ...]
    session: PreparedSession
    digest: str
    settings: dict


def _task(recording: Recording, name: str, config: ExperimentConfig, widths: tuple[int, ...]) -> _Task:
    """Bin the session and name what its scores depend on (module docstring)."""
    session = prepare_session(recording, **config.data)
    digest = session_sha256(session)
    snn_params = {k: v for k, v in config.decoder("snn").get_params().items() if k not in SEARCH_SET}
    identity = {
        "session": Path(name).name,
        "session_sha256": digest,
        "data": config.data,
        "snn": {**snn_params, "hidden": list(widths)},
    }
    return _Task(config, widths, session, digest, {"objective": identity})


def _fit(task: _Task, topology: SkipTopology) -> Decoder:
    decoder = task.config.decoder("snn").set_params(hidden=list(task.widths), topology=str(topology), progress=False)
    return decoder.fit(*task.session.split("train"), *task.session.split("val"))


def _cost(decoder: Decoder, X: np.ndarray, objective: str) -> float:
    """The decoder's cost per step on ``X``: energy (pJ) or effective synaptic operations."""
    cost = decoder.cost(X)
    return cost.energy_pj_per_step if objective == "energy" else cost.synops.effective_macs + cost.synops.effective_acs


def _study(task, store, study_name, sampler, trials, pruner, objectives, callbacks, best, worker=0) -> optuna.Study:
    """Run (or join, or resume) the study in this process; ``best`` receives the best decoder it fits."""
    X_val, y_val = task.session.split("val")

    def objective(topology: SkipTopology) -> float | tuple[float, float]:
        decoder = _fit(task, topology)
        r2 = r2_score(y_val, decoder.predict(X_val))
        if not best or r2 > best["r2"]:
            best.update(r2=r2, topology=str(topology), decoder=decoder)
        return r2 if len(objectives) == 1 else (r2, _cost(decoder, X_val, objectives[1]))

    directions = [OBJECTIVES[o] for o in objectives]
    return run_search(
        objective,
        [len(task.widths)],
        sampler,
        trials,
        task.config.seed,
        store,
        study_name,
        direction=directions if len(directions) > 1 else directions[0],
        callbacks=callbacks,
        settings=task.settings,
        pruner=pruner,
        worker=worker,
    )


def _worker(recording, name, config, widths, url, heartbeat_s, study_name, sampler, trials, pruner, objectives, worker) -> None:
    """One of :func:`search_topology`'s worker processes (:func:`snn_core.search.run_workers`)."""
    if isinstance(recording, (str, Path)):
        recording = read_recording(recording)
    metric = "validation R2" if len(objectives) == 1 else f"validation R2, {objectives[1]}"
    try:
        _study(
            _task(recording, name, config, widths),
            open_storage(url, heartbeat_s),
            study_name,
            sampler,
            trials,
            pruner,
            objectives,
            [trial_printer(metric)],
            {},
            worker,
        )
    except SearchInterrupted:
        raise KeyboardInterrupt from None


def _search(
    recording,
    config,
    sampler,
    trials,
    layers,
    storage,
    study_name,
    out,
    config_source,
    log,
    callbacks,
    pruner,
    objectives,
    workers,
    heartbeat_s,
    strategy,
) -> SearchResult:
    if objectives != core_search.check_objectives(",".join(objectives)):
        raise InputError("search", "objectives", f"score, score,energy or score,synops, got {objectives!r}")
    widths = block_widths(config.decoders.get("snn", {}).get("hidden"), layers, config_source)
    candidates = strategy.candidates([len(widths)]) if strategy is not None else None  # bad options fail first
    name = str(recording) if isinstance(recording, (str, Path)) else recording.provenance.get("source", "recording")
    source = recording
    if isinstance(recording, (str, Path)):
        recording = read_recording(recording)
    require_decodable(recording, config.max_gap_s)  # before the output folder and any trial
    out.mkdir(parents=True, exist_ok=True)
    url = storage or default_storage(out)
    store = open_storage(url, heartbeat_s)  # a bad URL fails before any training
    task = _task(recording, name, config, widths)
    if strategy is not None:
        from bmi_decoder.search_strategies import population_search

        return population_search(task, name, store, url, study_name, strategy, candidates, out, log, callbacks)
    directions = [OBJECTIVES[o] for o in objectives]
    # refused before the first line is logged and before any worker starts
    core_search.bind_study(store, study_name, task.settings, directions if len(directions) > 1 else directions[0])
    best: dict = {}  # the best decoder fitted in this process, kept to spare a refit of the winner
    size = search_space_size([len(widths)])
    if log is not None:
        log(
            f"searching {size:,} topologies of a {len(widths)}-layer block (widths {list(widths)}) with {sampler}, "
            f"{trials} trials, objectives {','.join(objectives)}, pruner {pruner}, {workers} worker(s), storage {shown_url(url)}"
        )
    if workers > 1:
        args = (source, name, config, widths, url, heartbeat_s, study_name, sampler, trials, pruner, objectives)
        codes = run_workers(_worker, args, workers)
        if log is not None and any(codes):
            log(f"worker exit codes {codes}; finishing the study here")
    # a lone search, or what the workers left (a killed worker's trial, queued again)
    found = _study(task, store, study_name, sampler, trials, pruner, objectives, callbacks, best, workers if workers > 1 else 0)
    complete = found.get_trials(states=(TrialState.COMPLETE,))
    if not complete:
        raise NoTrialCompleted(f"no trial of study {study_name!r} completed (training diverged?)")
    top = max(complete, key=lambda t: (t.values[0], -t.number))  # the best score; ties: the first
    winner = top.user_attrs["topology"]
    decoder = best["decoder"] if best.get("topology") == winner else _fit(task, SkipTopology.from_string(winner))
    X_test, y_test = task.session.split("test")
    test_r2 = r2_score(y_test, decoder.predict(X_test))
    report, checkpoint, figure = out / "search.json", out / "best.pt", out / "search_pareto.png"
    front = ()
    if len(objectives) > 1:
        front = tuple(
            {"trial": t.number, "topology": t.user_attrs["topology"], "validation_r2": t.values[0], "cost": t.values[1]}
            for t in sorted(pareto_front(found), key=lambda t: t.values[1])
        )
    digest = task.digest
    result = SearchResult(
        session=name,
        session_sha256=digest,
        study=study_name,
        storage=shown_url(url),
        sampler=sampler,
        seed=config.seed,
        hidden=tuple(widths),
        search_space_size=size,
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
        pruner=pruner,
        pareto_front=front,
        paths=(report, checkpoint, figure) if front else (report, checkpoint),
        decoder=decoder,
        wall_s=sum(t.duration.total_seconds() for t in found.trials if t.duration is not None),
    )
    save_decoder(decoder, checkpoint, {"session": name, "data": config.data, "seed": config.seed})
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
