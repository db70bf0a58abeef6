"""Population training of SNN decoders: each member is the decoder its topology and seed give
when fitted alone, and the population learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bmi_decoder.decoders import SNNDecoder
from bmi_decoder.decoders.snn_population import fit_population
from bmi_decoder.evaluation import r2_score
from bmi_decoder.preprocess import prepare_session
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError

# none, all DSC, all ASC and mixed: every way a layer can read an earlier node
TOPOLOGIES = ["4-000000", "4-111111", "4-222222", "4-120210"]
TINY = {
    "hidden": [10, 8, 10, 10],
    "chunk_bins": 32,
    "burn_in_bins": 4,
    "batch_size": 4,
    "lr": 5e-3,
    "ensemble": 1,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def session():
    prepared = prepare_session(simulate_session(seconds=40.0, channels=16, seed=3).recording)
    return prepared.split("train"), prepared.split("val"), prepared.split("test")


@pytest.mark.parametrize("weight_average", [0.0, 0.9])
def test_members_equal_decoders_fitted_alone(session, weight_average) -> None:
    (X, y), (X_val, y_val), _ = session
    # a short slice keeps it quick; patience 2 over 4 epochs lets some members stop early
    X, y = X[:1200], y[:1200]
    settings = {"max_epochs": 4, "patience": 2, "progress": False, "weight_average": weight_average, **TINY}
    template = SNNDecoder(**settings)
    members = [(t, s) for t in TOPOLOGIES for s in (0, 1)]
    population = fit_population(template, members, X, y, X_val, y_val, progress=False)
    for (topology, seed), member in zip(members, population):
        alone = SNNDecoder(topology=topology, seed=seed, **settings)
        alone.fit(X, y, X_val, y_val)
        assert member.topology == topology and member.seed == seed
        np.testing.assert_allclose(member.validation_r2_, alone.validation_r2_, atol=1e-4)
        for (name, a), b in zip(alone.network_.state_dict().items(), member.network_.state_dict().values()):
            torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4, msg=f"{topology} seed {seed}: {name}")
        np.testing.assert_allclose(member.predict(X_val), alone.predict(X_val), atol=1e-3)


def test_population_members_learn_and_groups_resume(tmp_path) -> None:
    # 120 s of a 96-channel simulated session; measured: best validation R2 0.21 to 0.62 (from
    # -0.34 to 0.08 after the first epoch) and test R2 -0.06 to 0.38 over the four topologies
    prepared = prepare_session(simulate_session(seconds=120.0, seed=3).recording)
    (X, y), (X_val, y_val), (X_test, y_test) = (prepared.split(s) for s in ("train", "val", "test"))
    template = SNNDecoder(
        max_epochs=12,
        patience=12,
        progress=False,
        **{**TINY, "hidden": [16] * 4, "chunk_bins": 64, "burn_in_bins": 8, "batch_size": 8},
    )
    members = [(t, 0) for t in TOPOLOGIES]
    # a memory budget of one member per group: four groups, four progress files
    fitted = fit_population(template, members, X, y, X_val, y_val, memory_gb=1e-9, progress_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("group*.pt"))) == len(members)
    for decoder in fitted:
        assert len(decoder.validation_r2_) == 12
        assert max(decoder.validation_r2_) > decoder.validation_r2_[0] + 0.2
    assert np.median([r2_score(y_test, d.predict(X_test)) for d in fitted]) > 0.1
    # a rerun finds every group's progress complete and trains nothing
    again = fit_population(template, members, X, y, X_val, y_val, memory_gb=1e-9, progress_dir=tmp_path, progress=False)
    for a, b in zip(fitted, again):
        assert a.validation_r2_ == b.validation_r2_


def test_recurrent_templates_are_refused(session) -> None:
    (X, y), (X_val, y_val), _ = session
    template = SNNDecoder(hidden=[8, 8], topology="2-1", recurrent=True, ensemble=1, progress=False, device="cpu")
    with pytest.raises(InputError) as info:
        fit_population(template, [("2-1", 0)], X, y, X_val, y_val)
    assert info.value.field == "recurrent"
