import pytest
import snntorch as snn
import torch
from snntorch import surrogate

from snn_core.neurons import LIF


@pytest.mark.parametrize(
    ("beta", "threshold", "spike_grad"),
    [(0.9, 1.0, None), (0.5, 0.7, surrogate.fast_sigmoid(slope=25)), (0.99, 1.3, surrogate.atan(alpha=3.0))],
)
def test_lif_equals_snntorch_leaky_spikes_membrane_and_gradients(beta, threshold, spike_grad, leaky_run):
    torch.manual_seed(0)
    current = (torch.randn(60, 8, 16) * 0.8 + 0.3).requires_grad_()
    readout = torch.randn(16)

    ours = LIF(beta=beta, threshold=threshold, spike_grad=spike_grad)
    spk, mem = ours(current, return_mem=True)
    ((spk * readout).sum() + mem.pow(2).mean()).backward()
    grad_ours = current.grad.clone()
    current.grad = None

    leaky = snn.Leaky(beta=beta, threshold=threshold, spike_grad=spike_grad, reset_mechanism="subtract")
    spk_ref, mem_ref = leaky_run(leaky, current)
    ((spk_ref * readout).sum() + mem_ref.pow(2).mean()).backward()

    assert spk.sum() > 0, "the test input must make neurons fire"
    assert torch.equal(spk, spk_ref)
    assert torch.allclose(mem, mem_ref, atol=1e-6)
    assert torch.allclose(grad_ours, current.grad, atol=1e-5)


def test_learnable_beta_gradient_equals_snntorch(leaky_run):
    torch.manual_seed(1)
    current = torch.randn(40, 4, 10) + 0.4
    ours = LIF(beta=0.8, learn_beta=True)
    spk, mem = ours(current, return_mem=True)
    (spk.sum() + mem.sum()).backward()
    leaky = snn.Leaky(beta=0.8, learn_beta=True)
    spk_ref, mem_ref = leaky_run(leaky, current)
    (spk_ref.sum() + mem_ref.sum()).backward()
    assert torch.equal(spk, spk_ref)
    assert torch.allclose(ours.beta.grad, leaky.beta.grad, rtol=1e-5, atol=1e-5)


def test_per_neuron_beta():
    current = torch.full((5, 1, 2), 0.3)
    lif = LIF(beta=torch.tensor([0.0, 1.0]), threshold=10.0)
    _, mem = lif(current, return_mem=True)
    assert torch.allclose(mem[-1, 0], torch.tensor([0.3, 1.5]))


def test_single_step_form_equals_multi_step():
    torch.manual_seed(2)
    current = torch.randn(30, 3, 5) + 0.5
    lif = LIF(beta=0.7)
    spk_seq = lif(current)
    mem, steps = None, []
    for current_t in current:
        spk, mem = lif.step(current_t, mem)
        steps.append(spk)
    assert torch.equal(torch.stack(steps), spk_seq)
