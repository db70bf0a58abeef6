"""What a skip-topology search of the SNN decoder returns (:func:`bmi_decoder.search.search_topology`):
frozen records whose ``to_dict`` is the JSON report, ``search.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bmi_decoder.decoders import Decoder
from snn_core.search import StudyOutcome


@dataclass(frozen=True)
class SearchTrial:
    """One trial of the study: its topology (None if it failed before drawing one), state, score,
    its cost when the search has a second objective, and the worker (``host:pid``) that ran it."""

    number: int
    topology: str | None
    state: str
    validation_r2: float | None
    cost: float | None = None
    worker: str | None = None


@dataclass(frozen=True)
class SearchResult(StudyOutcome):
    """What :func:`search_topology` found and wrote.

    Attributes:
        session: the recording searched on (its path, or its source for an in-memory one).
        session_sha256: SHA-256 of its binned session (module docstring).
        study, trials, best_so_far, best_trial, best_topology: as in
            :class:`~snn_core.search.StudyOutcome`; ``trials`` holds :class:`SearchTrial` records.
        storage: the storage URL, password masked.
        sampler, seed: the sampler and the seed of it and of every fit.
        hidden: the block's layer widths.
        search_space_size: topologies of the block.
        validation_r2, test_r2: the best topology's scores.
        objectives: ``("score",)``, or the score and its cost (``"energy"`` or ``"synops"``).
        pruner: the pruner of this run (:data:`snn_core.search.PRUNERS`).
        pareto_front: with a cost, the trials on the Pareto front, by cost: trial, topology,
            validation R2 and cost.
        paths: the files written (the report ``search.json``, the decoder ``best.pt`` and, with a
            cost, the figure ``search_pareto.png``).
        decoder: the best decoder, fitted.
        wall_s: the search's wall time: its trials' durations (a sampler), or the time its
            population strategy spent ranking and training (:mod:`snn_core.strategies`).
        strategy: a population strategy's report (:func:`snn_core.strategies.strategy_report`:
            every trained topology's per-seed scores, the ranking of zero-cost), else None.
            ``sampler`` then names the strategy, and ``validation_r2`` and ``test_r2`` are the
            winner's means over its seeds.
    """

    session: str
    session_sha256: str
    storage: str
    sampler: str
    seed: int
    hidden: tuple[int, ...]
    search_space_size: int
    validation_r2: float
    test_r2: float
    objectives: tuple[str, ...] = ("score",)
    pruner: str = "none"
    pareto_front: tuple[dict, ...] = ()
    paths: tuple[Path, ...] = ()
    decoder: Decoder | None = field(default=None, compare=False, repr=False)
    wall_s: float = 0.0
    strategy: dict | None = None

    def to_dict(self) -> dict:
        """The JSON report (``search.json``)."""
        return {
            "session": self.session,
            "session_sha256": self.session_sha256,
            "study": self.study,
            "storage": self.storage,
            "sampler": self.sampler,
            "seed": self.seed,
            "layers": len(self.hidden),
            "hidden": list(self.hidden),
            "search_space_size": self.search_space_size,
            "objectives": list(self.objectives),
            "pruner": self.pruner,
            "trials": [vars(t) for t in self.trials],
            "best_so_far": list(self.best_so_far),
            "best": {
                "trial": self.best_trial,
                "topology": self.best_topology,
                "validation_r2": self.validation_r2,
                "test_r2": self.test_r2,
            },
            "pareto_front": list(self.pareto_front),
            "wall_s": self.wall_s,
            **({"strategy": self.strategy} if self.strategy is not None else {}),
        }
