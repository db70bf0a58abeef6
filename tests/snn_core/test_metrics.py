import pytest
import torch
from torch import nn

from snn_core.metrics import (
    ActivityRecorder,
    SynapticOperations,
    connection_sparsity,
    footprint_bytes,
    layer_operations,
)
from snn_core.network import NetworkSpec, build_network


def _tiny(mode: str):
    """3 inputs -> 2 -> 2 neurons, beta 0, so every membrane value is hand-computable."""
    net = build_network(NetworkSpec("dense", 3, ((2, 2),), "2-0", beta=0.0), mode)
    l0, l1 = (layer.synapse for layer in net.blocks[0].layers)
    with torch.no_grad():
        l0.weight.copy_(torch.tensor([[2.0, 0.0, 2.0], [0.0, 0.0, 3.0]]))
        l0.bias.zero_()
        l1.weight.copy_(torch.tensor([[1.0, 1.0], [0.0, 1.0]]))
        l1.bias.fill_(1.5)
    return net


SPIKES = torch.tensor([[[1.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]]])  # (T=2, batch=1, 3)


def test_synaptic_operations_equal_hand_computed_values_snn():
    net = _tiny("snn")
    with ActivityRecorder(net) as rec:
        out = net(SPIKES)
    # layer 0: step 1 mem [2, 0] -> spikes [1, 0]; step 2 current [2, 3] minus reset [1, 0] -> [0, 1]
    # layer 1: step 1 current [2.5, 1.5] -> [1, 1]; step 2 [2.5, 2.5] - reset [1, 1] -> [1, 1]
    assert out.tolist() == [[[1.0, 1.0]], [[1.0, 1.0]]]
    ops = rec.synops(steps=2)
    # effective ACs: layer 0 reads [1,1,0] (column counts 1+0) and [0,0,1] (2) -> 3;
    # layer 1 reads [1,0] (1) and [0,1] (2) -> 3; six over two steps
    assert ops == SynapticOperations(dense=(6 + 4), effective_macs=0, effective_acs=3)
    assert ops.energy_pj == pytest.approx(3 * 0.9)
    assert rec.firing_rates() == {"blocks.0.layers.0": 0.5, "blocks.0.layers.1": 1.0}
    assert rec.activation_sparsity() == pytest.approx(1 - 6 / 8)


def test_non_binary_inputs_count_as_macs_in_the_ann_twin():
    net = _tiny("ann")
    with ActivityRecorder(net) as rec:
        net(SPIKES)
    # layer 0 still reads spikes (ACs: 3); layer 1 reads ReLU outputs [2, 0] and [2, 3]:
    # effective MACs 1 + (1 + 2) = 4
    ops = rec.synops(steps=2)
    assert ops == SynapticOperations(dense=10, effective_macs=2.0, effective_acs=1.5)
    assert ops.energy_pj == pytest.approx(2.0 * 4.6 + 1.5 * 0.9)


def test_conv_layer_operations_match_hand_count():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 1.0  # centre tap only
        conv.weight[0, 0, 0, 0] = 2.0  # top-left tap
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0
    x[0, 0, 2, 2] = 1.0
    # pixel (0,0) reaches the centre tap of output (0,0) only (top-left tap would need output (1,1)):
    # it feeds output (0,0) via centre and output (1,1) via top-left -> 2; pixel (2,2) -> 2
    assert layer_operations(conv, x) == 4
    # dense: every in-bounds tap of a 3x3 kernel over a padded 4x4 map: 4 corners*4 + 8 edges*6 + 4*9
    assert layer_operations(conv, x, dense=True) == 4 * 4 + 8 * 6 + 4 * 9


def test_footprint_and_connection_sparsity():
    net = _tiny("snn")
    params = 3 * 2 + 2 + 2 * 2 + 2
    buffers = 2  # one beta buffer per LIF layer
    assert footprint_bytes(net) == 4 * (params + buffers)
    assert connection_sparsity(net) == pytest.approx(4 / 10)  # three zeros in l0, one in l1


def test_mac_or_ac_is_decided_per_step():
    """A summed input of 2 at one step (an ASC sum) makes only that step's operations MACs."""
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]))
    x = torch.tensor([[[1.0, 0.0, 1.0]], [[2.0, 1.0, 0.0]], [[0.0, 1.0, 1.0]]])  # (T=3, batch=1, 3)
    with ActivityRecorder(layer, spike_count=True) as rec:
        layer(x)
    # per step: non-zero inputs times non-zero weights of their column: 3, 2 + 1 = 3, 1 + 1 = 2
    assert rec.synops(steps=3) == SynapticOperations(dense=6, effective_macs=1, effective_acs=5 / 3)
    # counted by spikes, the input of 2 is two accumulates per non-zero weight: 3 + (4 + 1) + 2
    assert rec.by_count.synops(steps=3) == SynapticOperations(dense=6, effective_macs=0, effective_acs=10 / 3)
