"""The one output check, input files that are not regular, and what atomic writes leave behind."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snn_core import atomic
from snn_core.atomic import atomic_path, keep_aside, remove_stale_temporaries, write_bytes_atomic
from snn_core.errors import DiskFull, InputError
from snn_core.inputs import check_input_file
from snn_core.outputs import CHECKPOINT, JSON, MAT, PROGRESS, check_output


def test_an_output_may_replace_an_earlier_output_of_its_kind(tmp_path):
    report = tmp_path / "report.json"
    report.write_text('{"r2": 0.5}\n')
    check_output(report, "--out", kind=JSON)
    (tmp_path / "empty.pt").touch()  # an empty file holds nothing to lose (mktemp's output)
    check_output(tmp_path / "empty.pt", "--out", kind=CHECKPOINT)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"seed = 0\n[decoders.snn]\n", PROGRESS),  # a config named as a progress file
        (b"MATLAB 7.3 MAT-file, Platform: GLNXA64", PROGRESS),  # a recording
        (b"my notes\n", JSON),
        (b"PK\x03\x04...", MAT),  # a checkpoint where a recording goes
    ],
)
def test_a_file_of_another_kind_is_refused_and_left_alone(tmp_path, content, kind):
    victim = tmp_path / "file"
    victim.write_bytes(content)
    with pytest.raises(InputError, match=f"{victim}: --out: expected a new file or .*holds something else"):
        check_output(victim, "--out", kind=kind)
    assert victim.read_bytes() == content


def test_an_input_is_refused_through_symbolic_and_hard_links(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("seed = 0\n")
    (tmp_path / "soft").symlink_to(config)
    os.link(config, tmp_path / "hard")
    for alias in ("soft", "hard"):
        with pytest.raises(InputError, match="a path other than the input"):
            check_output(tmp_path / alias, "progress_file", [config], kind=PROGRESS, source=config)


def test_a_config_set_path_names_the_config_and_the_key(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("x")
    with pytest.raises(InputError) as caught:
        check_output(config, "decoders.snn.progress_file", [config], kind=PROGRESS, source=config)
    assert str(caught.value).startswith(f"{config}: decoders.snn.progress_file: expected a path other than")


def test_fifos_symlink_loops_and_proc_are_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a regular file, but .* FIFO"):
        check_output(fifo, "--out", kind=JSON)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for path, folder in ((tmp_path / "a", False), (tmp_path / "a" / "x.json", False), (tmp_path / "a", True)):
        with pytest.raises(InputError, match="symbolic link loop"):
            check_output(path, "--out", kind=None if folder else JSON, folder=folder)
    if Path("/proc/self").is_dir():
        with pytest.raises(InputError, match="expected a writable location"):
            check_output("/proc/stream.json", "--out", kind=JSON)
        with pytest.raises(InputError, match="/proc/self/status: --out: expected"):
            check_output("/proc/self/status", "--out", kind=JSON)


def test_a_folder_output_checks_the_files_it_will_write(tmp_path):
    (tmp_path / "report.md").write_text("my own notes, not a report\n")
    with pytest.raises(InputError, match="report.md"):
        check_output(tmp_path, "--out", folder=True, contents={"report.md": JSON})


def test_input_files_must_be_regular(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a FIFO"):
        check_input_file(fifo, "TOML config file")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(InputError, match="loop|symbolic"):
        check_input_file(tmp_path / "loop", "checkpoint")
    with pytest.raises(InputError, match="an existing file"):
        check_input_file(tmp_path / "missing", "checkpoint")


def test_kept_aside_copies_are_numbered_never_replaced(tmp_path):
    progress = tmp_path / "p.progress"
    for n in range(3):
        progress.write_text(f"corrupt {n}")
        keep_aside(progress, ".corrupt")
    assert not progress.exists()
    kept = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert kept == {"p.progress.corrupt": "corrupt 0", "p.progress.corrupt.1": "corrupt 1", "p.progress.corrupt.2": "corrupt 2"}


def _temporary_of(target: Path, pid: int) -> Path:
    stale = target.parent / f".{target.stem}.{atomic._HOST}-{pid}.abcd1234.tmp{target.suffix}"
    stale.write_text("half")
    return stale


def test_stale_temporaries_of_dead_writers_are_removed_next_run(tmp_path):
    target = tmp_path / "report.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = _temporary_of(target, int(dead.stdout))
    live = _temporary_of(target, os.getppid())  # a running writer's file is not touched
    other = tmp_path / f".notes.{atomic._HOST}-{int(dead.stdout)}.abcd1234.tmp.json"  # another output's
    other.write_text("x")
    write_bytes_atomic(target, b"{}")
    assert not stale.exists() and live.exists() and other.exists()
    assert remove_stale_temporaries(target) == []


def test_a_full_disk_is_one_error_and_leaves_no_temporary(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "ckpt.pt"
    with pytest.raises(DiskFull) as caught, atomic_path(target) as tmp:
        tmp.write_bytes(b"part")
        full()
    assert str(caught.value) == f"{target}: no space left on device"
    assert list(tmp_path.iterdir()) == []
    # a native writer's failure without an errno counts as a full disk when the disk is full
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda folder: _Usage(0))
    with pytest.raises(DiskFull), atomic_path(target):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")
    assert list(tmp_path.iterdir()) == []


class _Usage:
    def __init__(self, free: int) -> None:
        self.free = free
