"""Every surrogate derivative at extreme membranes, on every backend: finite, and one value.

The backends compile one formula (``snn_core.surrogate_formulas``); these tests run each copy:
the eager autograd function, the numba kernels and the Triton kernels (interpreted without a
GPU, see the ``lif_triton`` fixture), at ``u = mem - threshold`` far below and above threshold.
"""

from __future__ import annotations

import pytest
import torch
from snntorch import surrogate as snn_surrogate

from snn_core import surrogate_formulas
from snn_core.kernels import cpu
from snn_core.surrogate import ATan, FastSigmoid, Sigmoid, StraightThrough, Surrogate, SurrogateCode
from snn_core.surrogate_formulas import FORMULAS

U = torch.tensor([-1e4, -100.0, -4.0, 0.0, 4.0, 100.0, 1e4])

# (ours, snnTorch's, the u where snnTorch's gradient is NaN). snnTorch's sigmoid computes
# exp(-slope * u), inf once slope * u < -88, and then inf / inf: NaN at every u <= -4 for slope 25
# (and below -17.6 for slope 5). Ours evaluates the even function at -|u| and gives 0 there.
CASES = [
    (ATan(), snn_surrogate.atan(), []),
    (ATan(alpha=3.0), snn_surrogate.atan(alpha=3.0), []),
    (FastSigmoid(slope=25.0), snn_surrogate.fast_sigmoid(slope=25.0), []),
    (Sigmoid(slope=25.0), snn_surrogate.sigmoid(slope=25.0), [-1e4, -100.0, -4.0]),
    (Sigmoid(slope=5.0), snn_surrogate.sigmoid(slope=5.0), [-1e4, -100.0]),
    (StraightThrough(), snn_surrogate.straight_through_estimator(), []),
]
IDS = [repr(ours) for ours, _, _ in CASES]


def _input_grad(spike_fn, u: torch.Tensor) -> torch.Tensor:
    u = u.clone().requires_grad_()
    spike_fn(u).sum().backward()
    return u.grad


def _eager(surrogate: Surrogate) -> torch.Tensor:
    return _input_grad(surrogate, U)


def _fused(kernels, surrogate: Surrogate) -> torch.Tensor:
    # one time step at threshold 0 from mem0 = 0: mem = x = u, and grad_x = dL/dspk * surrogate'(u)
    x = U.view(1, -1).contiguous()
    zeros, beta = torch.zeros(U.numel()), torch.tensor([0.5])
    grad_x, _, _ = kernels.lif_backward(torch.ones_like(x), None, x, zeros, beta, 0.0, surrogate.code, surrogate.param, False)
    return grad_x.view(-1)


def _assert_one_value(result: torch.Tensor, reference: torch.Tensor) -> None:
    assert torch.isfinite(result).all(), result
    # float32 arithmetic in each backend's order and exp: a few units in the last place, and the
    # sigmoid's subnormal tails (9.5e-43 at |u| = 4 for slope 25) only to the nearest subnormal
    torch.testing.assert_close(result, reference, rtol=1e-6, atol=1e-44)


@pytest.mark.parametrize(("ours", "theirs", "nan_at"), CASES, ids=IDS)
def test_eager_is_finite_and_equals_snntorch_where_snntorch_is_finite(ours, theirs, nan_at):
    grad = _eager(ours)
    assert torch.isfinite(grad).all(), grad
    torch.testing.assert_close(ours.grad(U), grad, rtol=0, atol=0)
    reference = _input_grad(theirs, U)
    nan = torch.isnan(reference)
    assert U[nan].tolist() == nan_at, "snnTorch's NaNs moved: update the comment on CASES"
    torch.testing.assert_close(grad[~nan], reference[~nan], rtol=1e-6, atol=0)
    # the spike itself is snnTorch's Heaviside
    assert torch.equal(ours(U), theirs(U))


@pytest.mark.parametrize(("ours", "theirs", "nan_at"), CASES, ids=IDS)
def test_numba_kernel_equals_eager(ours, theirs, nan_at):
    _assert_one_value(_fused(cpu, ours), _eager(ours))


@pytest.mark.parametrize(("ours", "theirs", "nan_at"), CASES, ids=IDS)
def test_triton_kernel_equals_eager(lif_triton, ours, theirs, nan_at):
    _assert_one_value(_fused(lif_triton, ours).cpu(), _eager(ours))


def test_every_backend_compiles_the_one_source(lif_triton):
    """No backend holds a formula of its own: each runs a copy of surrogate_formulas' code."""
    from snn_core import surrogate

    assert set(SurrogateCode) == set(FORMULAS)
    backends = {
        "eager": (surrogate._FORMULAS, lambda fn: fn),
        "numba": (cpu._SURROGATES, lambda fn: fn.py_func),
        "triton": (lif_triton._SURROGATES, lambda fn: fn.fn),
    }
    for name in (*(fn.__name__ for fn in FORMULAS.values()), "surrogate_grad"):
        for backend, (namespace, python_function) in backends.items():
            compiled = python_function(getattr(namespace, name))
            assert compiled.__code__ is getattr(surrogate_formulas, name).__code__, (backend, name)
