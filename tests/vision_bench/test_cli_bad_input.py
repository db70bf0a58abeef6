"""Bad outputs and stray folders: exit status 2, one stderr line, before any work, nothing left."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from vision_bench.cli import main

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sim")
    assert main(["synth", str(root), "--per-class", "1", "--seed", "2"]) == 0
    return root


@pytest.fixture
def sim_copy(sim_root, tmp_path) -> Path:
    shutil.copytree(sim_root, tmp_path / "copy")
    return tmp_path / "copy"


def listing(folder: Path) -> dict[str, bytes | None]:
    """Every path below ``folder`` with the contents of its files: what a command left behind."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def run_bad(argv: list[str], capsys) -> str:
    """Run a command that must fail on bad input; return its one line of stderr."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def bad_output(tmp_path: Path, kind: str, monkeypatch) -> tuple[Path, str]:
    """An output path that cannot be written, and a fragment its refusal must contain."""
    (tmp_path / "a_file").write_text("not a folder")
    if kind == "under a file":
        return tmp_path / "a_file" / "out", "is a file"
    if kind == "an existing file":
        return tmp_path / "a_file", "a folder"
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root writes anywhere: the folder is read-only as far as the check sees
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    return locked / "out", "not writable"


OUTPUT_KINDS = ["under a file", "an existing file", "read-only"]


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
def test_synth_refuses_an_unwritable_root(kind, tmp_path, capsys, monkeypatch):
    root, fragment = bad_output(tmp_path, kind, monkeypatch)
    before = listing(tmp_path)
    line = run_bad(["synth", str(root), "--per-class", "1"], capsys)
    assert str(root) in line and "ROOT" in line and fragment in line
    assert listing(tmp_path) == before


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
@pytest.mark.parametrize("command", ["analyze", "search"])
def test_out_must_be_a_writable_folder(command, kind, sim_root, tmp_path, capsys, monkeypatch):
    out, fragment = bad_output(tmp_path, kind, monkeypatch)
    before, data = listing(tmp_path), listing(sim_root)
    line = run_bad([command, "--dataset", "synthetic", "--root", str(sim_root), "--out", str(out)], capsys)
    assert str(out) in line and "--out" in line and fragment in line
    assert listing(tmp_path) == before and listing(sim_root) == data


@pytest.mark.parametrize("recording", ["cifar10_horses_0.aedat4", "cifar10_airplane_0.aedat4"])
def test_an_extra_class_folder_with_recordings_is_refused(recording, sim_copy, sim_root, capsys):
    """tonic would label its files by the folder's name: a KeyError for a name not a class."""
    extra = sim_copy / "CIFAR10DVS" / "horses"
    extra.mkdir()
    shutil.copy(sim_root / "CIFAR10DVS" / "horse" / "cifar10_horse_0.aedat4", extra / recording)
    line = run_bad(["info", "--dataset", "synthetic", "--root", str(sim_copy)], capsys)
    assert str(extra) in line


def test_an_extra_class_folder_lists_the_classes(sim_copy, sim_root, capsys):
    extra = sim_copy / "CIFAR10DVS" / "horses"
    extra.mkdir()
    shutil.copy(sim_root / "CIFAR10DVS" / "horse" / "cifar10_horse_0.aedat4", extra / "cifar10_horses_0.aedat4")
    line = run_bad(["info", "--dataset", "synthetic", "--root", str(sim_copy)], capsys)
    assert f"{extra}: class folder" in line and ", ".join(CLASSES) in line


def test_an_extra_folder_without_recordings_is_ignored_with_one_warning(sim_copy, capsys):
    """tonic ignores a folder that holds no .aedat4 file, so the reader warns and goes on."""
    extra = sim_copy / "CIFAR10DVS" / "notes"
    extra.mkdir()
    (extra / "readme.txt").write_text("hand-extracted")
    capsys.readouterr()
    assert main(["info", "--dataset", "synthetic", "--root", str(sim_copy), "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(extra) in err[0] and err[0].startswith("warning:") and "truck" in err[0]


@pytest.mark.parametrize("where", ["dog", "dog/nested"])
def test_a_folder_named_like_a_recording_is_refused(where, sim_copy, capsys):
    folder = sim_copy / "CIFAR10DVS" / where / "cifar10_dog_7.aedat4"
    folder.mkdir(parents=True)
    line = run_bad(["info", "--dataset", "synthetic", "--root", str(sim_copy)], capsys)
    assert str(folder) in line and "a file, not a folder" in line


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[model]\nbeta = 2.0\n", "model.beta"),
        ("[model]\nthreshold = -1.0\n", "model.threshold"),
        ("[model]\nkernel_size = 0\n", "model.kernel_size"),
        ("[model]\nwidths = [1000000000]\n", "fit in memory"),
        ("[data]\ntime_bins = 1000000000\n", "data.time_bins"),
        ("[train]\nlr = inf\n", "train.lr"),
        ("[train]\nseed = -1\n", "train.seed"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "syntax"),
    ],
)
def test_config_values_that_cannot_work_are_one_line(body, field, sim_root, tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(body)
    line = run_bad(["analyze", "--dataset", "synthetic", "--root", str(sim_root), "--config", str(config)], capsys)
    assert str(config) in line and field in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


@pytest.mark.parametrize("command", [["synth", "{out}"], ["demo", "--out", "{out}"], ["search", "--dataset", "synthetic"]])
def test_negative_seeds_are_one_line(command, sim_root, tmp_path, capsys):
    argv = [arg.format(out=tmp_path / "out") for arg in command] + ["--seed", "-1"]
    if command[0] == "search":
        argv += ["--root", str(sim_root), "--out", str(tmp_path / "out")]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seed" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target", ["config", "recording"])
def test_a_cache_dir_on_an_input_is_refused(target, sim_copy, tmp_path, capsys):
    """``[data] cache_dir`` naming the config or a recording would have become a folder there."""
    config = tmp_path / "c.toml"
    recording = next((sim_copy / "CIFAR10DVS" / "dog").iterdir())
    path = config if target == "config" else recording
    config.write_text(f'[data]\ncache_dir = "{path}"\n')
    before = listing(sim_copy)
    line = run_bad(["analyze", "--dataset", "synthetic", "--root", str(sim_copy), "--config", str(config)], capsys)
    assert "data.cache_dir" in line and str(path) in line
    assert listing(sim_copy) == before and config.read_text().startswith("[data]")
