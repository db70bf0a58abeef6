"""The decoding commands end to end on a short simulated session: evaluate, train, replay."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bmi_decoder.checkpoint import load_decoder
from bmi_decoder.cli import main
from bmi_decoder.decoders import DECODERS, KalmanDecoder
from bmi_decoder.experiment import load_config
from bmi_decoder.io import read_recording
from bmi_decoder.preprocess import prepare_session
from bmi_decoder.replay import replay

REPORT_KEYS = {
    "session",
    "decoder",
    "r2",
    "r2_x",
    "r2_y",
    "footprint_bytes",
    "connection_sparsity",
    "activation_sparsity",
    "synops",
    "energy_pj_per_step",
}
TINY_CONFIG = """
seed = 3
[data]
bin_width = 0.004
[decoders.snn]
hidden = [16]
topology = "1-"
max_epochs = 2
ensemble = 1
progress = false
"""


@pytest.fixture(scope="module")
def session_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("session") / "sim.mat"
    assert main(["synth", str(path), "--seconds", "90", "--seed", "5"]) == 0
    return str(path)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text(TINY_CONFIG)
    return str(path)


def test_evaluate_writes_report_with_the_contract_keys(session_file, config_file, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(["evaluate", session_file, "--decoders", "kalman,wiener,snn", "--config", config_file, "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert [row["decoder"] for row in report["results"]] == ["kalman", "wiener", "snn"]
    for row in report["results"]:
        assert REPORT_KEYS <= set(row)
        assert set(row["synops"]) == {"dense", "effective_macs", "effective_acs"}
        assert row["r2"] == pytest.approx((row["r2_x"] + row["r2_y"]) / 2)
    wiener = report["results"][1]
    assert wiener["r2"] > 0.3, "the Wiener filter decodes a simulated session"
    assert report["seed"] == 3
    assert (out / "report.md").read_text().count("| sim |") == 3
    assert (out / "velocity.png").stat().st_size > 0 and (out / "r2_vs_synops.png").stat().st_size > 0
    assert "| sim | wiener |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--decoders", "kalman,lstm"], "--decoders: lstm: expected a decoder name"),
        (["--config", "CONFIG_WITH_TYPO"], "typo.toml: snn.hiden: expected a parameter of the snn decoder"),
        (["--config", "CONFIG_WITH_BAD_KEY"], "data.bin: expected one of bin_width"),
        (["--config", "no/such/config.toml"], "file: expected a readable TOML config file"),
        (["--device", "nonsense"], "--device: expected auto, cpu, cuda or cuda:N, got 'nonsense'"),
    ],
)
def test_evaluate_bad_input_exits_2_with_one_line(session_file, tmp_path, capsys, args, fragment):
    (tmp_path / "typo.toml").write_text("[decoders.snn]\nhiden = [8]\n")
    (tmp_path / "bad.toml").write_text("[data]\nbin = 0.004\n")
    args = [
        a.replace("CONFIG_WITH_TYPO", str(tmp_path / "typo.toml")).replace("CONFIG_WITH_BAD_KEY", str(tmp_path / "bad.toml"))
        for a in args
    ]
    assert main(["evaluate", session_file, *args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[data]\nbin_width = "0.004"\n', "data.bin_width: expected a finite number, not '0.004'"),
        ('seed = "abc"\n', "seed: expected an integer, not 'abc'"),
        ("[data]\nlag = nan\n", "data.lag: expected a finite number, not nan"),
        ("[data]\nfractions = [0.5, 0.5]\n", "data.fractions: expected three shares"),
        ('[data]\nmode = "and"\n', "data.mode: expected one of or, count, sorted"),
        ("seed = 1.5\n", "seed: expected an integer"),
        ("data = 4\n", "data: expected a table"),
    ],
)
def test_evaluate_mistyped_config_exits_2_before_reading_data(tmp_path, capsys, text, fragment):
    config = tmp_path / "typed.toml"
    config.write_text(text)
    # the recording does not exist: the config must be refused before any data is read
    assert main(["evaluate", str(tmp_path / "absent.mat"), "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{config}: {fragment}" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_evaluate_unreadable_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"not an HDF5 file at all")
    assert main(["evaluate", str(bad), "--decoders", "kalman", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.mat" in err


def test_train_checkpoint_reloads_and_replays(session_file, config_file, tmp_path, capsys):
    ckpt = tmp_path / "snn.pt"
    assert main(["train", session_file, "--decoder", "snn", "--config", config_file, "--out", str(ckpt)]) == 0
    assert not (tmp_path / "snn.pt.progress").exists(), "progress file removed after a finished fit"
    decoder, meta = load_decoder(ckpt, device="cpu")  # as `replay` streams it
    session = prepare_session(read_recording(session_file), meta["preprocessing"])
    X, _ = session.split("test")
    streamed = replay(decoder, X[:200], session.bin_width, speed=0).predictions
    np.testing.assert_allclose(streamed, decoder.predict(X[:200]), rtol=1e-5, atol=1e-3)

    capsys.readouterr()
    assert main(["replay", str(ckpt), session_file, "--seconds", "1", "--speed", "0", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bins"] == 250 and summary["decoder"] == "snn"
    assert 0 < summary["latency_ms_median"] <= summary["latency_ms_p99"] <= summary["latency_ms_max"]
    assert summary["latency_us_median"] <= summary["latency_us_p95"] <= summary["latency_us_p99"] <= summary["latency_us_max"]
    assert summary["latency_us_p99"] == pytest.approx(1e3 * summary["latency_ms_p99"])


@pytest.mark.parametrize("command", ["train", "search"])
def test_bad_device_exits_2_with_one_line(command, session_file, tmp_path, capsys):
    extra = ["--decoder", "snn"] if command == "train" else []
    out = tmp_path / ("snn.pt" if command == "train" else "search")
    assert main([command, session_file, *extra, "--device", "nonsense", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--device" in err and "nonsense" in err
    assert not out.exists()


@pytest.mark.parametrize("command", ["train", "evaluate", "demo", "search"])
def test_device_help_says_what_auto_means(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--device" in help_text and "auto (the default) takes a CUDA GPU when one is visible, else the CPU" in help_text


def test_device_flag_sets_every_trainable_decoder(tmp_path):
    config = load_config(None, device="cpu")
    assert {name: config.decoder(name).get_params().get("device") for name in DECODERS} == {
        "snn": "cpu",
        "snn_small": "cpu",
        "ann": "cpu",
        "gru": "cpu",
        "kalman": None,
        "wiener": None,
    }
    assert load_config(None).decoder("snn").device == "auto"


def test_replay_keeps_real_time_pace(session_file):
    session = prepare_session(read_recording(session_file))
    X, y = session.split("train")
    decoder = KalmanDecoder().fit(X, y)
    result = replay(decoder, X[:25], session.bin_width, speed=1.0)
    # bin 24 is released 24 x 4 ms after the start: pacing, not decoding speed, sets the floor
    assert result.wall_s >= 24 * session.bin_width
    assert result.summary()["bins"] == 25


def test_load_checkpoint_rejects_other_files(tmp_path, capsys, session_file):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage")
    assert main(["replay", str(junk), session_file]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "junk.pt: format" in err


@pytest.mark.parametrize(("option", "value"), [("--speed", "nan"), ("--speed", "-1"), ("--seconds", "inf"), ("--seconds", "0")])
def test_replay_refuses_a_bad_pace_before_reading_anything(option, value, tmp_path, capsys):
    missing = tmp_path / "not_trained_yet.pt"  # the check comes first: the checkpoint is never opened
    assert main(["replay", str(missing), str(tmp_path / "s.mat"), option, value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and option in err and value in err


class _TouchOnUnpickle:
    """A pickle that creates ``marker`` when unpickled: what a crafted checkpoint could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class _SystemOnUnpickle(_TouchOnUnpickle):
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("payload_class", [_TouchOnUnpickle, _SystemOnUnpickle])
def test_replay_refuses_a_crafted_checkpoint_without_running_it(payload_class, session_file, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "skipsnn-decoder/3", "decoder": "kalman", "learned": payload_class(marker)}, evil)
    assert main(["replay", str(evil), session_file]) == 2
    assert "evil.pt: format: expected a checkpoint of format skipsnn-decoder/3" in _one_error_line(capsys)
    assert not marker.exists(), "loading a checkpoint ran code"


def test_old_format_checkpoint_is_refused_with_a_request_to_retrain(session_file, tmp_path, capsys):
    """Format 1 pickled the decoder's objects (arrays, a SpikeHistory): refused, never unpickled."""
    session = prepare_session(read_recording(session_file))
    decoder = KalmanDecoder().fit(*session.split("train"))
    learned = {key: value for key, value in vars(decoder).items() if key.endswith("_")}
    old = tmp_path / "old.pt"
    torch.save(
        {"format": "skipsnn-decoder/1", "decoder": "kalman", "params": decoder.get_params(), "learned": learned, "meta": {}}, old
    )
    assert main(["replay", str(old), session_file]) == 2
    err = _one_error_line(capsys)
    assert "old.pt: format: expected a checkpoint of format skipsnn-decoder/3; this file was written by an older version" in err
    assert "retrain with `bmi-decoder train`" in err


def test_format_2_checkpoint_is_refused_with_a_request_to_retrain(session_file, tmp_path, capsys):
    """Format 2 is safe to read, but its Kalman state lacks the coarse bins and lag of format 3."""
    old = tmp_path / "v2.pt"
    torch.save({"format": "skipsnn-decoder/2", "decoder": "kalman", "params": "{}", "meta": "{}", "learned": {}}, old)
    assert main(["replay", str(old), session_file]) == 2
    assert "v2.pt: format: expected a checkpoint of format skipsnn-decoder/3; this file was written by an older version" in (
        _one_error_line(capsys)
    )


def test_truncated_checkpoint_and_a_recording_as_checkpoint_exit_2(session_file, tmp_path, capsys):
    good = tmp_path / "kalman.pt"
    assert main(["train", session_file, "--decoder", "kalman", "--out", str(good)]) == 0
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    capsys.readouterr()
    for checkpoint in (truncated, Path(session_file)):
        assert main(["replay", str(checkpoint), session_file]) == 2
        assert f"{checkpoint}: format: expected a decoder checkpoint written by `bmi-decoder train`" in _one_error_line(capsys)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (["train", "IN", "--decoder", "kalman", "--out", "IN"], "--out: expected a path other than the input"),
        (["train", "IN", "--decoder", "kalman", "--out", "LINK"], "--out: expected a path other than the input"),
        (["train", "IN", "--decoder", "kalman", "--out", "DIR"], "--out: expected a file, not an existing folder"),
        (["train", "IN", "--decoder", "kalman", "--out", "IN/sub/snn.pt"], "--out: expected a location under a folder"),
        (["evaluate", "IN", "--decoders", "kalman", "--out", "IN"], "--out: expected a path other than the input"),
        (["evaluate", "IN", "--decoders", "kalman", "--out", "IN/report"], "--out: expected a location under a folder"),
        (["search", "IN", "--out", "IN"], "--out: expected a path other than the input"),
        (["convert", "IN", "LINK"], "OUT: expected a path other than the input"),
        (["convert", "IN", "DIR"], "OUT: expected a file, not an existing folder"),
        (["synth", "IN/x.mat"], "OUT: expected a location under a folder"),
        (["fetch", "indy_20160630_01", "--root", "IN"], "--root: expected a folder, not an existing file"),
    ],
)
def test_outputs_never_overwrite_inputs(command, fragment, session_file, tmp_path, capsys):
    """Refused with one line before any work; the recording is left byte for byte as it was."""
    recording = tmp_path / "same.mat"
    shutil.copyfile(session_file, recording)
    (tmp_path / "link.mat").symlink_to(recording)
    (tmp_path / "folder.mat").mkdir()
    names = {"IN": str(recording), "LINK": str(tmp_path / "link.mat"), "DIR": str(tmp_path / "folder.mat")}
    args = [names.get(arg, arg.replace("IN/", f"{recording}/")) for arg in command]
    before = _sha256(recording)
    assert main(args) == 2
    assert fragment in _one_error_line(capsys)
    assert _sha256(recording) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.mat", "link.mat", "same.mat"]


def test_train_refuses_progress_of_other_data_until_restart(session_file, config_file, tmp_path, capsys):
    """`train b.mat --out x.pt` after an interrupted run on a.mat: exit 2, and --restart discards it."""
    ckpt, progress = tmp_path / "x.pt", tmp_path / "x.pt.progress"
    config = load_config(config_file, None, None)
    session = prepare_session(read_recording(session_file), config.preprocessing)
    interrupted = config.decoder("snn").set_params(max_epochs=1, progress_file=str(progress))
    interrupted.fit(*session.split("train"), *session.split("val"))  # a.mat's progress, left behind
    other = tmp_path / "b.mat"
    assert main(["synth", str(other), "--seconds", "30", "--seed", "6"]) == 0
    before = progress.read_bytes()
    capsys.readouterr()
    train = ["train", str(other), "--decoder", "snn", "--config", config_file, "--out", str(ckpt)]
    assert main(train) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert str(progress) in err[0] and "--restart" in err[0]
    assert not ckpt.exists() and progress.read_bytes() == before, "nothing written, the old progress kept"
    assert main([*train, "--restart"]) == 0
    assert ckpt.exists() and not progress.exists()


def test_train_with_auto_leaves_no_population_progress(session_file, tmp_path):
    """An auto fit's population progress (CKPT.progress.population/) goes with the solo one's."""
    config = tmp_path / "auto.toml"
    config.write_text(TINY_CONFIG.replace('hidden = [16]\ntopology = "1-"', 'hidden = [8, 8]\ntopology = "auto"'))
    ckpt = tmp_path / "auto.pt"
    assert main(["train", session_file, "--decoder", "snn", "--config", str(config), "--out", str(ckpt)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auto.pt", "auto.toml"]
