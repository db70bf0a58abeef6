"""The population strategies of the vision search: exhaustive and zero-cost (:mod:`snn_core.strategies`).

:func:`vision_bench.search.run_vision_search` runs one of these in place of its samplers when it
is given a :class:`~snn_core.strategies.Strategy`. Every (blocks topology, seed) member is
trained by :func:`vision_bench.population.train_population`, which equals
:func:`vision_bench.train.train` from the same seed; a topology's score is the mean over its
seeds of the last epoch's validation accuracy (what a solo trial of the samplers scores). The
seeds are ``[train] seed`` and the next ones, so the first seed's member is the model a sampler's
trial trains.

Zero-cost ranks the topologies before any training (:func:`snn_core.zero_cost.score_topologies`):
each trunk is built with its initial weights from the first seed and reads the same
:data:`ZERO_COST_SAMPLES` recordings of the fit set, drawn with that seed.

The winner, of the best mean validation accuracy, is scored on the test split with every seed's
model; the report gives the means.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import optuna
import torch
from torch.utils.data import Dataset

from snn_core.errors import NoTrialCompleted
from snn_core.search import best_so_far
from snn_core.strategies import Strategy
from snn_core.strategy_runs import MemberFit, open_strategy_study, rank_topologies, strategy_report, train_topologies, winner
from snn_core.zero_cost import score_topologies
from vision_bench import population
from vision_bench.models import STEM, VisionModelConfig, build_vision_model, trunk_topology
from vision_bench.search_results import SamplerSearch, ScoredTopology
from vision_bench.search_task import SearchTask
from vision_bench.train import evaluate, time_major

__all__ = ["ZERO_COST_SAMPLES", "population_search", "topologies_per_chunk", "zero_cost_frames"]

ZERO_COST_SAMPLES = 32  # recordings in the zero-cost mini-batch: the kernels are 32 x 32
ZERO_COST_GROUP = 16  # topologies scored as one population
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}


def zero_cost_frames(data: Dataset, seed: int, samples: int = ZERO_COST_SAMPLES) -> torch.Tensor:
    """``samples`` distinct recordings of ``data`` drawn with ``seed``, time-major (T, N, C, H, W)."""
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(data), size=min(samples, len(data)), replace=False))
    return time_major(torch.stack([data[int(i)][0] for i in chosen]), torch.device("cpu")).contiguous()


def topologies_per_chunk(
    model: VisionModelConfig, frame_shape: Sequence[int], batch_size: int, seeds: int, memory_gb: float
) -> int:
    """Topologies trained as one population, all their seeds, in about ``memory_gb``.

    A member's training step holds, per layer, about eight maps of its output's size (current,
    norm, membrane, spikes, the concatenated input and their gradients) for T steps of a batch.
    """
    steps, _, height, width = frame_shape
    units, size = 0, (height, width)
    for channels, depth in [(model.stem_width, 1), *((w, model.depth) for w in model.widths)]:
        units += channels * depth * size[0] * size[1]
        size = (max(1, size[0] // model.pool), max(1, size[1] // model.pool))
    per_member = 4 * 8 * steps * batch_size * units
    return max(1, int(memory_gb * 2**30 // per_member) // max(1, seeds))


def population_search(
    task: SearchTask,
    strategy: Strategy,
    store: optuna.storages.BaseStorage,
    *,
    study_name: str,
    progress_dir: Path | None = None,
    log: Callable[[str], None] = print,
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
) -> tuple[SamplerSearch, ScoredTopology, dict]:
    """Run (or resume) ``strategy`` on the skip blocks of ``task``.

    Args:
        task: the data, model and training, and what the study is tied to
            (:class:`~vision_bench.search_task.SearchTask`).
        strategy: the population strategy and its options.
        store, study_name: the storage and the study's name.
        progress_dir: where interrupted populations keep their progress (None: nowhere).
        log, callbacks: a receiver of one line per stage; called with (study, trial) after each
            recorded topology.

    Returns:
        The study's record (as the samplers' records, its wall time the strategy's), the winner
        (blocks topology with the stem, mean validation and test accuracy over its seeds), and
        the strategy's report (:func:`snn_core.strategy_runs.strategy_report`).

    Raises:
        InputError: bad strategy options, or a stored study of another strategy or settings.
        NoTrialCompleted: every trained topology diverged.
        SearchInterrupted: on Ctrl-C; rerunning resumes.
    """
    fit_set, val_set, test_set = task.fit_set, task.val_set, task.test_set
    model_config, train_config, layers, progress = task.model, task.train, list(task.layers), task.progress
    settings = {"objective": task.identity}
    candidates = strategy.candidates(layers)
    seeds = strategy.seed_list(train_config.seed)
    study = open_strategy_study(store, study_name, strategy, {**settings, **strategy.settings(seeds)})
    log(f"{strategy.name}: {len(candidates):,} topologies of blocks {list(layers)}, seeds {seeds}, {strategy.precision}")
    ranking, to_train = None, list(candidates)
    if strategy.name == "zero-cost":
        frames = zero_cost_frames(fit_set, seeds[0])

        def build(topology: str, seed: int):
            return build_vision_model(model_config, "none", "snn", seed, trunk_topology(topology)).trunk

        def score_chunk(chunk: list[str]) -> dict[str, np.ndarray]:
            return score_topologies(build, chunk, frames, seeds[0], group=ZERO_COST_GROUP)

        ranking = rank_topologies(study, candidates, score_chunk, strategy.proxy)
        to_train = ranking[: strategy.top_k(len(candidates))]
        log(
            f"ranked by {strategy.proxy} in {study.user_attrs.get('ranking_seconds', 0.0):.1f} s; training the top {len(to_train)}"
        )
    kept: dict = {}

    def train(members: list[tuple[str, int]], checkpoint: Path | None):
        return population.train_population(
            model_config,
            members,
            fit_set,
            val_set,
            train_config,
            precision=PRECISIONS[strategy.precision],
            checkpoint=None if checkpoint is None else str(checkpoint),
            progress=progress,
        )

    def train_chunk(members: list[tuple[str, int]], folder: Path | None) -> list[MemberFit]:
        run = train(members, None if folder is None else folder / "population.pt")
        fits = [MemberFit(c[-1] if c else math.nan, list(c), run.seconds_per_member) for c in run.curves]
        for k in range(0, len(members), len(seeds)):
            mean = float(np.mean([f.score for f in fits[k : k + len(seeds)]]))
            if math.isfinite(mean) and mean > kept.get("mean", -math.inf):
                kept.update(mean=mean, topology=members[k][0], models=run.models[k : k + len(seeds)])
        return fits

    frame_shape = fit_set[0][0].shape
    per_chunk = topologies_per_chunk(model_config, frame_shape, train_config.batch_size, len(seeds), strategy.memory_gb)
    train_topologies(study, to_train, seeds, train_chunk, per_chunk, progress_dir, callbacks)
    try:
        top = winner(study, to_train)
    except ValueError:
        raise NoTrialCompleted(f"no topology of study {study_name!r} completed (training diverged?)") from None
    best = top.user_attrs["topology"]
    models = kept["models"] if kept.get("topology") == best else train([(best, s) for s in seeds], None).models
    test = [evaluate(m, test_set, train_config.batch_size) for m in models]
    report = {**strategy_report(study, strategy, ranking), "best": {"topology": best, "test_accuracy": test}}
    rows = [
        {
            "number": t.number,
            "topology": f"{STEM}_{t.user_attrs['topology']}" if "topology" in t.user_attrs else None,
            "state": t.state.name.lower(),
            "validation_accuracy": t.value,
            "seed_accuracies": t.user_attrs.get("seed_scores"),
            "seconds": t.user_attrs.get("seconds"),
        }
        for t in study.trials
    ]
    record = SamplerSearch(
        study=study_name,
        trials=tuple(rows),
        best_so_far=tuple(best_so_far(study)),
        best_trial=top.number,
        best_topology=f"{STEM}_{best}",
        best_validation_accuracy=float(top.value),
        wall_s=report["wall_s"],
        trainings=sum(len(t.user_attrs.get("seeds", [])) for t in study.trials),
        alone_s=report["wall_s"],
    )
    return record, ScoredTopology(f"{STEM}_{best}", float(top.value), float(np.mean(test))), report
