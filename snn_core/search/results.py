"""What a finished study reports: the frontends' result records, running bests, Pareto fronts,
and one printed line per trial."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState


@dataclass(frozen=True)
class StudyOutcome:
    """What a frontend's search result reports of a study; the frontends' result types extend it.

    Attributes:
        study: the study's name.
        trials: one record per trial, in trial order (the frontend's type).
        best_so_far: the best score after each completed trial (:func:`best_so_far`).
        best_trial, best_topology: the best trial's number and topology.
    """

    study: str
    trials: tuple
    best_so_far: tuple[float, ...]
    best_trial: int
    best_topology: str


def best_so_far(study: optuna.Study) -> list[float]:
    """The best score after each completed trial, in trial order (for sampler comparisons); with
    several objectives, of the first one (the score). Pruned trials have no score and are left out."""
    values = [t.values[0] for t in sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)]
    if not values:
        return []
    minimize = study.directions[0] == optuna.study.StudyDirection.MINIMIZE
    running = np.minimum.accumulate if minimize else np.maximum.accumulate
    return [float(v) for v in running(np.asarray(values, dtype=float))]


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The completed trials no other completed trial beats in every objective, by trial number
    (a repeated topology appears once, as its first trial)."""
    front = sorted(study.best_trials, key=lambda t: t.number)
    return [t for t in front if "repeat_of" not in t.user_attrs]


def trial_printer(
    metric: str,
    label: Callable[[optuna.Study], str] = lambda study: "",
    file: TextIO | None = None,
) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A :func:`~snn_core.search.run_search` callback printing one line per finished trial.

    The line holds ``label(study)``, the trial, its topology, its score as ``metric`` (e.g.
    ``"validation R2"``) and the best so far (with several objectives: every value and the size
    of the Pareto front); a repeated topology names the trial it repeats, a pruned one its last
    epoch.
    """

    def print_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        head = f"{label(study)}trial {trial.number:3d}  {trial.user_attrs.get('topology', '?')}"
        repeat = f"  (as trial {trial.user_attrs['repeat_of']})" if "repeat_of" in trial.user_attrs else ""
        if trial.state == TrialState.PRUNED:
            line = f"{head}  pruned after epoch {trial.last_step}{repeat}"
        elif trial.state != TrialState.COMPLETE:
            line = f"{head}  {trial.state.name.lower()}"
        elif len(trial.values) > 1:
            values = "  ".join(f"{v:.4g}" for v in trial.values)
            line = f"{head}  {metric} {values}{repeat}  Pareto front {len(pareto_front(study))} trials"
        else:
            best = study.best_trial
            line = f"{head}  {metric} {trial.value:.3f}{repeat}  best {best.value:.3f} ({best.user_attrs['topology']})"
        print(line, file=file if file is not None else sys.stdout, flush=True)

    return print_trial
