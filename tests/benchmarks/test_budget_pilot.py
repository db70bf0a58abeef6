"""The budget pilot: variance parts, the Spearman-Brown projection, settings, and a tiny run."""

import json

import budget_pilot as bp
import numpy as np
import pytest
from table_rows import r1_upper, seeds_needed, spearman_brown, variance_components

from snn_core.errors import InputError


def test_variance_components_recover_the_simulated_parts():
    rng = np.random.default_rng(0)
    true = rng.normal(0.5, 0.03, size=(400, 1))  # topologies: SD 0.03
    seeds = np.array([[0.0, 0.1, -0.1, 0.05, -0.05]])  # a seed's luck shared by every topology
    scores = true + seeds + rng.normal(0, 0.06, size=(400, 5))  # and its own on each: SD 0.06
    parts = variance_components(scores)
    assert np.sqrt(parts["residual"]) == pytest.approx(0.06, rel=0.05)
    assert np.sqrt(parts["topologies"]) == pytest.approx(0.03, rel=0.15)
    assert np.sqrt(parts["seeds"]) == pytest.approx(seeds.std(ddof=1), rel=0.15)
    noise_only = variance_components(rng.normal(0, 0.06, size=(400, 5)))
    assert abs(noise_only["topologies"]) < 0.1 * noise_only["residual"]
    with pytest.raises(ValueError, match="shape"):
        variance_components(np.zeros((5, 1)))


def test_spearman_brown_and_seeds_needed():
    assert spearman_brown(0.5, 1) == pytest.approx(0.5)
    assert spearman_brown(0.5, 3) == pytest.approx(0.75)
    assert spearman_brown(0.0, 10) == 0.0
    # r1 = 0.2: a mean of k seeds reaches 0.6 from k = 6, so the table needs 12 (halves of 6)
    assert seeds_needed(0.2, 0.6) == 12
    assert spearman_brown(0.2, 6) >= 0.6 > spearman_brown(0.2, 5)
    assert seeds_needed(0.9, 0.6) == 2
    assert seeds_needed(-0.1, 0.6) is None


def test_r1_upper_bounds_r1_from_above_about_95_percent_of_the_time():
    # topologies SD 0.03, noise 0.06: r1 = 0.2; 36 topologies x 3 seeds, as the pilot samples
    rng = np.random.default_rng(1)
    bounds = [r1_upper(rng.normal(0, 0.03, size=(36, 1)) + rng.normal(0, 0.06, size=(36, 3))) for _ in range(400)]
    covered = np.mean([b >= 0.2 for b in bounds])
    assert 0.9 <= covered <= 0.99
    # with no topology effect at all the bound is small but not zero: it still bounds the seeds
    flat = r1_upper(rng.normal(0, 0.06, size=(36, 3)))
    assert 0.0 < flat < 0.35
    assert seeds_needed(flat, 0.6) >= 6


def test_settings_set_budget_paths_and_refuse_others():
    budget = bp.with_settings(bp.BUDGETS["vision"], ["train.epochs=2", "data.difficulty=easy", "seeds=[0,1]"])
    assert budget["train"]["epochs"] == 2 and budget["data"]["difficulty"] == "easy" and budget["seeds"] == [0, 1]
    assert bp.BUDGETS["vision"]["train"]["epochs"] != 2 or bp.BUDGETS["vision"]["seeds"] != [0, 1]  # a copy
    for bad in ("train.epochs", "train.nope=1", "nope.epochs=1"):
        with pytest.raises(InputError, match="--variant"):
            bp.with_settings(bp.BUDGETS["vision"], [bad])


def test_a_tiny_pilot_reports_and_resumes(tmp_path, monkeypatch, capsys):
    tiny = {
        "session": {"seconds": 40.0, "seed": 1},
        "snn": {"hidden": [4] * 4, "max_epochs": 2, "patience": 2, "lr": 1e-2},
        "seeds": [0, 1],
    }
    monkeypatch.setitem(bp.BUDGETS, "bmi", tiny)
    out = tmp_path / "pilot.json"
    argv = ["bmi", "--topologies", "3", "--variant", "lr", "snn.lr=0.005", "--out", str(tmp_path / "fits")]
    argv += ["--data-dir", str(tmp_path), "--json", str(out)]
    assert bp.main(argv) == 0
    report = json.loads(out.read_text())
    assert set(report["variants"]) == {"table", "lr"} and report["variants"]["lr"]["settings"] == ["snn.lr=0.005"]
    table = report["variants"]["table"]
    assert table["fits"] == 6 and table["seeds"] == [0, 1] and table["seconds_per_fit"] > 0
    assert 0 <= table["val_score"]["r1"] <= 1 and table["val_score"]["residual_sd"] >= 0
    # a second run trains nothing: the sample's fits are kept
    fits = (tmp_path / "fits" / "bmi_table.csv").read_text()
    assert bp.main(argv) == 0 and (tmp_path / "fits" / "bmi_table.csv").read_text() == fits


def test_bad_variants_exit_2(capsys):
    with pytest.raises(SystemExit) as err:
        bp.main(["vision", "--variant", "table", "train.epochs=2"])
    assert err.value.code == 2 and "name of its own" in capsys.readouterr().err
    assert bp.main(["vision", "--variant", "x", "train.nothing=2"]) == 2
    assert "--variant" in capsys.readouterr().err
