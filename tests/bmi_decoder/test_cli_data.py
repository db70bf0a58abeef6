"""``bmi-decoder synth / convert / info``, and bad input: exit status 2 with one line."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from bmi_decoder.cli import main
from bmi_decoder.io import read_recording, write_mat
from bmi_decoder.kinematics import reach_starts
from bmi_decoder.recording import Recording
from bmi_decoder.simulate import simulate_session

INFO_KEYS = [
    "channels",
    "units",
    "sorted_units",
    "duration_s",
    "samples",
    "reaches",
    "spikes_in_window",
    "spikes_outside_window",
    "finger_columns",
    "warnings",
]


@pytest.fixture(scope="module")
def synth_mat(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "session.mat"
    assert main(["synth", str(path), "--seconds", "20", "--seed", "5", "--units-per-channel", "5"]) == 0
    return path


@pytest.mark.parametrize("command", ["synth", "convert", "info"])
def test_help_explains_the_command(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: bmi-decoder {command}" in out and "examples:" in out


def test_synth_writes_the_simulators_session(synth_mat):
    session = simulate_session(seconds=20, seed=5, units_per_channel=5)
    assert read_recording(synth_mat).mismatches(session.recording) == []


def test_info_json_reports_the_session(capsys, synth_mat):
    capsys.readouterr()
    assert main(["info", str(synth_mat), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info) == INFO_KEYS
    session = simulate_session(seconds=20, seed=5, units_per_channel=5)
    rec, outside = session.recording, session.outside_spikes
    cells = set(zip(rec.spike_channels, rec.spike_units)) | set(zip(outside.channels, outside.units))
    assert info == {
        "channels": 96,
        "units": len(cells),
        "sorted_units": sum(1 for _, unit in cells if unit >= 1),
        "duration_s": pytest.approx(19.996),
        "samples": 5000,
        "reaches": len(reach_starts(rec.target_pos)),
        "spikes_in_window": int(session.channel_spike_counts.sum()),
        "spikes_outside_window": len(outside.times),
        "finger_columns": 3,
        "warnings": [],
    }
    assert 0 < info["sorted_units"] < info["units"]


def test_info_text_names_every_figure(capsys, synth_mat):
    capsys.readouterr()
    assert main(["info", str(synth_mat)]) == 0
    out = capsys.readouterr().out
    assert "reaches" in out and "spikes outside window" in out and "finger_pos columns" in out


def test_convert_mat_to_nwb_and_back_loses_nothing(tmp_path, capsys, synth_mat):
    nwb, back = tmp_path / "s.nwb", tmp_path / "back.mat"
    assert main(["convert", str(synth_mat), str(nwb)]) == 0
    assert main(["convert", str(nwb), str(back)]) == 0
    original = read_recording(synth_mat)
    assert read_recording(nwb).mismatches(original) == []
    assert read_recording(back).mismatches(original) == []


def _expect_one_line_error(capsys, argv: list[str], *needles: str) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def _small_mat(path) -> None:
    session = simulate_session(seconds=5, seed=1)
    write_mat(session.recording, path, outside_spikes=session.outside_spikes)


def test_not_hdf5(tmp_path, capsys):
    for name in ("notes.mat", "notes.nwb"):
        path = tmp_path / name
        path.write_text("cursor_pos,target_pos\n1,2\n")
        _expect_one_line_error(capsys, ["info", str(path)], str(path), "format")


def test_truncated_file(tmp_path, capsys):
    path = tmp_path / "cut.mat"
    _small_mat(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_one_line_error(capsys, ["info", str(path)], str(path), "file", "complete")


def test_truncated_nwb(tmp_path, capsys):
    source, path = tmp_path / "s.mat", tmp_path / "cut.nwb"
    _small_mat(source)
    assert main(["convert", str(source), str(path)]) == 0
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_one_line_error(capsys, ["info", str(path)], str(path), "complete")


def test_missing_field(tmp_path, capsys):
    path = tmp_path / "nocursor.mat"
    _small_mat(path)
    with h5py.File(path, "r+") as f:
        del f["cursor_pos"]
    _expect_one_line_error(capsys, ["info", str(path)], str(path), "cursor_pos", "missing")


def test_nan_positions(tmp_path, capsys):
    path = tmp_path / "nan.mat"
    _small_mat(path)
    with h5py.File(path, "r+") as f:
        f["finger_pos"][1, 100:110] = np.nan
    _expect_one_line_error(capsys, ["convert", str(path), str(tmp_path / "out.nwb")], str(path), "finger_pos", "10 samples")
    assert not (tmp_path / "out.nwb").exists()


def test_non_increasing_time_base(tmp_path, capsys):
    path = tmp_path / "clock.mat"
    _small_mat(path)
    with h5py.File(path, "r+") as f:
        f["t"][0, 50] = f["t"][0, 49]
    _expect_one_line_error(capsys, ["info", str(path)], str(path), "t: expected strictly increasing", "t[50] <= t[49]")


def test_no_spikes_at_all(tmp_path, capsys):
    session = simulate_session(seconds=5, seed=1)
    rec = session.recording
    silent = Recording(
        **{
            **{f: getattr(rec, f) for f in rec.__dataclass_fields__},
            "spike_times": np.zeros(0),
            "spike_channels": np.zeros(0, int),
            "spike_units": np.zeros(0, int),
        }
    )
    path = tmp_path / "silent.mat"
    write_mat(silent, path)
    _expect_one_line_error(capsys, ["info", str(path)], str(path), "spikes", "in the file")


def test_missing_file_and_unknown_suffix(tmp_path, capsys):
    _expect_one_line_error(capsys, ["info", str(tmp_path / "absent.mat")], "absent.mat", "existing file")
    _expect_one_line_error(capsys, ["synth", str(tmp_path / "s.csv"), "--seconds", "5"], "s.csv", "suffix")
    _expect_one_line_error(capsys, ["synth", str(tmp_path / "s.mat"), "--seconds", "0"], "--seconds")
