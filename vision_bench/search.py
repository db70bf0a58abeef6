"""Skip-topology search on the vision benchmark: the paper's claims 3 and 4 with numbers.

Benmeziane et al. (2023) adapt an ANN topology to an SNN by optimising the position, type and
number of its skips, gaining about 8% accuracy (claim 3), and find Bayesian optimisation better
than random search (claim 4; docs/data.md). :func:`run_vision_search` starts from the ANN-derived
topology (the variant whose ANN twin scores best on validation), searches the skip blocks'
adjacency matrices (the stem stays ``1-``) with each requested sampler through
:func:`snn_core.search.run_search`, and scores on the test split only the start and the winner.

Selection uses a validation set carved out of the training split, never the test split
(:mod:`vision_bench.search_task`). Each sampler has its own study in one storage, and each tries
the ANN-derived start first. A topology is trained once per storage: its score is reused by
every study (the objective is deterministic, its seed fixed), and the time each study would have
needed alone is reported beside its own. Every study is tied to the data, model and training
settings and its sampler seed by :func:`snn_core.search.bind_study` (user attributes
``objective`` and ``seed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from snn_core import search as core_search
from snn_core.errors import InputError, NoTrialCompleted
from snn_core.search import (
    SearchRequest,
    best_so_far,
    default_storage,
    open_storage,
    resumable,
    run_search,
    sampler_label,
    shown_url,
    topology_params,
)
from snn_core.strategies import Strategy
from snn_core.topology import SkipTopology, search_space_size
from vision_bench.claims import judge_search
from vision_bench.config import AnalysisConfig
from vision_bench.data import VALIDATION_SHARE, validation_split
from vision_bench.models import STEM, VisionNetwork, trunk_topology
from vision_bench.search_report import write_report
from vision_bench.search_results import SamplerSearch, ScoredTopology, VisionSearchResult
from vision_bench.search_strategies import population_search
from vision_bench.search_task import SearchTask, load_task
from vision_bench.train import evaluate

DEFAULT_PREFIX = "vision-search"

__all__ = [
    "VALIDATION_SHARE",
    "NoTrialCompleted",
    "SamplerSearch",
    "ScoredTopology",
    "SearchRequest",
    "VisionSearchResult",
    "judge_search",
    "run_vision_search",
    "trunk_topology",
    "validation_split",
]


@dataclass
class _Trained:
    """Every topology trained under one identity in this storage: validation scores and seconds
    (stored, so reused across studies and runs) and the models trained in this process."""

    scores: dict[str, float]
    seconds: dict[str, float]
    models: dict[str, VisionNetwork] = field(default_factory=dict)

    def score(self, task: SearchTask, blocks: SkipTopology) -> float:
        key = str(blocks)
        if key not in self.scores:
            self.models[key], self.scores[key], self.seconds[key] = task.fit(blocks)
        return self.scores[key]


def _stored(storage: optuna.storages.BaseStorage, identity: dict) -> _Trained:
    """Validation scores and training seconds of every topology stored under ``identity``."""
    scores, seconds = {}, {}
    # a population strategy's trial holds a mean over seeds: only the samplers' single fits are reused
    studies = storage.get_all_studies()
    for summary in (s for s in studies if s.user_attrs.get("objective") == identity and "strategy" not in s.user_attrs):
        seconds.update(summary.user_attrs.get("train_seconds", {}))
        for t in optuna.load_study(study_name=summary.study_name, storage=storage).get_trials(states=(TrialState.COMPLETE,)):
            scores[t.user_attrs["topology"]] = t.value
    return _Trained(scores, seconds)


def _sampler_record(study: optuna.Study, seconds: dict[str, float]) -> SamplerSearch:
    """Trials, best-so-far curve, best, wall time and the time the study would have taken alone."""
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    if not complete:
        raise NoTrialCompleted(f"no trial of study {study.study_name!r} completed")
    trials = [
        {
            "number": t.number,
            "topology": f"{STEM}_{t.user_attrs['topology']}" if "topology" in t.user_attrs else None,
            "state": t.state.name.lower(),
            "validation_accuracy": t.value,
            "seconds": t.duration.total_seconds() if t.duration else None,
        }
        for t in study.trials
    ]
    wall = sum(t["seconds"] or 0.0 for t in trials)
    own = study.user_attrs.get("train_seconds", {})
    distinct = {t.user_attrs["topology"] for t in complete}
    best = study.best_trial
    return SamplerSearch(
        study=study.study_name,
        trials=tuple(trials),
        best_so_far=tuple(best_so_far(study)),
        best_trial=best.number,
        best_topology=trials[best.number]["topology"],
        best_validation_accuracy=best.value,
        wall_s=wall,
        trainings=len(own),
        alone_s=wall - sum(own.values()) + sum(seconds.get(t, 0.0) for t in distinct),
    )


def run_vision_search(
    dataset: str,
    root: str | Path,
    config: AnalysisConfig,
    request: SearchRequest | None = None,
    *,
    samplers: Sequence[str | optuna.samplers.BaseSampler] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    out: str | Path | None = None,
    strategy: Strategy | None = None,
) -> VisionSearchResult:
    """Search the skip topology with each sampler, then test the start and the best topology.

    Args:
        dataset, root: the data (see :func:`vision_bench.data.load_frames`).
        config: data, model and training settings; ``analysis.variants`` are the candidates for
            the ANN-derived start (ties go to the one listed first).
        request: the settings every study shares (:class:`~snn_core.search.SearchRequest`; None:
            its defaults): trials each study should hold, the samplers' seed (default 0; training
            uses ``config.train.seed``), pruner (every trial reports its validation accuracy per
            epoch, and a pruned trial stops early), storage (rerunning with the same one resumes
            every study; default: :func:`~snn_core.search.default_storage` of ``out``) and the
            prefix of the study names as ``study``: ``{study}-{sampler}`` and
            ``{study}-ann-start`` (default ``vision-search``). One process, one score: workers
            and objectives keep their defaults.
        samplers: the samplers compared, each in its own study (default: the request's sampler,
            or none beside a ``strategy``).
        progress, log, callbacks: per-epoch progress bars; a receiver of one line per stage;
            :func:`~snn_core.search.run_search`'s callbacks, called after every trial.
        out: folder to write the report to (``search.json``, ``search.md``,
            ``search_convergence.png``; :mod:`vision_bench.search_report`), or None to write nothing.
        strategy: a population strategy (:mod:`snn_core.strategies`), run in study
            ``{study}-{strategy}`` before the samplers (:mod:`vision_bench.search_strategies`);
            its best is the topology of the best mean validation accuracy over its seeds, tested
            with every seed's model.

    Returns:
        Data sizes, start, per-sampler searches, best, claims, runtime and the paths written.

    Raises:
        InputError: impossible request values, bad data, a storage that does not open, or a
            stored study with other settings.
        NoTrialCompleted: every trial of a study failed.
        SearchInterrupted: on Ctrl-C; rerunning the same call resumes.
    """
    request = (request or SearchRequest()).check()
    if request.workers != 1:
        raise InputError("search request", "workers", f"1 (the vision search runs in one process), got {request.workers}")
    if request.objectives != ("score",):
        raise InputError("search request", "objectives", f"('score',) for the vision search, got {request.objectives!r}")
    if request.storage is None and out is None:
        raise ValueError("run_vision_search needs a storage URL or an out folder for its default storage")
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    prefix = request.study or DEFAULT_PREFIX
    request = replace(
        request, seed=0 if request.seed is None else request.seed, storage=request.storage or default_storage(out), study=prefix
    )
    if samplers is None:
        samplers = () if strategy is not None else (request.sampler,)
    started = time.perf_counter()
    with resumable():
        task = load_task(dataset, root, config, progress)
        store = open_storage(request.storage, request.heartbeat_s)
        searches, found, report = {}, None, None
        trained = _stored(store, task.identity)
        start_variant, ann = _ann_start(task, store, prefix, config.variants, log)
        start = task.variant_blocks(start_variant)
        if strategy is not None:
            progress_dir = Path(out) / f"{prefix}-{strategy.name}-progress" if out is not None else None
            searches[strategy.name], found, report = population_search(
                task,
                strategy,
                store,
                study_name=f"{prefix}-{strategy.name}",
                progress_dir=progress_dir,
                log=log,
                callbacks=callbacks,
            )
        for sampler in samplers:
            name = sampler_label(sampler)
            study_request = replace(request, sampler=sampler, study=f"{prefix}-{name}")
            searches[name] = _sampler_search(task, study_request, store, start, trained, log, callbacks)
        if strategy is not None:
            for name, record in _beside(store, prefix, task.identity, trained.seconds).items():
                searches.setdefault(name, record)
            winner = searches[strategy.name].best_topology
        else:
            winner = max(searches.values(), key=lambda r: r.best_validation_accuracy).best_topology

        def test(topology: str) -> ScoredTopology:
            key = topology.split("_", 1)[1]
            if key not in trained.models:  # trained by an earlier run: refit (deterministic given its seed)
                trained.models[key], trained.scores[key], trained.seconds[key] = task.fit(SkipTopology.from_string(key))
            accuracy = evaluate(trained.models[key], task.test_set, config.train.batch_size)
            return ScoredTopology(topology, trained.scores[key], accuracy)

        result = VisionSearchResult(
            dataset=dataset,
            root=str(root),
            data=task.data,
            config={k: v for k, v in config.to_dict().items() if k in ("data", "model", "train")},
            samplers=tuple(searches),
            trials=request.trials if strategy is None else len(searches[strategy.name].trials),
            seed=request.seed,
            layers_per_block=task.layers,
            search_space_size=search_space_size(task.layers),
            ann_validation_accuracy={v: ann[v] for v in config.variants},
            start_variant=start_variant,
            start=test(str(trunk_topology(start))),
            best=found if found is not None and found.topology == winner else test(winner),
            found_by=tuple(s for s, r in searches.items() if r.best_topology == winner),
            searches=searches,
            storage=shown_url(request.storage),
            strategy=report,
        )
    result = replace(result, claims=judge_search(result.to_dict()), runtime_s=time.perf_counter() - started)
    if out is not None:
        result = replace(result, paths=write_report(result, Path(out)))
    return result


def _ann_start(
    task: SearchTask, store: optuna.storages.BaseStorage, prefix: str, variants: Sequence[str], log: Callable[[str], None]
) -> tuple[str, dict[str, float]]:
    """The ANN-derived start: the variant whose ANN twin scores best on validation (ties: the one
    listed first), and every twin's validation accuracy."""
    ann_study = core_search.bind_study(store, f"{prefix}-ann-start", {"objective": task.identity})
    for variant in variants:  # resumable: each twin's score is stored as soon as it is known
        if variant not in ann_study.user_attrs.get("ann_validation_accuracy", {}):
            _, accuracy, _ = task.fit(task.variant_blocks(variant), "ann")
            ann_study.set_user_attr(
                "ann_validation_accuracy", {**ann_study.user_attrs.get("ann_validation_accuracy", {}), variant: accuracy}
            )
            log(f"ANN twin {variant}: validation accuracy {accuracy:.3f}")
    ann = ann_study.user_attrs["ann_validation_accuracy"]
    return max(variants, key=lambda v: (ann[v], -list(variants).index(v))), ann


def _sampler_search(
    task: SearchTask,
    request: SearchRequest,
    store: optuna.storages.BaseStorage,
    start: SkipTopology,
    trained: _Trained,
    log: Callable[[str], None],
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]],
) -> SamplerSearch:
    """One sampler's study, its first trial the ANN-derived start."""
    settings = {"objective": task.identity, "seed": request.seed}
    study = core_search.bind_study(store, request.study, settings)
    if not study.trials:
        study.enqueue_trial(topology_params(start))

    def objective(blocks: SkipTopology) -> float:
        key = str(blocks)
        if key not in trained.scores:
            trained.score(task, blocks)
            study.set_user_attr("train_seconds", {**study.user_attrs.get("train_seconds", {}), key: trained.seconds[key]})
        return trained.scores[key]

    log(
        f"searching {search_space_size(task.layers):,} topologies of blocks {list(task.layers)} with {request.sampler_label}, "
        f"{request.trials} trials, pruner {request.pruner_label}"
    )
    run_search(objective, task.layers, request, storage=store, settings=settings, callbacks=callbacks)
    return _sampler_record(optuna.load_study(study_name=study.study_name, storage=store), trained.seconds)


def _beside(
    store: optuna.storages.BaseStorage, prefix: str, identity: dict, seconds: dict[str, float]
) -> dict[str, SamplerSearch]:
    """The samplers' studies of this storage and settings, shown beside a population strategy."""
    records = {}
    for summary in store.get_all_studies():
        name = summary.study_name.removeprefix(f"{prefix}-")
        if name in core_search.SAMPLER_NAMES and summary.user_attrs.get("objective") == identity:
            study = optuna.load_study(study_name=summary.study_name, storage=store)
            if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                records[name] = _sampler_record(study, seconds)
    return records
