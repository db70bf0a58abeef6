import pytest
import torch

from snn_core.metrics import ActivityRecorder
from snn_core.network import NetworkSpec, SkipLayer, build_network
from snn_core.neurons import LIF
from snn_core.topology import sample_topology


def _dense_spec(topology: str, widths=((8, 8, 8),), in_size=8, **kw) -> NetworkSpec:
    return NetworkSpec("dense", in_size, widths, topology, **kw)


def test_dsc_block_has_more_dense_synaptic_operations_than_asc():
    x = (torch.rand(10, 4, 8) < 0.3).float()
    counts = {}
    for name, topo in {"dsc": "3-111", "asc": "3-222", "none": "3-000"}.items():
        net = build_network(_dense_spec(topo))
        with ActivityRecorder(net) as rec:
            net(x)
        counts[name] = rec.synops(steps=x.shape[0] * x.shape[1]).dense
    # DSC widens the receiving layers: 8*8 + 16*8 + 24*8 = 384; ASC keeps 3 * 8*8 = 192
    assert counts["dsc"] == 384 and counts["asc"] == 192 == counts["none"]


def test_dsc_concatenates_and_asc_sums_inputs():
    net = build_network(_dense_spec("3-112", widths=((4, 6, 5),), in_size=3))
    layers = net.blocks[0].layers
    # (0,1) DSC: layer 1 reads layer 0's output (4) + the block input (3);
    # (0,2) DSC: layer 2 reads layer 1's output (6) + the block input (3);
    # (1,2) ASC: layer 0's output (4) is summed into layer 2's regular input (6) via a projection
    assert layers[1].synapse.in_features == 7
    assert layers[2].synapse.in_features == 9
    assert set(net.blocks[0].projections) == {"1_2"}


def test_asc_without_width_change_needs_no_projection():
    net = build_network(_dense_spec("3-202"))
    assert len(net.blocks[0].projections) == 0


def test_ann_twin_shares_the_topology_and_layer_shapes():
    spec = _dense_spec(str(sample_topology([4, 3], seed=3)), widths=((8, 6, 8, 5), (7, 7, 4)), recurrent=True)
    snn = build_network(spec, "snn")
    ann = snn.twin()
    assert ann.mode == "ann" and ann.twin().mode == "snn"
    assert ann.topology == snn.topology and str(ann.topology) == spec.topology

    def shapes(net):
        return [(n, tuple(p.shape)) for n, p in net.named_parameters() if "beta" not in n]

    assert shapes(ann) == shapes(snn)
    assert not any(isinstance(m, LIF) for m in ann.modules())
    x = torch.rand(6, 2, 8)
    out_snn, out_ann = snn(x), ann(x)
    assert set(out_snn.unique().tolist()) <= {0.0, 1.0}
    assert out_ann.shape == out_snn.shape and (out_ann >= 0).all()


@pytest.mark.parametrize("mode", ["snn", "ann"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_single_step_equals_sequence(mode, recurrent):
    torch.manual_seed(0)
    net = build_network(_dense_spec("3-211_2-1", widths=((8, 12, 8), (8, 6)), recurrent=recurrent), mode)
    x = (torch.rand(25, 3, 8) < 0.4).float()
    seq = net(x)
    state, outs = None, []
    for x_t in x:
        out, state = net.step(x_t, state)
        outs.append(out)
    assert torch.allclose(torch.stack(outs), seq, atol=1e-6)


def test_conv_blocks_pool_and_stream():
    torch.manual_seed(0)
    net = build_network(NetworkSpec("conv", 2, ((4, 4, 8), (8, 8)), "3-122_2-2"), "snn").eval()
    x = (torch.rand(4, 2, 2, 16, 16) < 0.2).float()
    seq = net(x)
    assert seq.shape == (4, 2, 8, 4, 4)
    state, outs = None, []
    for x_t in x:
        out, state = net.step(x_t, state)
        outs.append(out)
    assert torch.allclose(torch.stack(outs), seq, atol=1e-6)


def test_gradients_reach_the_first_layer_of_a_deep_skip_connected_snn():
    torch.manual_seed(0)
    topo = sample_topology([4, 4, 4], seed=11, p_skip=0.6)
    spec = _dense_spec(str(topo), widths=((16,) * 4,) * 3, in_size=10)
    net = build_network(spec)
    x = (torch.rand(20, 4, 10) < 0.5).float()
    net(x).sum().backward()
    first = net.blocks[0].layers[0].synapse.weight.grad
    assert first is not None and torch.isfinite(first).all() and first.abs().sum() > 0


def test_recurrence_is_dense_only_and_spec_checks_block_sizes():
    with pytest.raises(ValueError, match="recurrent"):
        NetworkSpec("conv", 2, ((4,),), "1-", recurrent=True)
    with pytest.raises(ValueError, match="blocks of"):
        NetworkSpec("dense", 2, ((4, 4),), "3-000")
    with pytest.raises(ValueError, match="kind"):
        NetworkSpec("graph", 2, ((4,),), "1-")
    spec = _dense_spec("3-120")
    assert NetworkSpec.from_dict(spec.to_dict()) == spec
    assert isinstance(build_network(spec).blocks[0].layers[0], SkipLayer)


@pytest.mark.parametrize("mode", ["snn", "ann"])
def test_recurrent_grad_leaves_the_forward_pass_alone(mode):
    x = torch.rand(12, 3, 8)
    outs = []
    for scale in (0.0, 0.3, 1.0):
        torch.manual_seed(0)
        outs.append(build_network(_dense_spec("3-111", recurrent=True, recurrent_grad=scale), mode)(x))
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_recurrent_grad_scales_the_gradient_through_the_previous_step():
    """In the ReLU twin, input 0 reaches output 1 only through the recurrent weights: with two
    steps the gradient crosses them once, so it is exactly ``recurrent_grad`` times full BPTT's."""
    x = torch.rand(2, 1, 8)
    grads = {}
    for scale in (0.0, 0.3, 1.0):
        torch.manual_seed(0)
        layer = SkipLayer(_dense_spec("1-", widths=((8,),), recurrent=True, recurrent_grad=scale), 8, 8, "ann")
        with torch.no_grad():
            layer.synapse.bias.fill_(1.0)  # every ReLU active, so no gradient is lost to a zero
        x_s = x.clone().requires_grad_(True)
        layer(x_s)[1].sum().backward()
        grads[scale] = x_s.grad[0]
    assert grads[1.0].abs().sum() > 0
    assert torch.equal(grads[0.0], torch.zeros_like(grads[0.0]))
    torch.testing.assert_close(grads[0.3], 0.3 * grads[1.0])
