"""DenseStepper against SkipNetwork.forward on the same sequence, topology by topology."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snn_core.network import NetworkSpec, SkipLayer, SkipNetwork
from snn_core.streaming import DenseStepper

IN_SIZE, STEPS = 6, 120

# (topology, widths per block): which skips each case exercises
CASES = {
    "chain": ("3-000", ((8, 8, 8),)),
    "dsc": ("3-111", ((8, 7, 9),)),
    "asc same widths": ("3-222", ((6, 6, 6),)),
    "asc projection": ("3-222", ((8, 5, 7),)),  # every ASC sum needs a width-changing projection
    "mixed, two blocks": ("3-212_2-1", ((8, 5, 7), (6, 4))),
}


def _network(topology: str, widths: tuple, mode: str, recurrent: bool) -> SkipNetwork:
    torch.manual_seed(0)
    spec = NetworkSpec("dense", IN_SIZE, widths, topology, recurrent=recurrent, beta=0.85, threshold=0.7)
    network = SkipNetwork(spec, mode).eval()
    with torch.no_grad():
        for layer in network.modules():
            if isinstance(layer, SkipLayer):
                layer.synapse.weight.mul_(3.0)  # sparse 0/1 inputs: default weights barely fire
    return network


def _inputs(seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((STEPS, IN_SIZE)) < 0.3).astype(np.float32)


def _streamed(stepper: DenseStepper, X: np.ndarray) -> np.ndarray:
    return np.stack([stepper.step(x).copy() for x in X])


def _forward(network: SkipNetwork, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return network(torch.from_numpy(X)[:, None])[:, 0].numpy()


@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_snn_spikes_equal_forward(case: str, recurrent: bool, dtype: type) -> None:
    network = _network(*CASES[case], "snn", recurrent)
    X = _inputs()
    expected = _forward(network, X)
    assert 0.02 < expected.mean() < 0.8, "the test needs a network that fires, but not always"
    stepper = DenseStepper(network, dtype)
    assert stepper.out_size == network.out_size
    np.testing.assert_array_equal(_streamed(stepper, X), expected)


@pytest.mark.parametrize("recurrent", [False, True], ids=["feedforward", "recurrent"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_ann_outputs_equal_forward(case: str, recurrent: bool) -> None:
    network = _network(*CASES[case], "ann", recurrent)
    X = _inputs()
    expected = _forward(network, X)
    assert (expected > 0).any()
    np.testing.assert_allclose(_streamed(DenseStepper(network, np.float64), X), expected, rtol=1e-5, atol=1e-5)


def test_reset_restarts_and_weights_are_copied_once() -> None:
    network = _network(*CASES["mixed, two blocks"], "snn", recurrent=True)
    X = _inputs()
    stepper = DenseStepper(network)
    first = _streamed(stepper, X)
    with torch.no_grad():  # training on after the stepper was built does not reach it
        for parameter in network.parameters():
            parameter.zero_()
    stepper.reset()
    np.testing.assert_array_equal(_streamed(stepper, X), first)


def test_conv_networks_are_refused() -> None:
    spec = NetworkSpec("conv", 2, ((4,),), "1-")
    with pytest.raises(ValueError, match="dense"):
        DenseStepper(SkipNetwork(spec))
