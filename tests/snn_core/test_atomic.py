"""Atomic writes: all or nothing, and the mode of any new file."""

from __future__ import annotations

import stat

import pytest

from snn_core.atomic import atomic_path, write_text_atomic


def test_an_atomic_file_gets_the_mode_of_a_plain_new_file(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    written = tmp_path / "report.json"
    write_text_atomic(written, "{}")
    assert written.read_text() == "{}"
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "checkpoint.pt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
