"""Surrogate gradients for the spike's Heaviside step, as values the fused LIF kernels can read.

Each surrogate is a small frozen dataclass: calling it on ``x = mem - threshold`` gives the spike
``H(x)`` (forward) with the surrogate's derivative as its gradient (backward). The derivative is
written once, in :mod:`snn_core.surrogate_formulas`, and this eager path, the numba kernels and
the Triton kernels each compile that one formula; ``code`` (a :class:`SurrogateCode`) and
``param`` name it to the fused kernels (``snn_core.kernels``), which cannot call Python.

The formulas are snnTorch's (``snntorch.surrogate``), where ``x = mem - threshold``:

=================  ==========================================  ==============================
class              derivative                                   snnTorch
=================  ==========================================  ==============================
``ATan(alpha)``    ``alpha / 2 / (1 + (pi / 2 * alpha * x)^2)``   ``surrogate.atan(alpha)``
``FastSigmoid(k)`` ``1 / (k * |x| + 1)^2``  (Zenke & Ganguli 2018) ``surrogate.fast_sigmoid(k)``
``Sigmoid(k)``     ``k * exp(-k |x|) / (exp(-k |x|) + 1)^2``     ``surrogate.sigmoid(k)``
``StraightThrough`` ``1``                                        ``surrogate.straight_through_estimator()``
=================  ==========================================  ==============================

The sigmoid is evaluated at ``-|x|`` (it is even), where snnTorch's ``exp(-k x)`` overflows
float32 once ``k x < -88`` and its gradient is NaN; everywhere else the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from snn_core.surrogate_formulas import SurrogateCode, bind

_FORMULAS = bind(torch, float)


class _Spike(torch.autograd.Function):
    """Heaviside forward (snnTorch's ``x > 0``), a surrogate's derivative backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, code: SurrogateCode, param: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.code, ctx.param = code, param
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * _FORMULAS.surrogate_grad(ctx.code, x, ctx.param), None, None


@dataclass(frozen=True)
class Surrogate:
    """Base: Heaviside forward, a smooth derivative backward; ``code`` names it to the kernels."""

    code: ClassVar[SurrogateCode]

    @property
    def param(self) -> float:
        """The one shape parameter the kernels receive (0 where there is none)."""
        return 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The spike ``H(x)``, with this surrogate as its gradient."""
        return _Spike.apply(x, self.code, self.param)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """d spike / d x at ``x = mem - threshold``."""
        g = _FORMULAS.surrogate_grad(self.code, x, self.param)
        return g if isinstance(g, torch.Tensor) else torch.full_like(x, g)


@dataclass(frozen=True)
class ATan(Surrogate):
    """snnTorch's default surrogate (Fang et al. 2021), ``alpha`` sets its width."""

    alpha: float = 2.0
    code: ClassVar[SurrogateCode] = SurrogateCode.ATAN

    @property
    def param(self) -> float:
        return float(self.alpha)


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid (Zenke & Ganguli 2018), ``slope`` sets its sharpness."""

    slope: float = 25.0
    code: ClassVar[SurrogateCode] = SurrogateCode.FAST_SIGMOID

    @property
    def param(self) -> float:
        return float(self.slope)


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """The logistic function's derivative, ``slope`` sets its sharpness."""

    slope: float = 25.0
    code: ClassVar[SurrogateCode] = SurrogateCode.SIGMOID

    @property
    def param(self) -> float:
        return float(self.slope)


@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """The straight-through estimator (Bengio et al. 2013): the gradient passes unchanged."""

    code: ClassVar[SurrogateCode] = SurrogateCode.STRAIGHT_THROUGH


SURROGATES: tuple[type[Surrogate], ...] = (ATan, FastSigmoid, Sigmoid, StraightThrough)

__all__ = ["SURROGATES", "ATan", "FastSigmoid", "Sigmoid", "StraightThrough", "Surrogate", "SurrogateCode"]
