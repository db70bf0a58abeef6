import pytest
import torch

from snn_core.network import NetworkSpec
from snn_core.topology import ASC, DSC, SkipTopology
from vision_bench.models import (
    FAMILIES,
    VARIANTS,
    VisionModelConfig,
    VisionNetwork,
    build_vision_model,
    network_spec,
    variant_topology,
)

TINY = dict(num_classes=5, stem_width=4, widths=(6, 8), depth=3)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_builds_runs_and_has_an_ann_twin(family, variant):
    model = build_vision_model(VisionModelConfig(family=family, **TINY), variant, "snn")
    frames = torch.rand(3, 2, 2, 16, 16) * 2  # (T, batch, polarity, H, W) event counts
    logits = model(frames)
    assert logits.shape == (2, 5)
    spikes = model.trunk(frames)
    assert spikes.shape == (3, 2, 8, 2, 2)  # 16 px pooled after the stem and after 2 blocks
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}

    twin = model.twin()
    assert twin.mode == "ann" and twin.spec == model.spec and twin.twin().mode == "snn"
    assert str(twin.trunk.topology) == str(model.trunk.topology) == model.spec.topology

    def shapes(net):
        return [(n, tuple(p.shape)) for n, p in net.named_parameters()]

    assert shapes(twin) == shapes(model)
    assert twin(frames).shape == (2, 5)
    assert len(model.layer_names()) == 1 + 2 * 3


def test_variants_share_positions_and_differ_in_type():
    topologies = {v: variant_topology("resnet", v, blocks=1, depth=4) for v in VARIANTS}
    assert str(topologies["none"]) == "1-_4-000000"
    # span-2 shortcuts (0,2) and (1,3), as in ResNet's basic block
    assert str(topologies["asc"]) == "1-_4-020020"
    assert str(topologies["dsc"]) == "1-_4-010010"
    assert str(topologies["mixed"]) == "1-_4-020010"
    dense = variant_topology("densenet", "dsc", blocks=2, depth=3)
    assert dense == SkipTopology.from_string("1-_3-111_3-111")
    assert variant_topology("densenet", "asc", 1, 3).count(ASC) == 3
    mixed = variant_topology("densenet", "mixed", 1, 4)
    assert mixed.count(ASC) == 3 and mixed.count(DSC) == 3


def test_dsc_widens_the_receiving_layer_and_asc_does_not():
    config = VisionModelConfig(**TINY)
    convs = {
        v: [layer.synapse.in_channels for layer in build_vision_model(config, v).trunk.blocks[1].layers]
        for v in ("none", "dsc", "asc")
    }
    assert convs["none"] == convs["asc"] == [4, 6, 6]
    assert convs["dsc"] == [4, 6, 6 + 4]  # layer 2 also reads the block input (4 channels)


def test_weights_depend_only_on_the_seed():
    config = VisionModelConfig(**TINY)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = build_vision_model(config, "asc", seed=7)
    assert torch.equal(torch.rand(1), expected_next)  # the global generator was left alone
    b = build_vision_model(config, "asc", seed=7)
    c = build_vision_model(config, "asc", seed=8)
    wa, wb, wc = (m.trunk.blocks[1].layers[0].synapse.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_the_spec_alone_rebuilds_the_model():
    model = build_vision_model(VisionModelConfig(**TINY), "mixed", "snn", seed=1)
    spec = NetworkSpec.from_dict(model.spec.to_dict())
    rebuilt = VisionNetwork(spec, 5, "snn")
    rebuilt.load_state_dict(model.state_dict())
    frames = torch.rand(2, 1, 2, 8, 8)
    model.eval(), rebuilt.eval()
    assert torch.equal(model(frames), rebuilt(frames))
    assert network_spec(VisionModelConfig(**TINY), "mixed") == spec


@pytest.mark.parametrize("bad", [dict(family="vgg"), dict(depth=2), dict(widths=()), dict(num_classes=1)])
def test_invalid_shapes_are_refused(bad):
    with pytest.raises(ValueError):
        VisionModelConfig(**{**TINY, **bad})
