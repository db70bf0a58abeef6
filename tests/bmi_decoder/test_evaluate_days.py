"""``bmi-decoder evaluate-days`` on a tiny multi-day set: the report, and one line per bad input."""

from __future__ import annotations

import json
import shutil

from bmi_decoder.cli import main
from bmi_decoder.io import write_mat
from bmi_decoder.simulate import simulate_session


def test_report_rows_figure_and_markdown(drifted_days, tmp_path, capsys):
    (train, test), _ = drifted_days
    out = tmp_path / "report"
    args = ["evaluate-days", "--train", str(train), "--test", str(test), "--decoders", "wiener"]
    assert main([*args, "--methods", "scratch,rates", "--calibration", "15,30", "--out", str(out)]) == 0
    report = json.loads((out / "days.json").read_text())
    rows = report["results"]
    assert {r["days"] for r in rows} == {20}
    assert {(r["method"], r["calibration_s"]) for r in rows} == {
        ("within", 0.0),
        ("fixed", 0.0),
        ("scratch", 15.0),
        ("scratch", 30.0),
        ("rates", 15.0),
        ("rates", 30.0),
    }
    by = {(r["method"], r["calibration_s"]): r for r in rows}
    assert by[("within", 0.0)]["r2"] > 0.3
    assert by[("scratch", 30.0)]["r2"] > by[("fixed", 0.0)]["r2"]
    assert by[("rates", 15.0)]["parameters_changed"] == 2 * 96
    assert (out / "r2_vs_days.png").stat().st_size > 0
    assert "| scratch 30 s |" in (out / "days.md").read_text() or "scratch 30 s" in (out / "days.md").read_text()


def _one_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_bad_input_gets_one_line_each(drifted_days, tmp_path, capsys):
    (train, test), _ = drifted_days
    base = ["evaluate-days", "--train", str(train), "--out", str(tmp_path / "r"), "--decoders", "wiener"]

    assert main([*base, "--test", str(test), "--methods", "rates,telepathy"]) == 2
    assert "telepathy" in _one_line(capsys)

    assert main([*base, "--test", str(train)]) == 2
    assert "training session" in _one_line(capsys)

    assert main([*base, "--test", str(test), "--calibration", "15,140"]) == 2
    line = _one_line(capsys)
    assert "--calibration" in line and "140" in line

    other = tmp_path / "sim1_20160801_01.mat"
    session = simulate_session(70.0, channels=192, seed=0)
    write_mat(session.recording, other, outside_spikes=session.outside_spikes)
    assert main([*base, "--test", str(other)]) == 2
    line = _one_line(capsys)
    assert "channels" in line and "96" in line and "192" in line

    undated = tmp_path / "session.mat"
    shutil.copy(test, undated)
    assert main([*base, "--test", str(undated)]) == 2
    assert "YYYYMMDD" in _one_line(capsys)
