"""Skip-topology search on the vision benchmark: the paper's claims 3 and 4 with numbers.

Benmeziane et al. (2023) adapt an ANN topology to an SNN by optimising the position, type and
number of its skips, gaining about 8% accuracy (claim 3), and find Bayesian optimisation better
than random search (claim 4; docs/data.md). :func:`run_vision_search` starts from the ANN-derived
topology (the variant whose ANN twin scores best on validation), searches the skip blocks'
adjacency matrices (the stem stays ``1-``) with each requested sampler through
:func:`snn_core.search.run_search`, and scores on the test split only the start and the winner.

Selection uses a validation set carved out of the training split, never the test split. Each
sampler has its own study in one storage, and each tries the ANN-derived start first. A topology
is trained once per storage: its score is reused by every study (the objective is deterministic,
its seed fixed), and the time each study would have needed alone is reported beside its own.
Every study is tied to the data, model and training settings and its sampler seed by
:func:`snn_core.search.bind_study` (user attributes ``objective`` and ``seed``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState
from torch.utils.data import Subset

from snn_core import search as core_search
from snn_core.errors import InputError, NoTrialCompleted
from snn_core.search import (
    best_so_far,
    default_storage,
    open_storage,
    resumable,
    run_search,
    shown_url,
)
from snn_core.strategies import Strategy
from snn_core.topology import SkipTopology, search_space_size
from vision_bench.claims import judge_search
from vision_bench.config import AnalysisConfig
from vision_bench.data import load_frames
from vision_bench.models import VisionNetwork, build_vision_model, variant_topology
from vision_bench.search_results import SamplerSearch, ScoredTopology, VisionSearchResult
from vision_bench.train import evaluate, train

VALIDATION_SHARE = 0.1
STEM = "1-"  # the stem is a block of one layer: nothing to search there


__all__ = [
    "VALIDATION_SHARE",
    "NoTrialCompleted",
    "SamplerSearch",
    "ScoredTopology",
    "VisionSearchResult",
    "judge_search",
    "run_vision_search",
    "trunk_topology",
    "validation_split",
]


def validation_split(labels: np.ndarray, share: float = VALIDATION_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Indices (fit, validation) into a training split: the last ``share`` of each class.

    The split's own order is kept within a class (files sorted by the split scheme, subjects
    for DVS128 Gesture), so the choice is deterministic; each class gives at least one.

    Raises:
        InputError: a class with fewer than two training recordings (nothing left to fit on).
    """
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    ranked = labels[order]
    rank = np.arange(len(order)) - np.searchsorted(ranked, ranked, side="left")
    size = np.bincount(labels)[ranked]
    if size.min() < 2:
        raise InputError("training split", "recordings per class", "at least 2, to carve out a validation set")
    in_val = rank >= size - np.maximum(1, np.round(size * share))
    return np.sort(order[~in_val]), np.sort(order[in_val])


def trunk_topology(blocks: SkipTopology | str) -> SkipTopology:
    """The whole trunk's topology: the stem's block of one layer, then the skip blocks."""
    return SkipTopology.from_string(f"{STEM}_{blocks}")


def _params(blocks: SkipTopology) -> dict[str, int]:
    """``blocks`` as the trial parameters of :func:`snn_core.search.suggest_topology`."""
    matrices = enumerate(blocks.matrices())
    return {f"b{k}_{i}_{j}": int(m[i, j]) for k, m in matrices for i, j in zip(*np.triu_indices(len(m), k=1))}


def _stored_scores(storage: optuna.storages.BaseStorage, identity: dict) -> tuple[dict[str, float], dict[str, float]]:
    """Validation scores and training seconds of every topology stored under ``identity``."""
    scores, seconds = {}, {}
    # a population strategy's trial holds a mean over seeds: only the samplers' single fits are reused
    studies = storage.get_all_studies()
    for summary in (s for s in studies if s.user_attrs.get("objective") == identity and "strategy" not in s.user_attrs):
        seconds.update(summary.user_attrs.get("train_seconds", {}))
        for t in optuna.load_study(study_name=summary.study_name, storage=storage).get_trials(states=(TrialState.COMPLETE,)):
            scores[t.user_attrs["topology"]] = t.value
    return scores, seconds


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
    samplers: Sequence[str],
    trials: int,
    storage: str | None = None,
    seed: int = 0,
    prefix: str = "vision-search",
    progress: bool = True,
    log: Callable[[str], None] = print,
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
    out: str | Path | None = None,
    pruner: str = "none",
    strategy: Strategy | None = None,
) -> VisionSearchResult:
    """Search the skip topology with each sampler, then test the start and the best topology.

    Args:
        dataset, root: the data (see :func:`vision_bench.data.load_frames`).
        config: data, model and training settings; ``analysis.variants`` are the candidates for
            the ANN-derived start (ties go to the one listed first).
        samplers: names from :data:`snn_core.search.SAMPLERS`, each searched in its own study.
        trials: completed trials each study should hold.
        storage: Optuna RDB URL; rerunning with the same one resumes every study (default:
            :func:`~snn_core.search.default_storage` of ``out``).
        seed: seed of the samplers (training uses ``config.train.seed``).
        prefix: study names are ``{prefix}-{sampler}`` and ``{prefix}-ann-start``.
        progress, log, callbacks: per-epoch progress bars; a receiver of one line per stage;
            :func:`run_search`'s callbacks, called after every trial.
        out: folder to write the report to (``search.json``, ``search.md``,
            ``search_convergence.png``; :mod:`vision_bench.search_report`), or None to write nothing.
        pruner: one of :data:`snn_core.search.PRUNERS`: every trial reports its validation
            accuracy per epoch, and a pruned trial stops early (recorded as pruned, no score).
        strategy: a population strategy (:mod:`snn_core.strategies`), run in study
            ``{prefix}-{strategy}`` before the ``samplers`` (usually none with it;
            :mod:`vision_bench.search_strategies`); its best is the topology of the best mean
            validation accuracy over its seeds, tested with every seed's model.

    Returns:
        Data sizes, start, per-sampler searches, best, claims, runtime and the paths written.

    Raises:
        InputError: bad data, a storage that does not open, or a stored study with other settings.
        NoTrialCompleted: every trial of a study failed.
        SearchInterrupted: on Ctrl-C; rerunning the same call resumes.
    """
    if storage is None and out is None:
        raise ValueError("run_vision_search needs a storage URL or an out folder for its default storage")
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    with resumable():
        result = _search(
            dataset,
            root,
            config,
            samplers,
            trials,
            storage or default_storage(out),
            seed,
            prefix,
            progress,
            log,
            callbacks,
            pruner,
            strategy,
            Path(out) / f"{prefix}-{strategy.name}-progress" if out is not None and strategy is not None else None,
        )
    if out is not None:
        from vision_bench.search_report import write_report

        result = replace(result, paths=write_report(result, Path(out)))
    return result


def _search(
    dataset, root, config, samplers, trials, storage, seed, prefix, progress, log, callbacks, pruner, strategy, progress_dir
) -> VisionSearchResult:
    started = time.perf_counter()
    data = config.data
    train_set, test_set = (
        load_frames(dataset, root, split, data.time_bins, data.size, data.split_scheme, data.cache_dir, progress)
        for split in ("train", "test")
    )
    fit_idx, val_idx = validation_split(train_set.labels)
    fit_set, val_set = Subset(train_set, fit_idx.tolist()), Subset(train_set, val_idx.tolist())
    model_config = replace(config.model, num_classes=train_set.n_classes)
    layers = [model_config.depth] * len(model_config.widths)
    # The device is left out: workers with and without a GPU share one study's scores.
    training = {k: v for k, v in config.to_dict()["train"].items() if k != "device"}
    identity = json.loads(
        json.dumps(
            {
                "dataset": dataset,
                "frames": f"{train_set.cache_file.stem}+{test_set.cache_file.stem}",
                "validation_share": VALIDATION_SHARE,
                "data": config.to_dict()["data"],
                "model": model_config.to_dict(),
                "train": training,
            }
        )
    )
    store = open_storage(storage)
    scores, seconds = _stored_scores(store, identity)
    models: dict[str, VisionNetwork] = {}

    def fit(blocks: SkipTopology, mode: str = "snn"):
        """Train on the fit set; returns (model, validation accuracy, seconds)."""
        topology = trunk_topology(blocks)
        model = build_vision_model(model_config, "none", mode, config.train.seed, topology)
        tic = time.perf_counter()
        history = train(model, fit_set, val_set, config.train, progress=progress, log=None, name=f"{mode} {topology}").history
        return model, history[-1]["val_accuracy"], time.perf_counter() - tic

    def variant_blocks(variant: str) -> SkipTopology:
        return SkipTopology(variant_topology(model_config.family, variant, len(layers), model_config.depth).matrices()[1:])

    ann_study = core_search.bind_study(store, f"{prefix}-ann-start", {"objective": identity})
    for variant in config.variants:  # resumable: each twin's score is stored as soon as it is known
        if variant not in ann_study.user_attrs.get("ann_validation_accuracy", {}):
            _, accuracy, _ = fit(variant_blocks(variant), "ann")
            ann_study.set_user_attr(
                "ann_validation_accuracy", {**ann_study.user_attrs.get("ann_validation_accuracy", {}), variant: accuracy}
            )
            log(f"ANN twin {variant}: validation accuracy {accuracy:.3f}")
    ann = ann_study.user_attrs["ann_validation_accuracy"]
    start_variant = max(config.variants, key=lambda v: (ann[v], -config.variants.index(v)))  # ties: listed first
    start = variant_blocks(start_variant)

    searches, found, report = {}, None, None
    if strategy is not None:
        from vision_bench.search_strategies import population_search

        searches[strategy.name], found, report = population_search(
            strategy,
            store,
            {"objective": identity},
            f"{prefix}-{strategy.name}",
            layers,
            (fit_set, val_set, test_set),
            model_config,
            config.train,
            progress_dir,
            progress,
            log,
            callbacks,
        )
    for sampler in samplers:
        settings = {"objective": identity, "seed": seed}
        study = core_search.bind_study(store, f"{prefix}-{sampler}", settings)
        if not study.trials:
            study.enqueue_trial(_params(start))

        def objective(blocks: SkipTopology, study: optuna.Study = study) -> float:
            key = str(blocks)
            if key not in scores:
                models[key], scores[key], seconds[key] = fit(blocks)
                study.set_user_attr("train_seconds", {**study.user_attrs.get("train_seconds", {}), key: seconds[key]})
            return scores[key]

        log(
            f"searching {search_space_size(layers):,} topologies of blocks {layers} with {sampler}, {trials} trials, pruner {pruner}"
        )
        run_search(
            objective,
            layers,
            sampler,
            trials,
            seed,
            store,
            study.study_name,
            callbacks=callbacks,
            settings=settings,
            pruner=pruner,
        )
        searches[sampler] = _sampler_record(optuna.load_study(study_name=study.study_name, storage=store), seconds)

    def test(topology: str) -> ScoredTopology:
        key = topology.split("_", 1)[1]
        if key not in models:  # trained by an earlier run: refit (deterministic given its seed)
            models[key], scores[key], seconds[key] = fit(SkipTopology.from_string(key))
        return ScoredTopology(topology, scores[key], evaluate(models[key], test_set, config.train.batch_size))

    if strategy is not None:  # the samplers' studies of this storage and settings, shown beside it
        for summary in store.get_all_studies():
            name = summary.study_name.removeprefix(f"{prefix}-")
            if name in core_search.SAMPLER_NAMES and summary.user_attrs.get("objective") == identity:
                study = optuna.load_study(study_name=summary.study_name, storage=store)
                if study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                    searches.setdefault(name, _sampler_record(study, seconds))
        winner = searches[strategy.name].best_topology
    else:
        winner = max(searches.values(), key=lambda r: r.best_validation_accuracy).best_topology
    result = VisionSearchResult(
        dataset=dataset,
        root=str(root),
        data={
            "fit": len(fit_idx),
            "validation": len(val_idx),
            "test": len(test_set),
            "classes": list(train_set.classes),
            "frame_shape": list(train_set.frame_shape),
        },
        config={k: v for k, v in config.to_dict().items() if k in ("data", "model", "train")},
        samplers=tuple(searches),
        trials=trials if strategy is None else len(searches[strategy.name].trials),
        seed=seed,
        layers_per_block=tuple(layers),
        search_space_size=search_space_size(layers),
        ann_validation_accuracy={v: ann[v] for v in config.variants},
        start_variant=start_variant,
        start=test(str(trunk_topology(start))),
        best=found if found is not None and found.topology == winner else test(winner),
        found_by=tuple(s for s, r in searches.items() if r.best_topology == winner),
        searches=searches,
        storage=shown_url(storage),
        strategy=report,
    )
    return replace(result, claims=judge_search(result.to_dict()), runtime_s=time.perf_counter() - started)
