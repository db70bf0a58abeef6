"""What the SNN decoders' settings build: recurrent initialisation and the small preset's size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bmi_decoder.decoders import SmallSNNDecoder, SNNDecoder, make_decoder
from bmi_decoder.experiment import load_config
from snn_core.errors import InputError
from snn_core.metrics import footprint_bytes
from snn_core.network import SkipLayer

N_CHANNELS = 96  # a Utah array (docs/data.md)


def recurrent_weights(decoder: SNNDecoder) -> list[torch.Tensor]:
    network = decoder._build_network(N_CHANNELS)
    return [m.recurrence.weight.detach() for m in network.modules() if isinstance(m, SkipLayer) and m.recurrence is not None]


@pytest.mark.parametrize("gain", [0.25, 0.5, 1.0])
def test_recurrent_weights_start_orthogonal_at_their_gain(gain: float) -> None:
    weights = recurrent_weights(SNNDecoder(hidden=[12, 20], topology="2-1", recurrent=True, recurrent_gain=gain, ensemble=1))
    assert len(weights) == 2
    for w in weights:
        assert torch.allclose(w @ w.T, gain**2 * torch.eye(len(w)), atol=1e-5)


@pytest.mark.parametrize("params", [{}, {"hidden": [24, 24], "topology": "2-1", "recurrent": True}])
def test_small_snn_fits_in_30_kb_with_skips(params: dict) -> None:
    """The preset, and its recurrent tinyRSNN-like variant that its docstring gives."""
    decoder = SmallSNNDecoder(**params)
    network = decoder._build_network(N_CHANNELS)
    # NeuroBench's footprint: the network's parameters and buffers (the tinyRSNN's 27 KB)
    assert footprint_bytes(network) <= 30 * 1024
    assert "1" in decoder.topology.split("-", 1)[1]  # a DSC skip
    assert bool(recurrent_weights(decoder)) == decoder.recurrent


def test_small_snn_is_a_registered_decoder_with_the_snn_parameters() -> None:
    assert SmallSNNDecoder.param_names() == SNNDecoder.param_names()
    assert make_decoder("snn_small", hidden=[8, 8]).hidden == [8, 8]


@pytest.mark.parametrize(("params", "field"), [({"grad_clip": -1.0}, "grad_clip"), ({"recurrent_gain": "big"}, "recurrent_gain")])
def test_bad_training_settings_are_refused(params: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        SNNDecoder(**params).check_params()
    assert info.value.field == field


def test_the_recurrent_config_builds_the_tiny_recurrent_variant() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "configs" / "bmi_snn_recurrent.toml")
    decoder = config.decoder("snn_small")
    assert decoder.recurrent and decoder.recurrent_grad == 0.0
    assert footprint_bytes(decoder._build_network(N_CHANNELS)) <= 30 * 1024
