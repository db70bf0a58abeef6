"""An exponential moving average of a model's weights, for the training loops to score and keep.

The weights after an epoch's last optimiser steps carry those steps' gradient noise: on a BMI
session the SNN decoder's validation R2 moved by 0.05 to 0.09 from one epoch to the next, so
early stopping kept a lucky epoch (issue 24). Averaging the iterates (Polyak & Juditsky 1992)
cancels most of that noise at no cost in steps; the exponential form follows the recent
iterates, as in the EMA of Adam's weights that many sequence models are evaluated with.

The decay warms up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates (TensorFlow's
``ExponentialMovingAverage`` with ``num_updates``), so that the average leaves the initial
weights within the first epoch. Every element is averaged on its own, so a population's
members (:mod:`snn_core.population`) are averaged exactly as each would be alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch


class WeightAverage:
    """The moving average of ``parameters``, updated after each optimiser step.

    Args:
        parameters: the trained parameters (the average starts from their current values).
        decay: the average's decay per step, in (0, 1).
    """

    def __init__(self, parameters: Iterable[torch.nn.Parameter], decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay!r}")
        self.parameters = list(parameters)
        self.decay = float(decay)
        self.steps = 0
        self.average = [p.detach().clone() for p in self.parameters]

    @torch.no_grad()
    def update(self) -> None:
        """Fold the parameters' current values into the average."""
        decay = min(self.decay, (1.0 + self.steps) / (10.0 + self.steps))
        for mean, p in zip(self.average, self.parameters):
            mean.lerp_(p.detach(), 1.0 - decay)
        self.steps += 1

    @torch.no_grad()
    def copy_to_parameters(self) -> None:
        """Set the parameters to the average."""
        for p, mean in zip(self.parameters, self.average):
            p.copy_(mean)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the parameters hold the average; the trained values come back after."""
        trained = [p.detach().clone() for p in self.parameters]
        self.copy_to_parameters()
        try:
            yield
        finally:
            with torch.no_grad():
                for p, value in zip(self.parameters, trained):
                    p.copy_(value)

    def state_dict(self) -> dict:
        """Tensors and plain numbers only, for a progress file read with ``weights_only``."""
        return {"steps": self.steps, "average": [mean.clone() for mean in self.average]}

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
        with torch.no_grad():
            for mean, saved in zip(self.average, state["average"]):
                mean.copy_(saved)
