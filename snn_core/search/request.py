"""What a topology search is asked to do: one frozen record that the frontends pass along.

A :class:`SearchRequest` holds the settings that every search shares (sampler, trials, seed,
pruner, objectives, workers, storage and study); the frontends add what they train on. It pickles
(names, numbers, a URL, or Optuna sampler and pruner objects, which pickle), so worker processes
receive it whole. :meth:`SearchRequest.check` refuses impossible values, naming the field; the
command lines name their options instead (:func:`snn_core.cli.checked_search`).
"""

from __future__ import annotations

from dataclasses import dataclass

from snn_core.errors import InputError
from snn_core.search.factories import (
    PRUNERS,
    SAMPLER_NAMES,
    PrunerSpec,
    SamplerSpec,
    make_pruner,
    make_sampler,
    pruner_label,
    prunes,
    sampler_label,
)
from snn_core.search.storage import HEARTBEAT_SECONDS

# What a search can optimise: the validation score, and with it one cost per step of the trained
# model (snn_core.metrics: energy in pJ of its effective operations, or those operations).
OBJECTIVES = {"score": "maximize", "energy": "minimize", "synops": "minimize"}
OBJECTIVE_CHOICES = (("score",), *(("score", cost) for cost in OBJECTIVES if cost != "score"))


def parse_objectives(text: str) -> tuple[str, ...]:
    """``"score,energy"`` as ``("score", "energy")``; :meth:`SearchRequest.check` judges it."""
    return tuple(name.strip() for name in text.split(","))


@dataclass(frozen=True)
class SearchRequest:
    """The settings of one search (one study), shared by every frontend.

    Attributes:
        sampler: one of :data:`~snn_core.search.SAMPLER_NAMES`, or an Optuna sampler (used as
            given, with its own seed).
        trials: finished (completed or pruned) trials the study should hold in the end.
        seed: seeds the sampler; None: the frontend's default (the BMI search: its config's seed).
        pruner: one of :data:`~snn_core.search.PRUNERS`, or an Optuna pruner (single objective
            only).
        objectives: ``("score",)``, or the score and one cost: ``("score", "energy")`` or
            ``("score", "synops")``.
        workers: processes on this machine running the study together.
        storage: an Optuna RDB URL (``sqlite:///FILE``, ``postgresql://USER:PASSWORD@HOST/DB``,
            ``mysql://...``); None: the frontend's default (a SQLite file in its output folder),
            or an in-memory study for :func:`~snn_core.search.run_search`.
        study: the study's name in the storage; None: the frontend's default.
        heartbeat_s: a running trial's heartbeat (:func:`~snn_core.search.open_storage`).
    """

    sampler: SamplerSpec = "tpe"
    trials: int = 20
    seed: int | None = None
    pruner: PrunerSpec = "none"
    objectives: tuple[str, ...] = ("score",)
    workers: int = 1
    storage: str | None = None
    study: str | None = None
    heartbeat_s: int = HEARTBEAT_SECONDS

    @property
    def sampler_label(self) -> str:
        """The sampler's name, or its class's."""
        return sampler_label(self.sampler)

    @property
    def pruner_label(self) -> str:
        """The pruner's name, or its class's."""
        return pruner_label(self.pruner)

    @property
    def direction(self) -> str | list[str]:
        """The study's direction: one, or one per objective (:data:`OBJECTIVES`)."""
        directions = [OBJECTIVES[name] for name in self.objectives]
        return directions if len(directions) > 1 else directions[0]

    def check(self, source: str = "search request") -> SearchRequest:
        """This request, once its values are possible.

        Raises:
            InputError: naming ``source`` and the field: an unknown sampler or pruner, trials,
                workers or heartbeat below 1, other objectives than :data:`OBJECTIVE_CHOICES`,
                or a pruner with several objectives.
        """
        if not isinstance(self.trials, int) or self.trials < 1:
            raise InputError(source, "trials", f"at least 1, got {self.trials}")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise InputError(source, "workers", f"at least 1, got {self.workers}")
        if not isinstance(self.heartbeat_s, int) or self.heartbeat_s < 1:
            raise InputError(source, "heartbeat_s", f"at least 1 second, got {self.heartbeat_s}")
        try:
            make_pruner(self.pruner)
        except ValueError:
            raise InputError(source, "pruner", f"one of {', '.join(PRUNERS)}, got {self.pruner!r}") from None
        if tuple(self.objectives) not in OBJECTIVE_CHOICES:
            got = ",".join(self.objectives) if not isinstance(self.objectives, str) else self.objectives
            raise InputError(source, "objectives", f"score, score,energy or score,synops, got {got!r}")
        if prunes(self.pruner) and len(self.objectives) > 1:
            raise InputError(source, "pruner", "none with several objectives (Optuna prunes on a single objective)")
        try:
            make_sampler(self.sampler, 0)
        except ValueError:
            raise InputError(source, "sampler", f"one of {', '.join(SAMPLER_NAMES)}, got {self.sampler!r}") from None
        return self
