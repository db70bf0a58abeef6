"""Running a population strategy (:mod:`snn_core.strategies`) and recording it in an Optuna study.

Results live in an ordinary Optuna study, so that reports, optuna-dashboard and resuming work as
for the samplers: each trained topology is one COMPLETE trial (FAIL when a seed diverged) with the
parameters :func:`snn_core.search.suggest_topology` would give it, the mean score as its value,
the mean validation curve as its intermediate values, and user attributes ``topology``,
``seeds``, ``seed_scores``, ``curves`` and ``seconds``. The study's user attributes hold the
strategy's settings (:func:`snn_core.search.bind_study`: a resume with other settings is
refused), the zero-cost scores, and the wall time spent so far (``strategy_seconds``).

Topologies are trained in chunks, one population each; a chunk's topologies are recorded as
soon as it is trained, and a rerun skips every recorded topology. Inside a chunk, the frontend's
trainer keeps a progress file (per epoch) in the folder it is given, so Ctrl-C loses at most an
epoch: rerunning resumes the interrupted chunk where it stopped.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from snn_core.errors import InputError
from snn_core.search import bind_study, resumable, storage_label
from snn_core.strategies import Strategy
from snn_core.topology import ASC, DSC, NONE, SkipTopology
from snn_core.zero_cost import PROXIES, kendall_tau

__all__ = [
    "MemberFit",
    "open_strategy_study",
    "sampler_studies",
    "rank_topologies",
    "stored_proxy_scores",
    "strategy_report",
    "train_topologies",
    "winner",
]

ZERO_COST_CHUNK = 200  # zero-cost scores per study user attribute (each attribute stays small)


def open_strategy_study(
    storage: optuna.storages.BaseStorage, study_name: str, strategy: Strategy, settings: Mapping[str, object]
) -> optuna.Study:
    """Open (creating if needed) the study of ``strategy``, bound to ``settings`` and the
    strategy's own (:meth:`Strategy.settings` holds them, with its seeds).

    Raises:
        InputError: the study holds a sampler's trials or another strategy's, or was run with
            other settings (:func:`snn_core.search.bind_study`).
    """
    try:
        stored = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        stored = None
    kind = None if stored is None else stored.user_attrs.get("strategy")
    if stored is not None and kind != strategy.name and (kind is not None or stored.trials):
        raise InputError(
            f"{storage_label(storage)}, study {study_name!r}",
            "strategy",
            f"a study of the {strategy.name} strategy, not of {f'the {kind} strategy' if kind else 'a sampler'} "
            "(use another study name or storage)",
        )
    return bind_study(storage, study_name, settings)


@dataclass(frozen=True)
class MemberFit:
    """One trained (topology, seed) member: its validation score (NaN: diverged), its validation
    curve (one score per epoch run) and its share of the training seconds."""

    score: float
    curve: list[float]
    seconds: float


def _params(topology: str) -> tuple[dict[str, int], dict[str, CategoricalDistribution]]:
    """The trial parameters :func:`snn_core.search.suggest_topology` gives ``topology``."""
    params = {}
    for block, m in enumerate(SkipTopology.from_string(topology).matrices()):
        for i, j in zip(*np.triu_indices(len(m), k=1)):
            params[f"b{block}_{i}_{j}"] = int(m[i, j])
    return params, {k: CategoricalDistribution((NONE, DSC, ASC)) for k in params}


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _record(study: optuna.Study, topology: str, seeds: Sequence[int], fits: Sequence[MemberFit]) -> FrozenTrial:
    """Add one finished trial for ``topology`` trained with ``seeds`` (module docstring)."""
    scores = [float(f.score) for f in fits]
    longest = max((len(f.curve) for f in fits), default=0)
    mean_curve = {epoch + 1: float(np.mean([f.curve[epoch] for f in fits if len(f.curve) > epoch])) for epoch in range(longest)}
    ok = all(math.isfinite(s) for s in scores)
    params, distributions = _params(topology)
    trial = optuna.trial.create_trial(
        state=TrialState.COMPLETE if ok else TrialState.FAIL,
        value=float(np.mean(scores)) if ok else None,
        params=params,
        distributions=distributions,
        user_attrs={
            "topology": topology,
            "seeds": list(seeds),
            "seed_scores": [_finite(s) for s in scores],
            "curves": [[_finite(v) for v in f.curve] for f in fits],
            "seconds": float(sum(f.seconds for f in fits)),
        },
        intermediate_values={k: v for k, v in mean_curve.items() if math.isfinite(v)} if ok else None,
    )
    study.add_trial(trial)
    return study.trials[-1]


def _add_seconds(study: optuna.Study, key: str, seconds: float) -> None:
    study.set_user_attr(key, float(study.user_attrs.get(key, 0.0)) + seconds)


def train_topologies(
    study: optuna.Study,
    topologies: Sequence[str],
    seeds: Sequence[int],
    train_chunk: Callable[[list[tuple[str, int]], Path | None], list[MemberFit]],
    per_chunk: int,
    progress_dir: str | Path | None = None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
) -> int:
    """Train every topology not yet recorded in ``study``, ``seeds`` each, one chunk at a time.

    Args:
        study: the strategy's study (bound to its settings).
        topologies: what to train, in order; chunks are consecutive slices of it, so that a rerun
            forms the same chunks.
        seeds: the seeds of every topology.
        train_chunk: trains the (topology, seed) members of one chunk as one population and
            returns their fits in that order; it is given a folder for its progress files (None:
            no progress kept), which is removed once the chunk is recorded.
        per_chunk: topologies per chunk.
        progress_dir: where the chunks' progress folders go (None: none kept).
        callbacks: called with (study, trial) after each recorded topology, e.g.
            :func:`snn_core.search.trial_printer`.

    Returns:
        The number of topologies trained by this call.

    Raises:
        SearchInterrupted: on Ctrl-C; recorded topologies and the progress files are kept.
    """
    per_chunk = max(1, int(per_chunk))
    trained = 0
    with resumable():
        for k in range(0, len(topologies), per_chunk):
            done = {t.user_attrs.get("topology") for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
            pending = [t for t in topologies[k : k + per_chunk] if t not in done]
            if not pending:
                continue
            folder = None if progress_dir is None else Path(progress_dir) / f"chunk{k // per_chunk:05d}"
            started = time.perf_counter()
            fits = train_chunk([(t, s) for t in pending for s in seeds], folder)
            for i, topology in enumerate(pending):
                trial = _record(study, topology, seeds, fits[i * len(seeds) : (i + 1) * len(seeds)])
                for callback in callbacks:
                    callback(study, trial)
            _add_seconds(study, "strategy_seconds", time.perf_counter() - started)
            trained += len(pending)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
    if progress_dir is not None and Path(progress_dir).is_dir() and not any(Path(progress_dir).iterdir()):
        Path(progress_dir).rmdir()
    return trained


def stored_proxy_scores(study: optuna.Study) -> dict[str, dict[str, float | None]]:
    """The zero-cost scores stored in ``study``: per topology, per proxy (None: singular, -inf)."""
    scores = {}
    for key in sorted(k for k in study.user_attrs if k.startswith("zero_cost_")):
        scores.update(study.user_attrs[key])
    return scores


def rank_topologies(
    study: optuna.Study,
    topologies: Sequence[str],
    score_chunk: Callable[[list[str]], Mapping[str, np.ndarray]],
    proxy: str,
) -> list[str]:
    """Every topology ranked by ``proxy`` at initialisation, best first (ties: the order given).

    Scores are computed ``ZERO_COST_CHUNK`` topologies at a time by ``score_chunk`` (per proxy,
    one score per topology) and stored in the study as they come, so a rerun does not score
    again. A singular kernel's ``-inf`` is stored as None and ranks last.
    """
    with resumable():
        stored = stored_proxy_scores(study)
        for k in range(0, len(topologies), ZERO_COST_CHUNK):
            chunk = [t for t in topologies[k : k + ZERO_COST_CHUNK] if t not in stored]
            if not chunk:
                continue
            started = time.perf_counter()
            scores = score_chunk(chunk)
            fresh = {t: {p: _finite(v[i]) for p, v in scores.items()} for i, t in enumerate(chunk)}
            study.set_user_attr(f"zero_cost_{len([a for a in study.user_attrs if a.startswith('zero_cost_')]):05d}", fresh)
            elapsed = time.perf_counter() - started
            _add_seconds(study, "ranking_seconds", elapsed)
            _add_seconds(study, "strategy_seconds", elapsed)
            stored.update(fresh)
    order = {t: i for i, t in enumerate(topologies)}

    def key(topology: str) -> tuple[float, int]:
        value = stored[topology].get(proxy)
        return (-value if value is not None else math.inf, order[topology])

    return sorted(topologies, key=key)


def winner(study: optuna.Study, among: Sequence[str] | None = None) -> FrozenTrial:
    """The completed trial of the best mean score, of the topologies ``among`` (None: of all);
    ties: the first.

    Raises:
        ValueError: when none of them completed.
    """
    wanted = None if among is None else set(among)
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if wanted is None or t.user_attrs.get("topology") in wanted
    ]
    if not complete:
        raise ValueError(f"no topology of study {study.study_name!r} completed")
    return max(complete, key=lambda t: (t.value, -t.number))


def strategy_report(study: optuna.Study, strategy: Strategy, ranking: Sequence[str] | None = None) -> dict:
    """The strategy's part of a search report: its settings, every trained topology's per-seed
    scores, the wall time, and for zero-cost the ranking, the proxies' scores and each proxy's
    Kendall tau against the mean validation score over the trained topologies."""
    trials = [t for t in study.get_trials(deepcopy=False) if "seed_scores" in t.user_attrs]
    report = {
        "name": strategy.name,
        "seeds": study.user_attrs.get("seeds"),
        "precision": strategy.precision,
        "trained": len(trials),
        "wall_s": float(study.user_attrs.get("strategy_seconds", 0.0)),
        "scores": {
            t.user_attrs["topology"]: {"mean": t.value, "seeds": t.user_attrs["seed_scores"], "seconds": t.user_attrs["seconds"]}
            for t in trials
        },
    }
    if strategy.name == "zero-cost":
        proxies = stored_proxy_scores(study)
        means = {t.user_attrs["topology"]: t.value for t in trials if t.value is not None}
        tau = {}
        for proxy in PROXIES:
            pairs = [(proxies[t][proxy], v) for t, v in means.items() if proxies.get(t, {}).get(proxy) is not None]
            tau[proxy] = kendall_tau([p for p, _ in pairs], [v for _, v in pairs]) if pairs else None
        report.update(
            proxy=strategy.proxy,
            top=strategy.top_k(len(ranking or [])),
            ranking_s=float(study.user_attrs.get("ranking_seconds", 0.0)),
            ranking=list(ranking or []),
            zero_cost=proxies,
            kendall_tau_trained=tau,
        )
    return report


def sampler_studies(storage: optuna.storages.BaseStorage, key: str, identity: object) -> list[dict]:
    """The samplers' studies in ``storage`` whose user attribute ``key`` is ``identity`` (the same
    data and settings), for a strategy's report beside them: name, finished trials, best score and
    topology, and wall time (the sum of the trials' durations)."""
    found = []
    for summary in storage.get_all_studies():
        if summary.user_attrs.get(key) != identity or "strategy" in summary.user_attrs:
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not trials or len(study.directions) > 1:
            continue
        best = max(trials, key=lambda t: (t.value, -t.number))
        found.append(
            {
                "study": summary.study_name,
                "trials": len(trials),
                "best_score": best.value,
                "best_topology": best.user_attrs.get("topology"),
                "wall_s": sum(t.duration.total_seconds() for t in study.trials if t.duration is not None),
            }
        )
    return found
