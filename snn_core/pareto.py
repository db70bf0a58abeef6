"""The figure of a multi-objective search: every trial's score against its cost, and the Pareto front.

An implant trades decoding accuracy against power: a topology is worth keeping only if no other
decodes better at no higher cost (its trial is on the Pareto front, Optuna's ``best_trials``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from snn_core.atomic import atomic_path


def plot_pareto(
    trials: Sequence[tuple[float, float]],
    front: Sequence[tuple[float, float]],
    path: Path,
    score: str,
    cost: str,
    title: str,
) -> None:
    """Scatter every completed trial as (cost, score), join the front's points in cost order, and
    save a PNG at ``path`` atomically (matplotlib, Agg).

    Args:
        trials: (score, cost) of every completed trial.
        front: (score, cost) of the Pareto-optimal trials.
        path: the PNG to write.
        score, cost: the axes' labels (e.g. ``"validation R2"``, ``"energy per step (pJ)"``).
        title: the figure's title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.scatter([c for _, c in trials], [s for s, _ in trials], s=18, color="tab:grey", alpha=0.6, label="trials")
    ordered = sorted(front, key=lambda p: p[1])
    ax.plot(
        [c for _, c in ordered],
        [s for s, _ in ordered],
        marker="o",
        drawstyle="steps-post",
        color="tab:red",
        label=f"Pareto front ({len(ordered)})",
    )
    ax.set(xlabel=cost, ylabel=score, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, format="png")
