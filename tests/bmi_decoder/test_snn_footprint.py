"""``footprint_limit``: an SNN decoder narrows its layers until its network fits, on any channel
count, and ``snn_small`` (30 KB) stays within its budget on two arrays as on one."""

from __future__ import annotations

import numpy as np
import pytest

from bmi_decoder.checkpoint import load_decoder, save_decoder
from bmi_decoder.decoders import SmallSNNDecoder, SNNDecoder
from bmi_decoder.decoders.snn_footprint import layer_widths
from bmi_decoder.evaluation import r2_score
from bmi_decoder.preprocess import NEUROBENCH, prepare_session
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError
from snn_core.metrics import footprint_bytes

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BUDGET = 30 * 1024
QUICK = {"chunk_bins": 32, "burn_in_bins": 4, "max_epochs": 4, "patience": 4, "progress": False, "device": "cpu"}


def built_bytes(decoder: SNNDecoder, n_features: int) -> int:
    return footprint_bytes(decoder._build_network(n_features))


@pytest.mark.parametrize("channels", [96, 192, 400])
def test_the_small_preset_is_the_widest_block_within_30_kb(channels: int) -> None:
    decoder = SmallSNNDecoder()
    (width, *_), layers = layer_widths(decoder, channels), len(decoder.hidden)
    assert layer_widths(decoder, channels) == (width,) * layers
    assert built_bytes(decoder, channels) <= BUDGET
    if width < 32:  # one neuron wider per layer would not fit
        assert built_bytes(decoder.set_params(hidden=[width + 1] * layers, footprint_limit=None), channels) > BUDGET
    assert (width == 32) == (channels == 96)  # a Utah array keeps the preset's 32 (25 KB)


def test_without_a_limit_the_widths_are_hidden_as_given() -> None:
    assert layer_widths(SNNDecoder(hidden=[40, 20]), 192) == (40, 20)
    # a limit caps the wide layers first: the narrow one keeps its width while it fits
    capped = layer_widths(SNNDecoder(hidden=[64, 8], topology=None, footprint_limit=20_000), 96)
    assert capped[1] == 8 and capped[0] < 64


@pytest.mark.parametrize("limit", [0, -5, 2.5, "30KB", True])
def test_a_bad_limit_is_one_line_naming_the_field(limit) -> None:
    with pytest.raises(InputError) as info:
        SmallSNNDecoder(footprint_limit=limit).check_params()
    assert info.value.field == "footprint_limit"


def test_a_limit_no_network_fits_is_refused_before_training() -> None:
    X = np.random.default_rng(0).poisson(0.05, (400, 96)).astype(float)
    y = np.random.default_rng(1).normal(size=(400, 2))
    decoder = SNNDecoder(hidden=[8, 8], topology="2-1", footprint_limit=500, **QUICK)
    with pytest.raises(InputError) as info:
        decoder.fit(X, y)
    assert info.value.field == "footprint_limit" and "96 channels" in str(info.value)
    assert not hasattr(decoder, "network_")


def test_a_narrowed_decoder_learns_and_its_checkpoint_rebuilds_it(tmp_path) -> None:
    # two arrays: the preset narrows to fit, learns, and a checkpoint restores the same network
    prepared = prepare_session(simulate_session(seconds=60.0, channels=192, seed=1).recording)
    (X, y), (X_val, y_val) = prepared.split("train"), prepared.split("val")
    # the preset's initial gain of 1.5 starts quieter and needs more than these 4 epochs of 60 s
    decoder = SmallSNNDecoder(weight_gain=3.0, **QUICK).fit(X, y, X_val, y_val)
    assert decoder.cost(X_val).footprint_bytes <= BUDGET
    assert r2_score(y_val, decoder.predict(X_val)) > 0.2
    path = tmp_path / "small.pt"
    save_decoder(decoder, path, preprocessing=NEUROBENCH)
    loaded, _ = load_decoder(path)
    np.testing.assert_array_equal(loaded.predict(X_val), decoder.predict(X_val))
