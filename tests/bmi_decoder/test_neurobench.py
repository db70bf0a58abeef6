"""Our cost metrics against NeuroBench 2.3.0's own, on a small trained SNN decoder with ASC skips.

NeuroBench evaluates primate reaching one bin per model execution: a batch is consecutive bins
and each one is one sample. Its synaptic operations are therefore taken from a model that runs
:meth:`SpikingVelocityNet.step` once per bin, so that NeuroBench decides MAC vs AC per step. Its
activation hooks fire on module calls, which the step path (``LIF.step``) does not make; activation
sparsity is taken from the whole-sequence forward, with ``LIF`` registered through NeuroBench's
``add_activation_module`` (``TorchModel`` detects only ``nn.ReLU`` and ``nn.Sigmoid`` by itself).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from neurobench.benchmarks import Benchmark
from neurobench.metrics.static import ConnectionSparsity, Footprint
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
from neurobench.models import TorchModel
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from bmi_decoder.decoders import SNNDecoder
from bmi_decoder.preprocess import prepare_session
from bmi_decoder.simulate import simulate_session
from snn_core.neurons import LIF

CHANNELS = 16


class StepByStep(nn.Module):
    """A batch of consecutive bins (T, F) decoded one ``network.step`` per bin, from the reset state."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, bins: torch.Tensor) -> torch.Tensor:
        state, out = None, []
        for x in bins:
            v, state = self.network.step(x[None], state)
            out.append(v)
        return torch.cat(out)


class WholeSequence(nn.Module):
    """A batch of consecutive bins (T, F) decoded in one time-major forward pass."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, bins: torch.Tensor) -> torch.Tensor:
        return self.network(bins[:, None])[:, 0]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained() -> tuple[SNNDecoder, np.ndarray, np.ndarray]:
    """An SNN decoder with ASC skips (0,1) and (1,2) and a DSC skip (0,2), on a simulated session.

    Equal widths, so the ASC sums are sums of spikes and bins (0, 1 or 2), with no projection.
    """
    session = prepare_session(simulate_session(seconds=60, channels=CHANNELS, seed=0).recording)
    decoder = SNNDecoder(hidden=(CHANNELS,) * 3, topology="3-212", ensemble=1, max_epochs=4, lr=5e-3, progress=False, seed=0)
    decoder.fit(*session.split("train"), *session.split("val"))
    assert max(decoder.validation_r2_) > decoder.validation_r2_[0]  # it learned
    X, y = session.split("test")
    return decoder, X[:400], y[:400]


def run_neurobench(module: nn.Module, X: np.ndarray, y: np.ndarray, workload: list, lif: bool) -> dict:
    model = TorchModel(module)
    if lif:
        model.add_activation_module(LIF)
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=len(X), shuffle=False)
    benchmark = Benchmark(model, loader, [], [], [[Footprint, ConnectionSparsity], workload])
    with torch.no_grad():
        return benchmark.run(quiet=True)


def test_costs_equal_neurobench(trained: tuple) -> None:
    decoder, X, y = trained
    ours = decoder.cost(X)
    network = decoder.network_
    stepwise = run_neurobench(StepByStep(network), X, y, [SynapticOperations], lif=False)
    sequence = run_neurobench(WholeSequence(network), X, y, [ActivationSparsity, SynapticOperations], lif=True)

    assert ours.footprint_bytes == stepwise["Footprint"] == sequence["Footprint"]
    assert round(ours.connection_sparsity, 4) == stepwise["ConnectionSparsity"]  # NeuroBench rounds to 4 places
    assert 0 < ours.activation_sparsity < 1
    assert ours.activation_sparsity == pytest.approx(sequence["ActivationSparsity"], abs=1e-12)
    synops = stepwise["SynapticOperations"]
    assert ours.synops.dense == synops["Dense"]
    assert ours.synops.effective_macs == synops["Effective_MACs"]
    assert ours.synops.effective_acs == synops["Effective_ACs"]
    # the ASC sums reach 2 at some steps only: both kinds occur, and a decision over the whole
    # sequence (one NeuroBench call on it) would turn every operation of those layers into MACs
    assert ours.synops.effective_macs > 0 and ours.synops.effective_acs > 0
    assert sequence["SynapticOperations"]["Effective_MACs"] > ours.synops.effective_macs
