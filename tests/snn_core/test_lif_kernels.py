"""The fused LIF kernels against snnTorch's ``Leaky``: spikes identical, gradients within 1e-5.

The Triton backend has its own file (it needs Triton's interpreter on machines without a GPU).
"""

import pytest
import snntorch as snn
import torch
from snntorch import surrogate as snn_surrogate

from snn_core.kernels import lif_multi_step, pick_backend
from snn_core.neurons import LIF
from snn_core.surrogate import ATan, FastSigmoid, Sigmoid, StraightThrough

PAIRS = [
    (ATan(), snn_surrogate.atan()),
    (ATan(alpha=3.0), snn_surrogate.atan(alpha=3.0)),
    (FastSigmoid(slope=25.0), snn_surrogate.fast_sigmoid(slope=25)),
    (Sigmoid(slope=5.0), snn_surrogate.sigmoid(slope=5)),
    (StraightThrough(), snn_surrogate.straight_through_estimator()),
]


def _loss(spk: torch.Tensor, mem: torch.Tensor, readout: torch.Tensor) -> torch.Tensor:
    # weights both outputs, so gradients reach the kernel through spikes and the membrane trace
    return (spk * readout).sum() + mem.pow(2).mean()


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=[repr(ours) for ours, _ in PAIRS])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_fused_cpu_equals_snntorch_leaky(ours, theirs, per_neuron, leaky_run):
    torch.manual_seed(0)
    # 1,100 neurons: more than one parallel block, and not a multiple of the block size
    current = (torch.randn(50, 11, 100) * 0.8 + 0.3).requires_grad_()
    mem0 = (torch.rand(11, 100) * 0.5).requires_grad_()
    readout = torch.randn(100)
    beta = torch.linspace(0.5, 0.99, 100) if per_neuron else torch.tensor(0.9)

    lif = LIF(beta=beta, threshold=1.1, spike_grad=ours, learn_beta=True, backend="cpu")
    spk, mem = lif(current, mem0, return_mem=True)
    _loss(spk, mem, readout).backward()
    grads = current.grad.clone(), mem0.grad.clone()
    current.grad = mem0.grad = None

    leaky = snn.Leaky(beta=beta.clone(), threshold=1.1, spike_grad=theirs, learn_beta=True, reset_mechanism="subtract")
    spk_ref, mem_ref = leaky_run(leaky, current, mem0)
    _loss(spk_ref, mem_ref, readout).backward()

    assert 0 < spk.sum() < spk.numel(), "the test input must make neurons fire, and not always"
    assert torch.equal(spk, spk_ref)
    assert torch.equal(mem, mem_ref)
    assert torch.allclose(grads[0], current.grad, atol=1e-5)
    assert torch.allclose(grads[1], mem0.grad, atol=1e-5)
    assert torch.allclose(lif.beta.grad, leaky.beta.grad, rtol=1e-5, atol=1e-4)


def test_fused_equals_eager_on_conv_maps_with_per_channel_beta():
    torch.manual_seed(1)
    current = (torch.randn(6, 2, 3, 5, 5) + 0.5).requires_grad_()  # (T, batch, C, H, W)
    beta = torch.tensor([0.6, 0.8, 0.95]).view(3, 1, 1)
    results = []
    for backend in ("cpu", "eager"):
        lif = LIF(beta=beta, learn_beta=True, backend=backend)
        spk = lif(current)
        (spk * torch.arange(spk.numel()).view_as(spk).sin()).sum().backward()
        results.append((spk, current.grad.clone(), lif.beta.grad.clone()))
        current.grad = None
    (spk, grad, beta_grad), (spk_ref, grad_ref, beta_grad_ref) = results
    assert spk.sum() > 0
    assert torch.equal(spk, spk_ref)
    assert torch.allclose(grad, grad_ref, atol=1e-5)
    assert beta_grad.shape == (3, 1, 1)
    assert torch.allclose(beta_grad, beta_grad_ref, rtol=1e-5, atol=1e-5)


def test_beta_outside_unit_interval_is_clamped_and_gets_no_gradient():
    current = torch.full((4, 1, 2), 0.3)
    lif = LIF(beta=torch.tensor([1.5, -0.2]), learn_beta=True, threshold=10.0, backend="cpu")
    spk, mem = lif(current, return_mem=True)
    mem.sum().backward()
    assert torch.allclose(mem[-1, 0], torch.tensor([1.2, 0.3]))  # beta 1 and 0 after clamping
    assert torch.equal(lif.beta.grad, torch.zeros(2))


def test_infinite_threshold_is_a_leaky_integrator():
    current = torch.randn(30, 4, 3).requires_grad_()
    _, v = lif_multi_step(current, current.new_zeros(()), torch.tensor(0.8), float("inf"), ATan(), "cpu", return_mem=True)
    expected, state = [], torch.zeros(4, 3)
    for current_t in current:
        state = 0.8 * state + current_t
        expected.append(state)
    assert torch.allclose(v, torch.stack(expected), atol=1e-6)
    v.sum().backward()
    assert torch.isfinite(current.grad).all()
    assert torch.allclose(current.grad[-1], torch.ones(4, 3))


def test_backend_choice():
    assert pick_backend("auto", torch.device("cpu"), ATan()) == "cpu"
    assert pick_backend("auto", torch.device("cuda"), ATan()) == "triton"
    # a surrogate the kernels do not know (e.g. snnTorch's closures) runs on the eager loop
    assert pick_backend("auto", torch.device("cpu"), snn_surrogate.atan()) == "eager"
    with pytest.raises(ValueError, match="backend"):
        LIF(backend="fast")
    with pytest.raises(ValueError, match="surrogate"):
        LIF(spike_grad=snn_surrogate.atan(), backend="cpu")
    with pytest.raises(ValueError, match="CPU"):
        pick_backend("cpu", torch.device("cuda"), ATan())


def test_threads_claiming_blocks_equal_one_thread(monkeypatch):
    """The multi-thread path (blocks claimed from a shared counter) gives the one-thread path's
    spikes and gradients bit for bit; this call is small enough to run serially by default."""
    from snn_core.kernels import cpu

    torch.manual_seed(2)
    x = (torch.randn(64, 3000) + 0.3).requires_grad_()  # 3 blocks of neurons
    results = []
    for serial_below in (10**12, 0):
        monkeypatch.setattr(cpu, "SERIAL_BELOW", serial_below)
        with torch.enable_grad():
            threads = torch.get_num_threads()
            torch.set_num_threads(2)
            try:
                spk, mem = lif_multi_step(x, x.new_zeros(()), torch.tensor(0.9), 1.0, ATan(), "cpu", return_mem=True)
                _loss(spk, mem, torch.linspace(-1, 1, spk.numel()).view_as(spk)).backward()
            finally:
                torch.set_num_threads(threads)
        results.append((spk, mem, x.grad.clone()))
        x.grad = None
    (spk, mem, grad), (spk2, mem2, grad2) = results
    assert spk.sum() > 0
    assert torch.equal(spk, spk2) and torch.equal(mem, mem2) and torch.equal(grad, grad2)
