"""One simulated monkey over several days: shared array, drift recorded, files the readers accept."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bmi_decoder.cli import main
from bmi_decoder.io import read_recording
from bmi_decoder.io.mat import read_mat_note
from bmi_decoder.quality import check_recording
from bmi_decoder.simulate_days import NOTE, DriftRates, parse_days, simulate_days


def test_days_parse():
    assert parse_days("3") == [0, 1, 2]
    assert parse_days("0,7,30") == [0, 7, 30]


def test_days_share_the_array_and_drift_more_with_time():
    days = list(simulate_days([0, 3, 12], seconds=20.0, channels=32, seed=4))
    assert [d.day for d in days] == [0, 3, 12]
    assert {d.session.recording.n_channels for d in days} == {32}
    rotation = [d.drift["direction_rms_rad"] for d in days]
    assert rotation[0] == 0.0 < rotation[1] < rotation[2]
    # a dead channel never comes back
    assert set(days[0].drift["dead_channels"]) <= set(days[1].drift["dead_channels"]) <= set(days[2].drift["dead_channels"])
    assert days[2].drift["units_lost_since_day0"] > 0
    # each day has a length of its own
    assert len({round(d.session.recording.duration_s) for d in days}) == 3


def test_the_same_seed_gives_the_same_days():
    a = [d.session.recording for d in simulate_days([0, 2], seconds=10.0, channels=16, seed=2)]
    b = [d.session.recording for d in simulate_days([0, 2], seconds=10.0, channels=16, seed=2)]
    assert all(not x.mismatches(y) for x, y in zip(a, b))


def test_no_drift_keeps_the_units():
    still = DriftRates(unit_loss=0.0, unit_gain=0.0, channel_death=0.0, baseline_sd=0.0, gain_sd=0.0, direction_sd=0.0)
    first, later = simulate_days([0, 5], seconds=10.0, channels=16, seed=0, rates=still)
    assert first.drift["units_alive"] == later.drift["units_alive"]
    assert later.drift["direction_rms_rad"] == 0.0


def test_synth_days_writes_files_info_and_quality_accept(tmp_path, capsys):
    out = tmp_path / "month"
    assert main(["synth", str(out), "--days", "0,1,4", "--seconds", "30", "--channels", "96", "--seed", "5"]) == 0
    files = sorted(out.glob("*.mat"))
    assert [f.name for f in files] == ["sim5_20160622_01.mat", "sim5_20160623_01.mat", "sim5_20160626_01.mat"]
    for day, path in zip([0, 1, 4], files):
        assert not check_recording(read_recording(path))
        drift = json.loads(read_mat_note(path, NOTE))
        assert drift["day"] == day and drift["seed"] == 5 and drift["rates"]["direction_sd"] > 0
        capsys.readouterr()
        assert main(["info", str(path), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["channels"] == 96 and summary["warnings"] == []
        assert np.isclose(summary["duration_s"], drift["seconds"] - 0.004, atol=0.01)


@pytest.mark.parametrize("text", ["0", "1,0", "x", "2,5", "-3"])
def test_bad_days_are_refused(text, capsys):
    assert main(["synth", "out_folder", "--days", text]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--days" in err[0]
