"""Every recalibration method brings back R2 that drift between days took away.

Day 0 and day 20 of one simulated monkey (the ``drifted_days`` fixture): a decoder fitted on
day 0 and used unchanged on day 20 scores far below what it scored on day 0; 60 s of day 20 must
recover a clear share of it, scored on the rest of day 20.
"""

from __future__ import annotations

import numpy as np
import pytest

from bmi_decoder.decoders import SmallSNNDecoder, WienerDecoder
from bmi_decoder.evaluation import r2_score
from bmi_decoder.preprocess import prepare_session
from bmi_decoder.recalibration import METHODS, AlignedDecoder, recalibrate
from bmi_decoder.recalibration.supervised import input_modules, readout_layers

CALIBRATION_BINS = 15_000  # 60 s of 4 ms bins


@pytest.fixture(scope="module")
def days(drifted_days):
    _, simulated = drifted_days
    return [prepare_session(d.session.recording) for d in simulated]


@pytest.fixture(scope="module")
def wiener(days):
    return WienerDecoder(n_lags=7).fit(*days[0].split("train"), *days[0].split("val"))


def _small_snn(days, ensemble: int):
    # an initial gain of 3 (the preset's 1.5 starts quieter) learns within these 4 epochs
    decoder = SmallSNNDecoder(
        hidden=[32, 32],
        topology="2-1",
        weight_gain=3.0,
        max_epochs=4,
        ensemble=ensemble,
        progress=False,
        device="cpu",
        seed=0,
        footprint_limit=None if ensemble > 1 else 30 * 1024,  # members as wide as the single network
    )
    return decoder.fit(*days[0].split("train"), *days[0].split("val"))


@pytest.fixture(scope="module")
def snn(days):
    return _small_snn(days, 1)


@pytest.fixture(scope="module")
def snn_ensemble(days):
    return _small_snn(days, 2)


def _scored(decoder, days, method):
    later = days[1]
    X_cal, y_cal = later.features[:CALIBRATION_BINS], later.velocity[:CALIBRATION_BINS]
    X_rest, y_rest = later.features[CALIBRATION_BINS:], later.velocity[CALIBRATION_BINS:]
    fixed = r2_score(y_rest, decoder.predict(X_rest))
    done = recalibrate(METHODS[method](), decoder, X_cal, y_cal, days[0].features[days[0].train])
    return fixed, r2_score(y_rest, done.decoder.predict(X_rest)), done


def test_drift_removes_r2(days, wiener):
    same_day = r2_score(days[0].split("test")[1], wiener.predict(days[0].split("test")[0]))
    fixed, _, _ = _scored(wiener, days, "rates")
    assert same_day > 0.4 and fixed < same_day - 0.3


def test_scratch_fits_on_the_calibration_alone(days, wiener):
    fixed, r2, done = _scored(wiener, days, "scratch")
    assert r2 > 0.4 and r2 > fixed + 0.3
    assert done.parameters_changed > 0 and done.seconds > 0


@pytest.mark.parametrize("method", ["rates", "latent"])
def test_unsupervised_alignment_recovers_without_labels(days, wiener, method):
    fixed, r2, done = _scored(wiener, days, method)
    assert r2 > fixed + 0.1
    assert isinstance(done.decoder, AlignedDecoder)
    # the wrapped decoder is unchanged: only the transform's numbers count
    transform = sum(a.size for a in done.decoder.transform_arrays().values())
    assert done.parameters_changed == transform
    # labels are never read
    later = days[1]
    blind = recalibrate(METHODS[method](), wiener, later.features[:CALIBRATION_BINS], None, days[0].features[days[0].train])
    assert np.allclose(blind.decoder.predict(later.features[:500]), done.decoder.predict(later.features[:500]))


@pytest.mark.parametrize("name", ["snn", "snn_ensemble"])
def test_readout_refit_changes_only_the_readout(days, name, request):
    decoder = request.getfixturevalue(name)
    fixed, r2, done = _scored(decoder, days, "readout")
    assert r2 > fixed + 0.2 and r2 > 0.1
    layers = readout_layers(decoder)  # an ensemble: every member's readout
    assert len(layers) == (2 if name == "snn_ensemble" else 1)
    assert done.parameters_changed == sum(layer.weight.numel() + layer.bias.numel() for layer in layers)


@pytest.mark.parametrize("name", ["snn", "snn_ensemble"])
def test_input_fine_tune_recovers(days, name, request):
    decoder = request.getfixturevalue(name)
    fixed, r2, done = _scored(decoder, days, "input")
    assert r2 > fixed + 0.2 and r2 > 0.1
    first = input_modules(decoder)  # an ensemble: every member's first layer
    assert len(first) == (2 if name == "snn_ensemble" else 1)
    assert 0 < done.parameters_changed <= sum(m.weight.numel() + m.bias.numel() for m in first)


def test_methods_that_need_a_network_skip_the_wiener_filter(wiener, snn):
    assert not METHODS["readout"]().applies_to(wiener) and METHODS["readout"]().applies_to(snn)
    assert METHODS["rates"]().applies_to(wiener) and METHODS["scratch"]().applies_to(snn)
