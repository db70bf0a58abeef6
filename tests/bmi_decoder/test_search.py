"""bmi_decoder.search as a library: the result, the recording's identity, Ctrl-C."""

from __future__ import annotations

import dataclasses
import json

import optuna
import pytest

from bmi_decoder.cli import main
from bmi_decoder.decoders import SNNDecoder
from bmi_decoder.experiment import ExperimentConfig
from bmi_decoder.search import SearchRequest, SearchResult, SearchTrial, search_topology
from snn_core import search as core_search

TINY = ExperimentConfig(seed=1, decoders={"snn": {"hidden": [16, 16], "max_epochs": 1}})
TINY_TOML = "seed = 1\n[decoders.snn]\nhidden = [16, 16]\nmax_epochs = 1\n"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> tuple[str, str]:
    """Two different recordings under the same file name."""
    root = tmp_path_factory.mktemp("sessions")
    paths = (root / "a" / "s.mat", root / "b" / "s.mat")
    for seed, path in enumerate(paths, start=2):
        path.parent.mkdir()
        assert main(["synth", str(path), "--seconds", "60", "--seed", str(seed)]) == 0
    return str(paths[0]), str(paths[1])


def test_search_topology_returns_a_frozen_result_and_binds_through_the_core(sessions, tmp_path, monkeypatch):
    bound = []
    bind = core_search.bind_study
    monkeypatch.setattr(core_search, "bind_study", lambda *a, **k: bound.append(a[2]) or bind(*a, **k))
    lines = []
    result = search_topology(sessions[0], TINY, SearchRequest("random", trials=2), out=tmp_path, log=lines.append)
    assert isinstance(result, SearchResult) and all(isinstance(t, SearchTrial) for t in result.trials)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.test_r2 = 1.0  # type: ignore[misc]
    assert result.hidden == (16, 16) and result.search_space_size == 3 and len(result.trials) == 2
    assert result.best_topology == max(result.trials, key=lambda t: t.validation_r2).topology
    assert result.validation_r2 == max(result.best_so_far) and isinstance(result.test_r2, float)
    assert len(result.session_sha256) == 64 and result.storage == core_search.default_storage(tmp_path)
    assert result.paths == (tmp_path / "search.json", tmp_path / "best.pt") and all(p.exists() for p in result.paths)
    assert json.loads(result.paths[0].read_text()) == json.loads(json.dumps(result.to_dict()))
    assert result.decoder is not None and result.decoder.topology == result.best_topology
    assert len(lines) == 1 and lines[0].startswith("searching 3 topologies")
    # the identity check is the core's: the recording's content hash is part of what it binds
    assert bound and all(s["objective"]["session_sha256"] == result.session_sha256 for s in bound)


def test_another_recording_of_the_same_file_name_is_refused(sessions, tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    out = str(tmp_path / "out")
    assert main(["search", sessions[0], "--config", str(config), "--trials", "1", "--out", out]) == 0
    capsys.readouterr()
    assert main(["search", sessions[1], "--config", str(config), "--trials", "2", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "search.db, study 'skip-search': session_sha256: expected the same as stored" in err


def test_ctrl_c_is_one_line_and_exit_130_then_the_rerun_resumes(sessions, tmp_path, capfd, monkeypatch):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    argv = ["search", sessions[0], "--config", str(config), "--sampler", "random", "--trials", "2", "--out", str(tmp_path / "o")]
    fit = SNNDecoder.fit
    calls = []

    def interrupted_second_fit(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(SNNDecoder, "fit", interrupted_second_fit)
    assert main(argv) == 130
    err = capfd.readouterr().err.strip()
    assert err.splitlines()[-1] == "bmi-decoder: interrupted; rerun to resume"
    assert "Traceback" not in err and "failed" not in err
    monkeypatch.setattr(SNNDecoder, "fit", fit)
    assert main(argv) == 0
    trials = json.loads((tmp_path / "o" / "search.json").read_text())["trials"]
    assert [t["state"] for t in trials].count("complete") == 2 and trials[1]["state"] == "fail"


def test_trials_report_validation_r2_per_epoch_and_pruned_ones_are_never_the_best(sessions, tmp_path):
    config = ExperimentConfig(seed=1, decoders={"snn": {"hidden": [16, 16, 16], "max_epochs": 4, "patience": 4}})
    result = search_topology(sessions[0], config, SearchRequest("random", trials=6, pruner="sha"), out=tmp_path)
    study = optuna.load_study(study_name="skip-search", storage=result.storage)
    assert [t.state.name.lower() for t in study.trials] == [t.state for t in result.trials]
    assert sum(t.state in ("complete", "pruned") for t in result.trials) == 6 and result.pruner == "sha"
    for t in study.trials:  # the validation R2 of every epoch run; a completed trial's score is its best
        assert sorted(t.intermediate_values) == list(range(1, len(t.intermediate_values) + 1))
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert len(t.intermediate_values) == 4 and t.value == max(t.intermediate_values.values())
    best = next(t for t in result.trials if t.number == result.best_trial)
    assert best.state == "complete" and result.validation_r2 == max(
        t.validation_r2 for t in result.trials if t.state == "complete"
    )
    assert json.loads(result.paths[0].read_text())["pruner"] == "sha"
