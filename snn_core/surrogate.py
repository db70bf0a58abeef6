"""Surrogate gradients for the spike's Heaviside step, as values the fused LIF kernels can read.

Each surrogate is a small frozen dataclass: calling it on ``mem - threshold`` runs snnTorch's own
autograd function (Heaviside forward, surrogate backward), so the eager LIF loop is snnTorch's
arithmetic exactly; :meth:`Surrogate.grad` is the same derivative written out, and ``code`` /
``param`` hand it to the fused kernels (``snn_core.kernels``), which cannot call Python.

The formulas are snnTorch's (``snntorch.surrogate``), where ``x = mem - threshold``:

=================  ==========================================  ==============================
class              derivative                                   snnTorch
=================  ==========================================  ==============================
``ATan(alpha)``    ``alpha / 2 / (1 + (pi / 2 * alpha * x)^2)``   ``surrogate.atan(alpha)``
``FastSigmoid(k)`` ``1 / (k * |x| + 1)^2``  (Zenke & Ganguli 2018) ``surrogate.fast_sigmoid(k)``
``Sigmoid(k)``     ``k * exp(-k x) / (exp(-k x) + 1)^2``         ``surrogate.sigmoid(k)``
``StraightThrough`` ``1``                                        ``surrogate.straight_through_estimator()``
=================  ==========================================  ==============================
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from snntorch import surrogate as snn_surrogate


@dataclass(frozen=True)
class Surrogate(abc.ABC):
    """Base: Heaviside forward, a smooth derivative backward; ``code`` names it to the kernels."""

    code: ClassVar[int]

    @property
    def param(self) -> float:
        """The one shape parameter the kernels receive (0 where there is none)."""
        return 0.0

    @abc.abstractmethod
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The spike ``H(x)``, with this surrogate as its gradient."""

    @abc.abstractmethod
    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """d spike / d x at ``x = mem - threshold``."""


@dataclass(frozen=True)
class ATan(Surrogate):
    """snnTorch's default surrogate (Fang et al. 2021), ``alpha`` sets its width."""

    alpha: float = 2.0
    code: ClassVar[int] = 0

    @property
    def param(self) -> float:
        return float(self.alpha)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return snn_surrogate.ATan.apply(x, self.alpha)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha / 2 / (1 + (math.pi / 2 * self.alpha * x).pow(2))


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid (Zenke & Ganguli 2018), ``slope`` sets its sharpness."""

    slope: float = 25.0
    code: ClassVar[int] = 1

    @property
    def param(self) -> float:
        return float(self.slope)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return snn_surrogate.FastSigmoid.apply(x, self.slope)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        return 1 / (self.slope * x.abs() + 1.0) ** 2


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """The logistic function's derivative, ``slope`` sets its sharpness."""

    slope: float = 25.0
    code: ClassVar[int] = 2

    @property
    def param(self) -> float:
        return float(self.slope)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return snn_surrogate.Sigmoid.apply(x, self.slope)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        e = torch.exp(-self.slope * x)
        return self.slope * e / (e + 1) ** 2


@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """The straight-through estimator (Bengio et al. 2013): the gradient passes unchanged."""

    code: ClassVar[int] = 3

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return snn_surrogate.StraightThroughEstimator.apply(x)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x)


SURROGATES: tuple[type[Surrogate], ...] = (ATan, FastSigmoid, Sigmoid, StraightThrough)
