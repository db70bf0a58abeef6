"""``vision-bench synth`` and ``info``, and bad input as exit status 2 with one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vision_bench.cli import main


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sim")
    assert main(["synth", str(root), "--per-class", "2", "--seed", "4"]) == 0
    return root


@pytest.fixture
def sim_copy(sim_root, tmp_path) -> Path:
    shutil.copytree(sim_root, tmp_path / "copy")
    return tmp_path / "copy"


def run_bad(argv: list[str], capsys) -> str:
    """Run a command that must fail on bad input; return its one line of stderr."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_info_json_describes_the_simulated_set(sim_root, capsys):
    capsys.readouterr()
    assert main(["info", "--dataset", "synthetic", "--root", str(sim_root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary) == ["classes", "samples_per_class", "train", "test", "mean_events"]
    assert summary["classes"][0] == "airplane" and summary["classes"][9] == "truck"
    assert summary["samples_per_class"] == {name: 2 for name in summary["classes"]}
    assert (summary["train"], summary["test"]) == (20, 0)  # ceil(90% of 2) = 2
    manifest = json.loads((sim_root / "CIFAR10DVS" / "synthetic.json").read_text())
    assert manifest["seed"] == 4 and summary["mean_events"] == pytest.approx(manifest["mean_events"])
    assert manifest["difficulty"] == "easy"  # the default: each class its own shape and direction


def test_synth_writes_the_hard_set_on_request(tmp_path):
    assert main(["synth", str(tmp_path), "--per-class", "1", "--difficulty", "hard"]) == 0
    assert json.loads((tmp_path / "CIFAR10DVS" / "synthetic.json").read_text())["difficulty"] == "hard"


def test_info_table_runs_as_a_module(sim_root):
    out = subprocess.run(
        [sys.executable, "-m", "vision_bench", "info", "--dataset", "synthetic", "--root", str(sim_root)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "truck" in out and "train 20, test 0" in out


@pytest.mark.parametrize("command", ["synth", "info"])
def test_help_explains_the_layout(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "CIFAR10DVS/<class>/cifar10_<class>_<i>.aedat4" in capsys.readouterr().out


def test_missing_root(tmp_path, capsys):
    line = run_bad(["info", "--dataset", "cifar10dvs", "--root", str(tmp_path / "absent")], capsys)
    assert str(tmp_path / "absent") in line and "root" in line


def test_root_without_cifar10dvs_folder(tmp_path, capsys):
    line = run_bad(["info", "--dataset", "cifar10dvs", "--root", str(tmp_path)], capsys)
    assert str(tmp_path / "CIFAR10DVS") in line and "layout" in line


def test_empty_class_folder(sim_copy, capsys):
    for path in (sim_copy / "CIFAR10DVS" / "dog").iterdir():
        path.unlink()
    line = run_bad(["info", "--dataset", "synthetic", "--root", str(sim_copy)], capsys)
    assert str(sim_copy / "CIFAR10DVS" / "dog") in line and "cifar10_dog_<i>.aedat4" in line


def test_corrupt_aedat4_file(sim_copy, capsys):
    bad = sim_copy / "CIFAR10DVS" / "frog" / "cifar10_frog_1.aedat4"
    bad.write_bytes(bad.read_bytes()[:3000])
    line = run_bad(["info", "--dataset", "synthetic", "--root", str(sim_copy)], capsys)
    assert str(bad) in line and "readable recording" in line


def test_leftover_temporary_file(sim_copy, capsys):
    stray = sim_copy / "CIFAR10DVS" / "cat" / ".cifar10_cat_0.x1y2.tmp.aedat4"
    stray.write_bytes(b"")
    line = run_bad(["info", "--dataset", "synthetic", "--root", str(sim_copy)], capsys)
    assert str(stray) in line


def test_real_and_simulated_sets_are_not_mixed_up(sim_root, capsys):
    line = run_bad(["info", "--dataset", "cifar10dvs", "--root", str(sim_root)], capsys)
    assert "synthetic.json" in line and "--dataset synthetic" in line


def test_dvsgesture_bad_label_file(tmp_path, capsys):
    for split in ("ibmGestureTrain", "ibmGestureTest"):
        folder = tmp_path / "DVSGesture" / split / "user01_led"
        folder.mkdir(parents=True)
        np.save(folder / "0.npy", np.array([[1, 2, 1, 5]]))
    bad = tmp_path / "DVSGesture" / "ibmGestureTest" / "user01_led" / "11.npy"
    np.save(bad, np.array([[1, 2, 1, 5]]))
    line = run_bad(["info", "--dataset", "dvsgesture", "--root", str(tmp_path)], capsys)
    assert str(bad) in line and "label 0 to 10" in line


def test_synth_rejects_zero_per_class(tmp_path, capsys):
    line = run_bad(["synth", str(tmp_path), "--per-class", "0"], capsys)
    assert "per_class" in line and not (tmp_path / "CIFAR10DVS").exists()
