"""``bmi-decoder search`` end to end on a short simulated session with a tiny SNN."""

from __future__ import annotations

import json

import pytest

from bmi_decoder.checkpoint import load_decoder
from bmi_decoder.cli import main

TINY_CONFIG = """
seed = 1
[decoders.snn]
hidden = [16, 16]
max_epochs = 1
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


def test_search_writes_report_and_resumes(session_file, config_file, tmp_path, capsys):
    out = tmp_path / "search"
    assert main(["search", session_file, "--config", config_file, "--trials", "2", "--out", str(out)]) == 0
    report = json.loads((out / "search.json").read_text())
    assert set(report) >= {"session", "study", "storage", "sampler", "trials", "best", "best_so_far"}
    assert report["hidden"] == [16, 16] and report["search_space_size"] == 3
    assert len(report["trials"]) == 2
    best = max(report["trials"], key=lambda t: t["validation_r2"])
    assert report["best"]["topology"] == best["topology"]
    assert report["best"]["validation_r2"] == best["validation_r2"]
    assert isinstance(report["best"]["test_r2"], float)
    decoder, _ = load_decoder(out / "best.pt")
    assert decoder.topology == best["topology"] and decoder.hidden == [16, 16]
    printed = capsys.readouterr().out
    assert printed.count("validation R2") == 3  # two trials and the final line

    assert main(["search", session_file, "--config", config_file, "--trials", "3", "--out", str(out)]) == 0
    resumed = json.loads((out / "search.json").read_text())
    assert len(resumed["trials"]) == 3
    assert resumed["trials"][:2] == report["trials"], "completed trials are kept, not rerun"
    assert "trial   2 " in capsys.readouterr().out


def test_resuming_with_other_settings_is_refused(session_file, config_file, tmp_path, capsys):
    out = tmp_path / "search"
    assert main(["search", session_file, "--config", config_file, "--trials", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["search", session_file, "--config", config_file, "--seed", "9", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "study 'skip-search': snn: expected the same as stored" in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--sampler", "bayes"], "--sampler: expected one of tpe, gp, random, nsga2, got 'bayes'"),
        (["--storage", "nosuchdb://x"], "nosuchdb://x: storage: expected an Optuna RDB URL"),
        (["--storage", "sqlite:///no/such/dir/search.db"], "storage: expected an Optuna RDB URL that opens"),
        (["--layers", "3", "--config", "CONFIG"], "decoders.snn.hidden: expected 3 widths to match --layers 3"),
        (["--trials", "0"], "--trials: expected at least 1"),
        (["--pruner", "median"], "--pruner: expected one of none, sha, hyperband, got 'median'"),
        (["--workers", "0"], "--workers: expected at least 1, got 0"),
        (["--objectives", "score,power"], "--objectives: expected score, score,energy or score,synops, got 'score,power'"),
        (["--objectives", "score,energy", "--pruner", "sha"], "--pruner: expected none with several objectives"),
    ],
)
def test_bad_input_exits_2_with_one_line(session_file, config_file, tmp_path, capsys, args, fragment):
    args = [config_file if a == "CONFIG" else a for a in args]
    assert main(["search", session_file, *args, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err
