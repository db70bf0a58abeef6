"""Paths that cost data or hang: config-set outputs, FIFOs, symbolic link loops, /proc.

Each bad path is refused with exit status 2 and one stderr line, before any work, and no file of
the user's is changed.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bmi_decoder.cli import main

TINY_SNN = '[decoders.snn]\nhidden = [8]\ntopology = "1-"\nmax_epochs = 1\nensemble = 1\nprogress = false\n'


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("paths")
    session, other, ckpt = root / "s.mat", root / "other.mat", root / "k.pt"
    assert main(["synth", str(session), "--seconds", "30", "--seed", "2"]) == 0
    assert main(["synth", str(other), "--seconds", "5", "--seed", "3"]) == 0
    assert main(["train", str(session), "--decoder", "kalman", "--out", str(ckpt)]) == 0
    (root / "notes.txt").write_text("a file of the user's\n")
    return {"session": session, "other": other, "ckpt": ckpt, "notes": root / "notes.txt", "root": root}


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail a test that blocks (on a FIFO) instead of hanging the suite."""

    def hung(signum, frame):
        raise TimeoutError("blocked for 30 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize("victim", ["config", "session", "other", "notes"])
def test_a_config_progress_file_never_replaces_a_file_of_the_user(victim, files, tmp_path, capsys):
    config = tmp_path / "c.toml"
    target = config if victim == "config" else files[victim]
    config.write_text(TINY_SNN + f'progress_file = "{target}"\n')
    before = {path: _digest(path) for path in (config, files["session"], files["other"], files["notes"])}
    out = tmp_path / "report"
    capsys.readouterr()
    assert main(["evaluate", str(files["session"]), "--decoders", "snn", "--config", str(config), "--out", str(out)]) == 2
    line = _one_line(capsys)
    assert f"{config}: decoders.snn.progress_file: expected" in line and str(target) in line
    assert {path: _digest(path) for path in before} == before
    assert not out.exists() and not list(target.parent.glob("*.corrupt*"))


def test_corrupt_progress_files_are_kept_numbered(files, tmp_path, capsys):
    config, progress = tmp_path / "c.toml", tmp_path / "snn.progress"
    config.write_text(TINY_SNN + f'progress_file = "{progress}"\n')
    for attempt in range(2):
        progress.write_bytes(b"PK\x03\x04" + bytes([attempt]) * 64)  # a torch archive cut short
        argv = ["evaluate", str(files["session"]), "--decoders", "snn", "--config", str(config), "--out", str(tmp_path / "r")]
        assert main(argv) == 0
    kept = sorted(p.name for p in tmp_path.glob("snn.progress.corrupt*"))
    assert kept == ["snn.progress.corrupt", "snn.progress.corrupt.1"]
    assert (tmp_path / "snn.progress.corrupt").read_bytes()[4] == 0 and (tmp_path / "snn.progress.corrupt.1").read_bytes()[4] == 1


@pytest.mark.usefixtures("no_hang")
@pytest.mark.parametrize("command", ["export", "replay", "train", "evaluate"])
def test_a_fifo_checkpoint_or_config_is_refused_at_once(command, files, tmp_path, capsys):
    fifo = tmp_path / "fifo.mat"  # a suffix that names a recording, for evaluate
    os.mkfifo(fifo)
    argv = {
        "export": ["export", str(fifo), str(tmp_path / "x.nir")],
        "replay": ["replay", str(fifo), str(files["session"])],
        "train": ["train", str(files["session"]), "--decoder", "kalman", "--config", str(fifo), "--out", str(tmp_path / "k.pt")],
        "evaluate": ["evaluate", str(fifo), "--decoders", "kalman", "--out", str(tmp_path / "r")],
    }[command]
    capsys.readouterr()
    assert main(argv) == 2
    assert f"{fifo}: file: expected" in _one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.mat"]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "{session}", "--decoder", "kalman", "--out", "{loop}"],
        ["train", "{loop}", "--decoder", "kalman", "--out", "{tmp}/k.pt"],
        ["evaluate", "{loop}", "--decoders", "kalman", "--out", "{tmp}/r"],
        ["evaluate", "{session}", "--decoders", "kalman", "--out", "{loop}"],
        ["convert", "{session}", "{loop}/x.nwb"],
        ["convert", "{loop}", "{tmp}/x.nwb"],
        ["synth", "{loop}"],
        ["export", "{ckpt}", "{loop}"],
        ["export", "{loop}", "{tmp}/x.nir"],
        ["synth", "/proc/x.mat"],
        ["stream", "{ckpt}", "--out", "/proc/stream.json", "--wait", "1"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_symbolic_link_loops_and_proc_are_one_line(argv, files, tmp_path, capsys):
    loop = tmp_path / "loop.mat"
    loop.symlink_to(loop)
    names = {"loop": str(loop), "tmp": str(tmp_path), **{key: str(value) for key, value in files.items()}}
    capsys.readouterr()
    assert main([arg.format(**names) for arg in argv]) == 2
    line = _one_line(capsys)
    assert "loop" in line or "/proc" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.mat"]


def test_a_decoder_section_that_is_no_table(files, tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[decoders]\nsnn = 5\n")
    capsys.readouterr()
    assert (
        main(["evaluate", str(files["session"]), "--decoders", "snn", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    )
    assert f"{config}: decoders.snn: expected a table" in _one_line(capsys)
