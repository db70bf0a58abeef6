"""The Triton LIF kernels against snnTorch's ``Leaky`` (reset by subtraction), forward and backward.

On a CUDA machine the kernels compile natively; elsewhere they run in Triton's interpreter
(``TRITON_INTERPRET=1``), which executes the same kernel source with NumPy on CPU tensors (the
``lif_triton`` fixture, in ``conftest.py``).
"""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from snntorch import surrogate

from snn_core.neurons import LIF
from snn_core.surrogate import SurrogateCode

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
T, N = 20, 300
THRESHOLD = 0.8

# (Surrogate.code, its parameter, snnTorch's matching spike_grad)
SURROGATES = [
    (SurrogateCode.ATAN, 3.0, surrogate.atan(alpha=3.0)),
    (SurrogateCode.FAST_SIGMOID, 25.0, surrogate.fast_sigmoid(slope=25.0)),
    # a gentle slope: snnTorch's exp(-slope * u) overflows to NaN once slope * u < -88
    (SurrogateCode.SIGMOID, 5.0, surrogate.sigmoid(slope=5.0)),
    (SurrogateCode.STRAIGHT_THROUGH, 0.0, surrogate.straight_through_estimator()),
]


def _leaky_reference(
    x: torch.Tensor, mem0: torch.Tensor, beta: torch.Tensor, spike_grad, grad_spk: torch.Tensor, grad_mem
) -> tuple[torch.Tensor, ...]:
    """snnTorch's spikes, trace and the gradients of x, mem0 and its learned beta for the given output grads."""
    x, mem0 = x.clone().requires_grad_(), mem0.clone().requires_grad_()
    leaky = snn.Leaky(
        beta=beta.clone(), threshold=THRESHOLD, spike_grad=spike_grad, learn_beta=True, reset_mechanism="subtract"
    ).to(DEVICE)
    mem, spikes, trace = mem0, [], []
    for x_t in x:
        spk, mem = leaky(x_t, mem)
        spikes.append(spk)
        trace.append(mem)
    spk, mem = torch.stack(spikes), torch.stack(trace)
    loss = (spk * grad_spk).sum() + (0 if grad_mem is None else (mem * grad_mem).sum())
    loss.backward()
    return spk.detach(), mem.detach(), x.grad, mem0.grad, leaky.beta.grad


@pytest.mark.parametrize("with_grad_mem", [True, False], ids=["grad_mem", "no_grad_mem"])
@pytest.mark.parametrize("per_element_beta", [False, True], ids=["scalar_beta", "element_beta"])
@pytest.mark.parametrize(("code", "param", "spike_grad"), SURROGATES, ids=["atan", "fast_sigmoid", "sigmoid", "ste"])
def test_kernels_equal_snntorch_leaky(lif_triton, code, param, spike_grad, per_element_beta, with_grad_mem):
    assert N % lif_triton.BLOCK != 0, "N must leave a partial block, to test the masks"
    gen = torch.Generator().manual_seed(code)
    # x arrives transposed (non-contiguous), as the kernels must cope with
    x = (torch.randn(N, T, generator=gen) * 0.8 + 0.3).to(DEVICE).t()
    mem0 = (torch.randn(N, generator=gen) * 0.5).to(DEVICE)
    beta = (torch.rand(N, generator=gen) * 0.6 + 0.3 if per_element_beta else torch.tensor([0.9])).to(DEVICE)
    grad_spk = torch.randn(T, N, generator=gen).to(DEVICE)
    grad_mem = torch.randn(T, N, generator=gen).to(DEVICE) if with_grad_mem else None

    spk, mem = lif_triton.lif_forward(x, mem0, beta, THRESHOLD)
    grad_x, grad_mem0, grad_beta = lif_triton.lif_backward(
        grad_spk, grad_mem, x, mem0, beta, THRESHOLD, code, param, beta_grad=True
    )
    spk_ref, mem_ref, grad_x_ref, grad_mem0_ref, grad_beta_ref = _leaky_reference(x, mem0, beta, spike_grad, grad_spk, grad_mem)

    assert spk.sum() > 0, "the test input must make neurons fire"
    assert torch.equal(spk, spk_ref)
    assert torch.equal(mem, mem_ref)
    assert torch.allclose(grad_x, grad_x_ref, rtol=0, atol=1e-5)
    assert torch.allclose(grad_mem0, grad_mem0_ref, rtol=0, atol=1e-5)
    # a shared beta's gradient is the sum of the per-element ones; each sums T products of size ~10-100,
    # so its float32 rounding (summation order differs from autograd's) is relative
    grad_beta = grad_beta if per_element_beta else grad_beta.sum().reshape(1)
    assert torch.allclose(grad_beta, grad_beta_ref, rtol=1e-5, atol=1e-5)


def test_backward_without_beta_gradient_returns_none(lif_triton):
    x = torch.full((3, 5), 0.6, device=DEVICE)
    mem0, beta = torch.zeros(5, device=DEVICE), torch.tensor([0.5], device=DEVICE)
    spk, mem = lif_triton.lif_forward(x, mem0, beta, 1.0)
    grad_x, grad_mem0, grad_beta = lif_triton.lif_backward(
        torch.ones_like(spk), None, x, mem0, beta, 1.0, SurrogateCode.STRAIGHT_THROUGH, 0.0, beta_grad=False
    )
    assert grad_beta is None
    # straight-through: d[t] = 1 + 0.5 d[t + 1], i.e. 1.75, 1.5, 1; grad_mem0 = 0.5 * d[0]
    assert torch.allclose(grad_x[:, 0], torch.tensor([1.75, 1.5, 1.0], device=DEVICE))
    assert torch.allclose(grad_mem0, torch.full((5,), 0.875, device=DEVICE))


def test_one_step_one_neuron(lif_triton):
    # T = N = 1 are the sizes Triton would specialise into constants when compiling natively
    x = torch.tensor([[1.5]], device=DEVICE)
    mem0, beta = torch.tensor([0.2], device=DEVICE), torch.tensor([0.5], device=DEVICE)
    spk, mem = lif_triton.lif_forward(x, mem0, beta, 1.0)
    grad_x, grad_mem0, grad_beta = lif_triton.lif_backward(
        torch.ones_like(spk), None, x, mem0, beta, 1.0, SurrogateCode.STRAIGHT_THROUGH, 0.0, beta_grad=True
    )
    assert spk.item() == 1.0 and mem.item() == pytest.approx(1.6)
    # straight-through: d = 1, so grad_x = 1, grad_mem0 = beta * d, grad_beta = d * mem0
    assert (grad_x.item(), grad_mem0.item(), grad_beta.item()) == pytest.approx((1.0, 0.5, 0.2))


def test_lif_layer_on_the_triton_backend_equals_the_eager_loop(lif_triton):
    # through snn_core.neurons.LIF, whose dispatcher imports the kernel module the fixture loaded
    torch.manual_seed(3)
    current = (torch.randn(12, 4, 3, 5, device=DEVICE) + 0.5).requires_grad_()
    results = []
    for backend in ("triton", "eager"):
        lif = LIF(beta=torch.tensor([0.6, 0.8, 0.95]).view(3, 1), learn_beta=True, backend=backend).to(DEVICE)
        spk = lif(current)
        (spk * torch.linspace(-1, 1, spk.numel(), device=DEVICE).view_as(spk)).sum().backward()
        results.append((spk, current.grad.clone(), lif.beta.grad.clone()))
        current.grad = None
    (spk, grad, beta_grad), (spk_ref, grad_ref, beta_grad_ref) = results
    assert spk.sum() > 0
    assert torch.equal(spk, spk_ref)
    assert torch.allclose(grad, grad_ref, atol=1e-5)
    assert torch.allclose(beta_grad, beta_grad_ref, rtol=1e-5, atol=1e-5)


def test_infinite_threshold_integrates_without_nan(lif_triton):
    x = torch.randn(8, 6, device=DEVICE)
    zeros, beta = torch.zeros(6, device=DEVICE), torch.tensor([0.8], device=DEVICE)
    spk, mem = lif_triton.lif_forward(x, zeros, beta, float("inf"))
    grad_x, _, _ = lif_triton.lif_backward(
        torch.zeros_like(x), torch.ones_like(x), x, zeros, beta, float("inf"), SurrogateCode.ATAN, 2.0, False
    )
    expected = torch.zeros(6, device=DEVICE)
    for t in range(8):
        expected = 0.8 * expected + x[t]
        assert torch.allclose(mem[t], expected, atol=1e-6)
    assert spk.sum() == 0 and torch.isfinite(grad_x).all()
