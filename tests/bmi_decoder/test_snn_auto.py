"""``topology="auto"``: the SNN decoders choose a topology and seed per session on validation, by
training the candidates as one population, and are then ordinary fitted decoders of the choice."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bmi_decoder.checkpoint import load_decoder, save_decoder
from bmi_decoder.cli import main
from bmi_decoder.decoders import SmallSNNDecoder, SNNDecoder
from bmi_decoder.decoders.snn_auto import auto_candidates, default_candidates, footprint
from bmi_decoder.evaluation import r2_score
from bmi_decoder.experiment import load_config
from bmi_decoder.preprocess import NEUROBENCH, prepare_session
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError
from snn_core.metrics import footprint_bytes

# torch on one thread: members are compared with solo fits to float tolerance, and a loaded
# 2-core machine makes multi-threaded kernels of these tiny models stall
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SETTINGS = {
    "hidden": [12, 12, 12],
    "chunk_bins": 32,
    "burn_in_bins": 4,
    "batch_size": 8,
    "lr": 5e-3,
    "max_epochs": 6,
    "patience": 6,
    # pinned: these fits run about 30 steps an epoch, too few for a moving average of the weights
    "weight_average": 0.0,
    "ensemble": 1,  # the member with the best validation R2 alone (an ensemble keeps the best few)
    "progress": False,
    "device": "cpu",
}
QUICK = {**SETTINGS, "max_epochs": 2}
BUDGET = 30 * 1024


@pytest.fixture(scope="module")
def session():
    prepared = prepare_session(simulate_session(seconds=60.0, channels=32, seed=3).recording)
    return prepared.split("train"), prepared.split("val"), prepared.split("test")


@pytest.fixture(scope="module")
def auto_fit(session, one_torch_thread) -> SNNDecoder:
    (X, y), (X_val, y_val), _ = session
    # the default candidates of three layers (none, all DSC, all ASC, and the default "3-001"), two seeds
    return SNNDecoder(topology="auto", auto_seeds=2, seed=4, **SETTINGS).fit(X, y, X_val, y_val)


def test_auto_keeps_the_best_member_which_equals_its_fit_alone(session, auto_fit) -> None:
    (X, y), (X_val, y_val), (X_test, y_test) = session
    assert set(auto_fit.auto_scores_) == {f"{t}@{s}" for t in ("3-000", "3-111", "3-222", "3-001") for s in (4, 5)}
    best = max(auto_fit.auto_scores_, key=auto_fit.auto_scores_.get)
    assert best == f"{auto_fit.topology_}@{auto_fit.seed_}"
    assert max(auto_fit.validation_r2_) == auto_fit.auto_scores_[best]
    # it learned: measured, best validation R2 0.16 to 0.46 over the six members, 0.04 to 0.15
    # after the first epoch
    assert auto_fit.auto_scores_[best] > 0.3 and auto_fit.auto_scores_[best] > auto_fit.validation_r2_[0] + 0.1
    assert r2_score(y_test, auto_fit.predict(X_test)) > 0.1
    alone = SNNDecoder(topology=auto_fit.topology_, seed=auto_fit.seed_, **SETTINGS).fit(X, y, X_val, y_val)
    np.testing.assert_allclose(auto_fit.validation_r2_, alone.validation_r2_, atol=1e-4)
    for (name, a), b in zip(alone.network_.state_dict().items(), auto_fit.network_.state_dict().values()):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4, msg=name)
    np.testing.assert_allclose(auto_fit.predict(X_val), alone.predict(X_val), atol=1e-3)
    assert auto_fit.cost(X_val).footprint_bytes == alone.cost(X_val).footprint_bytes


def test_an_auto_checkpoint_loads_the_chosen_network(session, auto_fit, tmp_path) -> None:
    _, (X_val, _), _ = session
    path = tmp_path / "auto.pt"
    save_decoder(auto_fit, path, preprocessing=NEUROBENCH)
    loaded, _ = load_decoder(path)
    assert loaded.topology == "auto" and loaded.topology_ == auto_fit.topology_ and loaded.seed_ == auto_fit.seed_
    assert loaded.auto_scores_ == auto_fit.auto_scores_
    np.testing.assert_array_equal(loaded.predict(X_val), auto_fit.predict(X_val))
    loaded.reset()  # streaming runs the chosen network too
    streamed = np.array([loaded.step(x) for x in X_val[:200]])
    np.testing.assert_allclose(streamed, auto_fit.predict(X_val[:200]), atol=1e-6, rtol=1e-5)


def test_an_interrupted_auto_fit_resumes_from_its_population_folder(session, tmp_path) -> None:
    (X, y), (X_val, y_val), _ = session
    progress = tmp_path / "fit.progress"
    first = SNNDecoder(topology="auto", candidates=["3-000", "3-001"], progress_file=str(progress), **QUICK)
    first.fit(X[:1500], y[:1500], X_val, y_val)
    assert sorted(p.name for p in (tmp_path / "fit.progress.population").iterdir()) == ["group0000.pt"]
    assert not progress.exists()  # the population's progress is kept apart from a solo fit's
    again = SNNDecoder(topology="auto", candidates=["3-000", "3-001"], progress_file=str(progress), **QUICK)
    again.fit(X[:1500], y[:1500], X_val, y_val)  # finds every epoch done and trains none
    assert again.auto_scores_ == first.auto_scores_ and again.validation_r2_ == first.validation_r2_


def test_a_fixed_refit_forgets_the_auto_choice(session) -> None:
    (X, y), (X_val, y_val), _ = session
    decoder = SNNDecoder(topology="auto", candidates=["3-000", "3-001"], **QUICK).fit(X[:1500], y[:1500], X_val, y_val)
    assert decoder.topology_ in ("3-000", "3-001") and decoder.seed_ == 0
    decoder.set_params(topology="3-000", candidates=None).fit(X[:1500], y[:1500], X_val, y_val)
    assert not any(hasattr(decoder, name) for name in ("topology_", "seed_", "auto_scores_"))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"topology": "auto", "candidates": ["3-11"]}, "candidates"),  # not a topology
        ({"topology": "auto", "candidates": ["2-1"]}, "candidates"),  # not of hidden's 3 layers
        ({"topology": "auto", "candidates": ["3-001_1-"]}, "candidates"),  # two blocks
        ({"topology": "auto", "candidates": "3-111"}, "candidates"),  # a string, not a list
        ({"topology": "auto", "candidates": []}, "candidates"),
        ({"topology": "auto", "candidates": ["3-111", "3-111"]}, "candidates"),
        ({"topology": "auto", "auto_seeds": 0}, "auto_seeds"),
        ({"topology": "auto", "auto_seeds": True}, "auto_seeds"),
        ({"candidates": ["3-111"]}, "candidates"),  # candidates without "auto" would be ignored
        ({"auto_seeds": 2}, "auto_seeds"),
        ({"topology": "auto", "recurrent": True}, "recurrent"),  # population training is feed-forward
        ({"topology": "Auto"}, "topology"),
    ],
)
def test_bad_auto_settings_are_one_line_naming_the_field(params: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        SNNDecoder(**params).check_params()
    assert (info.value.source, info.value.field) == ("snn decoder", field)
    assert "\n" not in str(info.value)


def test_an_unfitted_auto_decoder_has_no_network_to_build() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        SNNDecoder(topology="auto")._build_network(8)


def test_default_candidates_are_the_pure_wirings_and_the_class_default() -> None:
    assert default_candidates(SNNDecoder(topology="auto")) == ["3-000", "3-111", "3-222", "3-001"]
    assert default_candidates(SmallSNNDecoder(topology="auto")) == ["3-000", "3-111", "3-222", "3-001"]
    assert default_candidates(SmallSNNDecoder(topology="auto", hidden=[8, 8])) == ["2-0", "2-1", "2-2"]
    assert default_candidates(SNNDecoder(topology="auto", hidden=[8])) == ["1-"]


def test_the_small_preset_chooses_only_within_30_kb() -> None:
    decoder = SmallSNNDecoder(topology="auto")
    sizes = {t: footprint(decoder, t, 96) for t in default_candidates(decoder)}
    kept = auto_candidates(decoder, 96)
    assert kept == ["3-000", "3-001"]  # a Utah array's 96 channels: the concatenations of the input are too big
    assert all((sizes[t] <= BUDGET) == (t in kept) for t in sizes)
    assert sizes["3-001"] == footprint_bytes(SmallSNNDecoder()._build_network(96))  # as the cost reports it
    assert auto_candidates(SNNDecoder(topology="auto"), 96) == default_candidates(SNNDecoder(topology="auto"))


def test_the_small_preset_refuses_candidates_that_all_exceed_30_kb() -> None:
    X = np.random.default_rng(0).poisson(0.05, (600, 96)).astype(float)
    y = np.random.default_rng(1).normal(size=(600, 2))
    decoder = SmallSNNDecoder(topology="auto", candidates=["3-111", "3-010"], **{**QUICK, "hidden": [32, 32, 32]})
    with pytest.raises(InputError) as info:
        decoder.fit(X, y)  # refused before any training
    assert info.value.field == "candidates" and "30720 bytes" in str(info.value)
    assert not hasattr(decoder, "network_")


def test_a_small_auto_fit_stays_within_30_kb() -> None:
    recording = simulate_session(seconds=30.0, seed=2).recording  # 96 channels
    (X, y), (X_val, y_val) = (prepare_session(recording).split(s) for s in ("train", "val"))
    decoder = SmallSNNDecoder(topology="auto", **{**QUICK, "hidden": [32, 32, 32], "max_epochs": 1}).fit(X, y, X_val, y_val)
    assert set(decoder.auto_scores_) == {"3-000@0", "3-001@0"}
    assert decoder.cost(X_val).footprint_bytes <= BUDGET


AUTO_TOML = """
seed = 2
[decoders.snn]
hidden = [8, 8]
topology = "auto"
candidates = ["2-0", "2-1"]
auto_seeds = 2
max_epochs = 1
chunk_bins = 32
burn_in_bins = 4
progress = false
"""


def test_a_config_sets_auto_and_evaluate_runs_it(tmp_path) -> None:
    config = tmp_path / "auto.toml"
    config.write_text(AUTO_TOML)
    decoder = load_config(config).decoder("snn")
    assert (decoder.topology, decoder.candidates, decoder.auto_seeds, decoder.seed) == ("auto", ["2-0", "2-1"], 2, 2)
    bad = tmp_path / "bad.toml"
    bad.write_text(AUTO_TOML.replace('"2-1"]', '"3-111"]'))
    with pytest.raises(InputError) as info:
        load_config(bad)
    assert info.value.field == "decoders.snn.candidates"
    session = tmp_path / "sim.mat"
    assert main(["synth", str(session), "--seconds", "40", "--seed", "5"]) == 0
    out = tmp_path / "report"
    assert main(["evaluate", str(session), "--decoders", "snn", "--config", str(config), "--out", str(out)]) == 0
    (row,) = json.loads((out / "report.json").read_text())["results"]
    assert row["decoder"] == "snn" and np.isfinite(row["r2"])
