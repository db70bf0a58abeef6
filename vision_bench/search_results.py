"""What a vision skip-topology search returns (:func:`vision_bench.search.run_vision_search`):
frozen records whose ``to_dict`` is the JSON report, ``search.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from snn_core.search import StudyOutcome
from vision_bench.verdicts import Claim


@dataclass(frozen=True)
class ScoredTopology:
    """A trunk topology (stem included, e.g. ``1-_3-210``) with its validation and test accuracy."""

    topology: str
    validation_accuracy: float
    test_accuracy: float


@dataclass(frozen=True)
class SamplerSearch(StudyOutcome):
    """One sampler's study (:class:`~snn_core.search.StudyOutcome`, trials as JSON rows) and its times.

    ``wall_s`` is the study's trials as run (reusing trainings of other studies); ``alone_s``
    what it would have taken training every topology itself; ``trainings`` the fits it ran.
    """

    best_validation_accuracy: float
    wall_s: float
    trainings: int
    alone_s: float

    def to_dict(self) -> dict:
        return {
            "study": self.study,
            "trials": list(self.trials),
            "best_so_far": list(self.best_so_far),
            "best": {
                "trial": self.best_trial,
                "topology": self.best_topology,
                "validation_accuracy": self.best_validation_accuracy,
            },
            "wall_s": self.wall_s,
            "trainings": self.trainings,
            "alone_s": self.alone_s,
        }


@dataclass(frozen=True)
class VisionSearchResult:
    """What :func:`run_vision_search` found; :meth:`to_dict` is the JSON report (``search.json``)."""

    dataset: str
    root: str
    data: dict  # recordings per set (fit, validation, test), classes, frame shape
    config: dict  # the data, model and train tables
    samplers: tuple[str, ...]
    trials: int
    seed: int
    layers_per_block: tuple[int, ...]
    search_space_size: int
    ann_validation_accuracy: dict[str, float]
    start_variant: str
    start: ScoredTopology
    best: ScoredTopology
    found_by: tuple[str, ...]
    searches: dict[str, SamplerSearch]
    storage: str  # URL, password masked
    claims: tuple[Claim, ...] = ()  # :func:`judge_search`
    runtime_s: float = 0.0
    paths: tuple[Path, ...] = field(default=(), compare=False)
    strategy: dict | None = None  # a population strategy's report (snn_core.strategy_runs.strategy_report)

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "root": self.root,
            "data": self.data,
            "config": self.config,
            "samplers": list(self.samplers),
            "trials": self.trials,
            "seed": self.seed,
            "layers_per_block": list(self.layers_per_block),
            "search_space_size": self.search_space_size,
            "ann_validation_accuracy": self.ann_validation_accuracy,
            "start": {"variant": self.start_variant, **vars(self.start)},
            "best": {**vars(self.best), "found_by": list(self.found_by)},
            "searches": {s: r.to_dict() for s, r in self.searches.items()},
            "claims": [c.to_dict() for c in self.claims],
            "runtime_s": self.runtime_s,
            "storage": self.storage,
            **({"strategy": self.strategy} if self.strategy is not None else {}),
        }
