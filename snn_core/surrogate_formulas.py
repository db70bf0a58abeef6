"""Each surrogate derivative written once, as a scalar formula every backend compiles.

The eager path (torch), the numba kernels and the Triton kernels cannot share compiled code, but
they can share source: the functions below are plain arithmetic on ``u = mem - threshold`` and the
surrogate's one parameter, and :func:`bind` copies them into a namespace of one backend, where the
names they read mean that backend's operations:

- ``xp``: the array module: ``torch``, ``numpy`` (inside numba) or ``triton.language``;
- ``ONE``, ``TWO``, ``HALF_PI``: float constants, typed as the backend computes: numba widens
  float32 to float64 against a Python literal (Triton and torch keep float32), so the numba
  namespace holds ``numpy.float32`` constants;
- the codes of :class:`SurrogateCode` by name: Triton reads globals only as ``constexpr``.

Every formula is finite in float32 for any finite ``u`` and for ``u = -inf`` (an infinite
threshold: a non-spiking integrator). The logistic derivative is even in ``u``, so it is evaluated
at ``-|u|`` and its ``exp`` never overflows. snnTorch's ``surrogate.sigmoid`` evaluates
``exp(-slope * u)``, which is ``inf`` once ``slope * u < -88``, and its gradient is then
``inf / inf = NaN`` (for slope 25, at a membrane 3.6 below threshold).
"""

from __future__ import annotations

import enum
import math
import types
from collections.abc import Callable
from typing import Any


class SurrogateCode(enum.IntEnum):
    """How a :class:`snn_core.surrogate.Surrogate` is named to the fused kernels."""

    ATAN = 0
    FAST_SIGMOID = 1
    SIGMOID = 2
    STRAIGHT_THROUGH = 3


# The formulas read xp, ONE, TWO, HALF_PI and the codes' names, which only the namespaces that
# bind() builds define: a formula runs only as a backend compiled it (hence ruff's F821 is off here).


def atan(u, alpha):
    """snnTorch's ``atan(alpha)`` (Fang et al. 2021): ``alpha / 2 / (1 + (pi / 2 * alpha * u)^2)``."""
    s = HALF_PI * alpha * u
    return alpha / TWO / (ONE + s * s)


def fast_sigmoid(u, slope):
    """SuperSpike's fast sigmoid (Zenke & Ganguli 2018): ``1 / (slope * |u| + 1)^2``."""
    q = slope * xp.abs(u) + ONE
    return ONE / (q * q)


def sigmoid(u, slope):
    """The logistic derivative ``slope * e / (e + 1)^2`` at ``e = exp(-slope * |u|)``."""
    e = xp.exp(-slope * xp.abs(u))
    return slope * e / ((e + ONE) * (e + ONE))


def straight_through(u, param):
    """The straight-through estimator (Bengio et al. 2013): 1, which broadcasts against ``u``."""
    return ONE


def surrogate_grad(code, u, param):
    """The derivative at ``u`` of the surrogate named by ``code``, with its parameter ``param``."""
    if code == ATAN:
        g = atan(u, param)
    elif code == FAST_SIGMOID:
        g = fast_sigmoid(u, param)
    elif code == SIGMOID:
        g = sigmoid(u, param)
    else:
        g = straight_through(u, param)
    return g


FORMULAS: dict[SurrogateCode, Callable[..., Any]] = {
    SurrogateCode.ATAN: atan,
    SurrogateCode.FAST_SIGMOID: fast_sigmoid,
    SurrogateCode.SIGMOID: sigmoid,
    SurrogateCode.STRAIGHT_THROUGH: straight_through,
}


def bind(
    xp: Any,
    number: Callable[[float], Any],
    code: Callable[[int], Any] = int,
    compile: Callable[[Callable[..., Any]], Any] | None = None,
    module: str = __name__,
) -> types.SimpleNamespace:
    """The formulas and :func:`surrogate_grad` of this module, compiled for one backend.

    Args:
        xp: the backend's array module (it must have ``abs`` and ``exp``).
        number: makes a float constant of the backend (``float``, ``numpy.float32``,
            ``triton.language.constexpr``).
        code: makes a code constant of the backend (``int``, ``triton.language.constexpr``).
        compile: the backend's decorator (``numba.njit(...)``, ``triton.jit``); none for torch.
        module: the ``__module__`` the copies report, for the backend's caches and messages.

    Returns:
        A namespace with the compiled functions, by their names here (``sigmoid``,
        ``surrogate_grad``, ...).
    """
    namespace: dict[str, Any] = {
        "__name__": module,
        "xp": xp,
        "ONE": number(1.0),
        "TWO": number(2.0),
        "HALF_PI": number(math.pi / 2),
    }
    namespace.update({member.name: code(int(member)) for member in SurrogateCode})
    functions = (*FORMULAS.values(), surrogate_grad)
    # the copies read this dict as their globals, so surrogate_grad calls the compiled formulas
    for fn in functions:
        copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__)
        copy.__doc__, copy.__qualname__, copy.__module__ = fn.__doc__, fn.__qualname__, module
        namespace[fn.__name__] = copy if compile is None else compile(copy)
    return types.SimpleNamespace(**{fn.__name__: namespace[fn.__name__] for fn in functions})
