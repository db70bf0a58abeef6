"""``ensemble``: an SNN decoder averages several networks trained as one population; it
predicts, streams, is costed and checkpointed as one decoder."""

from __future__ import annotations

import numpy as np
import pytest

from bmi_decoder.checkpoint import load_decoder, save_decoder
from bmi_decoder.decoders import SmallSNNDecoder, SNNDecoder
from bmi_decoder.decoders.snn_footprint import layer_widths, network_bytes
from bmi_decoder.decoders.snn_population import fit_population
from bmi_decoder.evaluation import r2_score
from bmi_decoder.preprocess import NEUROBENCH, prepare_session
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SETTINGS = {
    "hidden": [12, 12, 12],
    "chunk_bins": 32,
    "burn_in_bins": 4,
    "lr": 5e-3,
    "max_epochs": 6,
    "patience": 6,
    "progress": False,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def session():
    prepared = prepare_session(simulate_session(seconds=60.0, channels=32, seed=5).recording)
    return prepared.split("train"), prepared.split("val")


@pytest.fixture(scope="module")
def members(session, one_torch_thread) -> list[SNNDecoder]:
    # the population the ensemble trains (each member equals its solo fit to float tolerance,
    # tests/bmi_decoder/test_snn_population.py; over many epochs spikes flip and they drift apart)
    (X, y), (X_val, y_val) = session
    return fit_population(SNNDecoder(**SETTINGS), [("3-001", s) for s in (7, 8, 9)], X, y, X_val, y_val, progress=False)


@pytest.fixture(scope="module")
def ensemble(session, one_torch_thread) -> SNNDecoder:
    (X, y), (X_val, y_val) = session
    return SNNDecoder(seed=7, ensemble=3, **SETTINGS).fit(X, y, X_val, y_val)


def test_an_ensemble_averages_its_members(session, members, ensemble) -> None:
    _, (X_val, y_val) = session
    assert sorted(ensemble.members_) == ["3-001@7", "3-001@8", "3-001@9"]  # best validation first
    mean = np.mean([m.predict(X_val) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(X_val), mean, atol=1e-4, rtol=1e-4)
    assert ensemble.validation_r2_ == [pytest.approx(r2_score(y_val, ensemble.predict(X_val)))]
    # squared error is convex: the average of the predictions scores at least the average score
    singles = [r2_score(y_val, m.predict(X_val)) for m in members]
    assert ensemble.validation_r2_[0] >= np.mean(singles) - 1e-9 and ensemble.validation_r2_[0] > 0.15


def test_an_ensemble_costs_its_members_together(session, members, ensemble) -> None:
    _, (X_val, _) = session
    costs = [m.cost(X_val) for m in members]
    total = ensemble.cost(X_val)
    assert total.footprint_bytes == sum(c.footprint_bytes for c in costs)
    assert total.synops.effective_acs == pytest.approx(sum(c.synops.effective_acs for c in costs), rel=1e-3)


def test_an_ensemble_streams_and_its_checkpoint_loads(session, ensemble, tmp_path) -> None:
    _, (X_val, _) = session
    path = tmp_path / "ensemble.pt"
    save_decoder(ensemble, path, preprocessing=NEUROBENCH)
    loaded, _ = load_decoder(path)
    assert loaded.members_ == ensemble.members_
    np.testing.assert_array_equal(loaded.predict(X_val), ensemble.predict(X_val))
    loaded.reset()
    streamed = np.array([loaded.step(x) for x in X_val[:150]])
    np.testing.assert_allclose(streamed, ensemble.predict(X_val[:150]), atol=1e-5, rtol=1e-4)


def test_an_ensemble_without_skips_rebuilds_from_its_checkpoint(session, tmp_path) -> None:
    (X, y), (X_val, y_val) = session
    decoder = SNNDecoder(topology=None, ensemble=2, **{**SETTINGS, "max_epochs": 1}).fit(X, y, X_val, y_val)
    assert decoder.members_ in (["3-000@0", "3-000@1"], ["3-000@1", "3-000@0"])
    save_decoder(decoder, tmp_path / "plain.pt", preprocessing=NEUROBENCH)
    np.testing.assert_array_equal(load_decoder(tmp_path / "plain.pt")[0].predict(X_val), decoder.predict(X_val))


def test_auto_keeps_the_best_members_as_the_ensemble(session) -> None:
    (X, y), (X_val, y_val) = session
    decoder = SNNDecoder(
        topology="auto", candidates=["3-000", "3-111"], auto_seeds=2, ensemble=3, **{**SETTINGS, "max_epochs": 2}
    )
    decoder.fit(X, y, X_val, y_val)
    best = sorted(decoder.auto_scores_, key=lambda k: -decoder.auto_scores_[k])[:3]
    assert decoder.members_ == best and decoder.topology_ == best[0].split("@")[0]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"ensemble": 0}, "ensemble"),
        ({"ensemble": 2.0}, "ensemble"),
        ({"ensemble": 2, "recurrent": True}, "recurrent"),
        ({"topology": "auto", "candidates": ["3-000"], "ensemble": 2}, "ensemble"),  # one member to keep two of
    ],
)
def test_bad_ensembles_are_refused_before_training(session, params, field) -> None:
    (X, y), _ = session
    decoder = SNNDecoder(**{**SETTINGS, **params})
    with pytest.raises(InputError) as info:
        decoder.fit(X, y)
    assert info.value.field == field and not hasattr(decoder, "network_")


def test_a_small_ensemble_shares_the_30_kb() -> None:
    decoder = SmallSNNDecoder(ensemble=2)
    widths = layer_widths(decoder, 96)
    assert widths[0] < 32  # two members of half the budget each
    assert 2 * network_bytes(decoder, "3-001", widths, 96) <= 30 * 1024
