"""``bmi-decoder search --strategy exhaustive|zero-cost`` end to end on a short simulated session."""

from __future__ import annotations

import json

import optuna
import pytest

import bmi_decoder.search_strategies as strategies
import snn_core.population_training as population_training
from bmi_decoder.checkpoint import load_decoder
from bmi_decoder.cli import main

TINY_CONFIG = """
seed = 1
[decoders.snn]
hidden = [16, 16]
max_epochs = 2
"""


@pytest.fixture(scope="module")
def session_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("session") / "sim.mat"
    assert main(["synth", str(path), "--seconds", "60", "--seed", "2"]) == 0
    return str(path)


@pytest.fixture()
def config_file(tmp_path) -> str:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_CONFIG)
    return str(path)


def _search(session_file, config_file, out, *extra) -> int:
    return main(["search", session_file, "--config", config_file, "--out", str(out), *extra])


def test_exhaustive_trains_every_topology_with_each_seed_and_resumes_after_ctrl_c(
    session_file, config_file, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(strategies, "topologies_per_chunk", lambda *args: 1)  # one population per topology
    saves = {"n": 0}
    save = population_training._save

    def interrupted_save(*args, **kwargs):  # Ctrl-C just after the second topology's first epoch
        save(*args, **kwargs)
        saves["n"] += 1
        if saves["n"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(population_training, "_save", interrupted_save)
    out = tmp_path / "search"
    assert _search(session_file, config_file, out, "--strategy", "exhaustive", "--seeds", "2") == 130
    first = capsys.readouterr()
    assert "trial   0  2-0" in first.out and "trial   1" not in first.out
    progress = out / "skip-search-exhaustive-progress"
    assert list(progress.glob("chunk*/group*.pt")), "the interrupted population's progress is kept"
    study = optuna.load_study(study_name="skip-search-exhaustive", storage=f"sqlite:///{out / 'search.db'}")
    assert [t.user_attrs["topology"] for t in study.trials] == ["2-0"]

    trained = []
    fit = strategies.fit_population

    def counting_fit(template, members, *args, **kwargs):
        trained.extend(members)
        return fit(template, members, *args, **kwargs)

    monkeypatch.setattr(population_training, "_save", save)
    monkeypatch.setattr(strategies, "fit_population", counting_fit)
    assert _search(session_file, config_file, out, "--strategy", "exhaustive", "--seeds", "2") == 0
    printed, warned = capsys.readouterr()
    assert "not resumed" not in warned, "the interrupted population resumes from its progress file"
    assert trained[:4] == [("2-1", 1), ("2-1", 2), ("2-2", 1), ("2-2", 2)], "2-0 was not trained again"
    assert "trial   1  2-1" in printed and "trial   2  2-2" in printed and "exhaustive wall time" in printed
    assert not progress.exists(), "finished populations leave no progress behind"

    report = json.loads((out / "search.json").read_text())
    assert report["sampler"] == "exhaustive" and report["study"] == "skip-search-exhaustive"
    scores = report["strategy"]["scores"]
    assert sorted(scores) == ["2-0", "2-1", "2-2"] and report["strategy"]["seeds"] == [1, 2]
    for entry in scores.values():
        assert len(entry["seeds"]) == 2 and entry["mean"] == pytest.approx(sum(entry["seeds"]) / 2)
    best = max(scores, key=lambda t: scores[t]["mean"])
    assert report["best"]["topology"] == best and report["best"]["validation_r2"] == pytest.approx(scores[best]["mean"])
    test = report["strategy"]["best"]["test_r2"]
    assert len(test) == 2 and report["best"]["test_r2"] == pytest.approx(sum(test) / 2)
    assert report["wall_s"] > 0 and report["strategy"]["trained"] == 3
    decoder, _ = load_decoder(out / "best.pt")
    assert decoder.topology == best and decoder.seed == 1

    # a member of a population equals the decoder a sampler's trial fits alone (seed 1, the config's)
    assert _search(session_file, config_file, out, "--sampler", "random", "--trials", "1") == 0
    solo = json.loads((out / "search.json").read_text())["trials"][0]
    assert solo["validation_r2"] == pytest.approx(scores[solo["topology"]]["seeds"][0], abs=1e-4)


def test_zero_cost_ranks_the_space_then_trains_the_top(session_file, config_file, tmp_path, capsys):
    out = tmp_path / "search"
    assert _search(session_file, config_file, out, "--strategy", "zero-cost", "--top", "2", "--proxy", "naswot") == 0
    report = json.loads((out / "search.json").read_text())["strategy"]
    assert sorted(report["ranking"]) == ["2-0", "2-1", "2-2"] and report["proxy"] == "naswot"
    assert set(report["zero_cost"]["2-0"]) == {"hamming", "naswot"}
    naswot = [report["zero_cost"][t]["naswot"] for t in report["ranking"]]
    assert naswot == sorted(naswot, reverse=True)
    assert sorted(report["scores"]) == sorted(report["ranking"][:2]) and report["seeds"] == [1]
    assert report["ranking_s"] > 0 and report["wall_s"] >= report["ranking_s"]
    assert set(report["kendall_tau_trained"]) == {"hamming", "naswot"}
    assert "zero-cost wall time" in capsys.readouterr().out

    # a larger --top trains only the one more topology; the ranking is not computed again
    assert _search(session_file, config_file, out, "--strategy", "zero-cost", "--top", "3", "--proxy", "naswot") == 0
    again = json.loads((out / "search.json").read_text())["strategy"]
    assert again["ranking"] == report["ranking"] and again["ranking_s"] == report["ranking_s"]
    printed = capsys.readouterr().out
    assert printed.count("trial ") == 1 and f"trial   2  {report['ranking'][2]}" in printed


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--strategy", "grid"], "--strategy: expected one of sampler, tpe, gp, random, nsga2, exhaustive, zero-cost"),
        (["--strategy", "exhaustive", "--seeds", "0"], "--seeds: expected at least 1, got 0"),
        (["--strategy", "zero-cost", "--top", "4"], "command line: --top: expected 1 to 3 (the topologies ranked), got 4"),
        (["--strategy", "zero-cost", "--top", "0"], "--top: expected at least 1 topology to train, got 0"),
        (["--seeds", "3"], "command line: --seeds: expected none with the sampler strategy"),
        (["--strategy", "gp", "--seeds", "3"], "--seeds: expected none with the gp strategy"),
        (["--strategy", "exhaustive", "--trials", "5"], "--trials: expected none with the exhaustive strategy"),
        (["--strategy", "exhaustive", "--sampler", "tpe"], "--sampler: expected none with the exhaustive strategy"),
        (
            ["--strategy", "exhaustive", "--top", "2"],
            "--top: expected none with the exhaustive strategy (a setting of zero-cost)",
        ),
        (["--strategy", "zero-cost", "--proxy", "synflow"], "--proxy: expected one of hamming, naswot, got 'synflow'"),
        (
            ["--strategy", "exhaustive", "--topologies", "3-000"],
            "command line: --topologies: expected topologies of blocks of [2] layers",
        ),
        (["--strategy", "exhaustive", "--precision", "half"], "--precision: expected one of float32, bfloat16, got 'half'"),
    ],
)
def test_bad_strategy_options_exit_2_with_one_line(session_file, config_file, tmp_path, capsys, args, fragment):
    out = tmp_path / "s"
    assert _search(session_file, config_file, out, *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err
    assert not out.exists()
