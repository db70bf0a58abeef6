"""Recordings that cannot be decoded honestly: refused by the fitting commands, flagged by ``info``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from bmi_decoder.cli import main
from bmi_decoder.experiment import load_config
from bmi_decoder.io import write_mat
from bmi_decoder.preprocess import Preprocessing
from bmi_decoder.quality import check_gaps, check_recording, check_timing, check_velocity, require_decodable
from bmi_decoder.recording import Recording
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError

FAST = ["--decoders", "wiener"]


@pytest.fixture(scope="module")
def good() -> Recording:
    return simulate_session(seconds=20, seed=5).recording


def with_hole(rec: Recording, seconds: float) -> Recording:
    """``rec`` with every sample after the middle one moved ``seconds`` later (spikes too)."""
    middle = len(rec.t) // 2
    t = rec.t.copy()
    t[middle:] += seconds
    spikes = np.where(rec.spike_times > rec.t[middle - 1], rec.spike_times + seconds, rec.spike_times)
    return dataclasses.replace(rec, t=t, spike_times=spikes)


def with_jitter(rec: Recording) -> Recording:
    """``rec`` with every sample time moved by up to 0.4 ms (10% of the 4 ms step)."""
    jitter = np.random.default_rng(0).uniform(-0.0004, 0.0004, len(rec.t))
    return dataclasses.replace(rec, t=rec.t + jitter)


def still(rec: Recording) -> Recording:
    return dataclasses.replace(rec, cursor_pos=np.broadcast_to(rec.cursor_pos[0], rec.cursor_pos.shape).copy())


def written(rec: Recording, folder: Path, name: str) -> Path:
    """The recording in the Zenodo .mat layout (without the out-of-window spikes, which a moved clock
    could bring inside the window)."""
    path = folder / f"{name}.mat"
    write_mat(rec, path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_simulated_session_passes(good):
    assert check_recording(good) == []
    assert require_decodable(good) is good


def test_each_check_names_its_field(good):
    assert [f.field for f in check_velocity(still(good))] == ["cursor_pos"]
    assert [f.field for f in check_gaps(with_hole(good, 10.0))] == ["t"]
    assert [f.field for f in check_timing(with_jitter(good))] == ["t"]
    backwards = good.t.copy()
    backwards[100] = backwards[99]
    (finding,) = check_recording(dataclasses.replace(good, t=backwards))
    assert finding.field == "t" and "strictly increasing" in finding.expected


def test_a_slow_drift_is_still_a_still_cursor(good):
    # sensor noise of 1 micrometre per sample: about 0.3 mm/s, nothing to decode
    noise = np.random.default_rng(1).normal(0.0, 0.001, good.cursor_pos.shape)
    (finding,) = check_recording(dataclasses.replace(still(good), cursor_pos=still(good).cursor_pos + noise))
    assert finding.field == "cursor_pos"


def test_the_hole_limit_is_configurable(good, tmp_path):
    half_second = with_hole(good, 0.5)
    assert check_recording(half_second) == []
    (finding,) = check_recording(half_second, max_gap_s=0.2)
    assert finding.field == "t" and "max_gap_s = 0.2 s" in finding.expected
    config = tmp_path / "strict.toml"
    config.write_text("[data]\nmax_gap_s = 0.2\n")
    assert load_config(config).max_gap_s == 0.2 and load_config(config).preprocessing == Preprocessing()


def test_a_negative_hole_limit_is_refused(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[data]\nmax_gap_s = -1.0\n")
    with pytest.raises(InputError, match="max_gap_s"):
        load_config(config)


@pytest.mark.parametrize(
    ("damage", "field"),
    [(still, "cursor_pos"), (lambda r: with_hole(r, 10.0), "t"), (with_jitter, "t")],
    ids=["still-cursor", "10s-hole", "jitter"],
)
def test_evaluate_refuses_before_fitting_and_info_warns(good, tmp_path, capsys, damage, field):
    path = written(damage(good), tmp_path, "damaged")
    before = sha256(path)
    out = tmp_path / "report"
    capsys.readouterr()
    assert main(["evaluate", str(path), *FAST, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and f": {field}: expected" in lines[0], captured.err
    assert captured.out == "" and not out.exists()

    assert main(["info", str(path)]) == 0
    captured = capsys.readouterr()
    assert "reaches" in captured.out
    (warning,) = captured.err.strip().splitlines()
    assert warning.startswith("warning: ") and str(path) in warning and f": {field}: " in warning
    assert main(["info", str(path), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["warnings"]
    assert f": {field}: " in entry
    assert sha256(path) == before


def test_evaluate_checks_every_file_before_the_first_fit(good, tmp_path, capsys):
    first = written(good, tmp_path, "fine")
    last = written(still(good), tmp_path, "still")
    assert main(["evaluate", str(first), str(last), *FAST, "--out", str(tmp_path / "report")]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "still.mat: cursor_pos:" in captured.err
    assert "wiener" not in captured.err and not (tmp_path / "report").exists()  # no progress line: no fit


def test_a_half_second_hole_passes_by_default_and_fails_a_stricter_config(good, tmp_path, capsys):
    path = written(with_hole(good, 0.5), tmp_path, "hole")
    before = sha256(path)
    assert main(["evaluate", str(path), *FAST, "--out", str(tmp_path / "report")]) == 0
    strict = tmp_path / "strict.toml"
    strict.write_text("[data]\nmax_gap_s = 0.2\n")
    capsys.readouterr()
    assert main(["evaluate", str(path), *FAST, "--config", str(strict), "--out", str(tmp_path / "strict")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hole.mat: t: expected no hole longer than max_gap_s = 0.2 s" in err
    assert not (tmp_path / "strict").exists()
    assert sha256(path) == before


@pytest.mark.parametrize("command", ["train", "search"])
def test_train_and_search_refuse_before_fitting(good, tmp_path, capsys, command):
    path = written(still(good), tmp_path, "still")
    out = tmp_path / ("model.pt" if command == "train" else "search")
    extra = ["--decoder", "wiener"] if command == "train" else ["--trials", "1"]
    capsys.readouterr()
    assert main([command, str(path), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "still.mat: cursor_pos: expected" in err
    assert not out.exists() and not Path(f"{out}.progress").exists()
