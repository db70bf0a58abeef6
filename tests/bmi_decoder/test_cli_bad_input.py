"""Bad command-line input to bmi-decoder: exit 2, one stderr line naming the field, no output."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmi_decoder.cli import main
from vision_bench.cli import main as vision_main


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad_input")
    s96, s192, ckpt = root / "s96.mat", root / "s192.mat", root / "k96.ckpt"
    assert main(["synth", str(s96), "--seconds", "20", "--seed", "1"]) == 0
    assert main(["synth", str(s192), "--seconds", "20", "--seed", "1", "--channels", "192"]) == 0
    assert main(["train", str(s96), "--decoder", "kalman", "--out", str(ckpt)]) == 0
    (root / "bin_width.toml").write_text("[data]\nbin_width = 1000\n")
    (root / "seed.toml").write_text("seed = -1\n")
    (root / "big_seed.toml").write_text("seed = 12345678901234567890\n")
    (root / "topology.toml").write_text("[decoders.snn]\ntopology = 5\n")
    (root / "kalman.toml").write_text("[decoders.kalman]\nbins_per_window = -3\n")
    # values that are well-typed but cannot work: infinite, out of range, or beyond memory
    for name, body in BOUNDS_CONFIGS.items():
        (root / f"{name}.toml").write_text(body)
    return {"s96": str(s96), "s192": str(s192), "ckpt": str(ckpt), "root": str(root)}


BOUNDS_CONFIGS = {
    "lr_inf": "[decoders.snn]\nlr = inf\n",
    "gain_inf": "[decoders.snn]\nrecurrent_gain = inf\n",
    "beta": "[decoders.snn]\nbeta = 2.0\n",
    "snn_hidden": "[decoders.snn]\nhidden = [1000000000]\n",
    "ann_hidden": "[decoders.ann]\nhidden = [100000000, 100000000]\n",
    "ann_lags": "[decoders.ann]\nn_lags = 10000000000\n",
    "gru_hidden": "[decoders.gru]\nhidden = 10000000\n",
    "wiener_lags": "[decoders.wiener]\nn_lags = 100000000\n",
    "wiener_alpha": "[decoders.wiener]\nalphas = [1.0, inf]\n",
    "not_a_table": "[decoders]\nsnn = 5\n",
    "nested": "a = " + "[" * 5000 + "]" * 5000 + "\n",
}

TRAIN = ["train", "{s96}", "--out", "{out}"]

# (command line, what the one error line must name); {out} is the output that must not appear
CASES = [
    (["synth", "{out}", "--seconds", "inf"], "--seconds"),
    (["synth", "{out}", "--seconds", "1e12"], "--seconds"),
    (["synth", "{out}", "--seconds", "nan"], "--seconds"),
    (["synth", "{out}", "--seconds", "0"], "--seconds"),
    (["synth", "{out}", "--seconds", "-5"], "--seconds"),
    (["synth", "{out}", "--seed", "-1"], "--seed"),
    (["synth", "{out}", "--seed", "12345678901234567890"], "--seed"),
    (["synth", "{out}", "--seed", "1.5"], "--seed"),
    (["synth", "{out}", "--channels", "7"], "--channels"),
    ([*TRAIN, "--decoder", "kalman", "--seed", "-1"], "--seed"),
    ([*TRAIN, "--decoder", "kalman", "--seed", "4294967296"], "--seed"),
    ([*TRAIN, "--decoder", "kalman", "--config", "{root}/seed.toml"], "seed"),
    ([*TRAIN, "--decoder", "kalman", "--config", "{root}/big_seed.toml"], "seed"),
    (["evaluate", "{s96}", "--out", "{out}", "--seed", "-1"], "--seed"),
    (["search", "{s96}", "--seed", "-1", "--out", "{out}"], "--seed"),
    (["demo", "--session-seed", "-1", "--out", "{out}"], "--session-seed"),
    ([*TRAIN, "--decoder", "lstm"], "--decoder:"),
    ([*TRAIN, "--decoder", "snn,kalman"], "--decoder:"),
    ([*TRAIN, "--decoder", "kalman", "--config", "{root}/bin_width.toml"], "bin_width"),
    (["replay", "{ckpt}", "{s192}", "--speed", "0"], "channels"),
    # a bad value of the last decoder stops the run before the first one is fitted
    (
        ["evaluate", "{s96}", "--decoders", "wiener,snn", "--config", "{root}/topology.toml", "--out", "{out}"],
        "decoders.snn.topology",
    ),
    (
        ["evaluate", "{s96}", "--decoders", "wiener,kalman", "--config", "{root}/kalman.toml", "--out", "{out}"],
        "decoders.kalman.bins_per_window",
    ),
    *[
        ([*TRAIN, "--decoder", decoder, "--config", f"{{root}}/{name}.toml"], field)
        for name, decoder, field in [
            ("lr_inf", "snn", "decoders.snn.lr"),
            ("gain_inf", "snn", "decoders.snn.recurrent_gain"),
            ("beta", "snn", "decoders.snn.beta"),
            ("snn_hidden", "snn", "decoders.snn.hidden"),
            ("ann_hidden", "ann", "decoders.ann.hidden"),
            ("ann_lags", "ann", "decoders.ann.n_lags"),
            ("gru_hidden", "gru", "decoders.gru.hidden"),
            ("wiener_lags", "wiener", "decoders.wiener.n_lags"),
            ("wiener_alpha", "wiener", "decoders.wiener.alphas"),
            ("not_a_table", "snn", "decoders.snn"),
            ("nested", "snn", "syntax"),
        ]
    ],
    (["rig", "{s96}", "--faults", "1000000000"], "--faults"),
    (["rig", "{s96}", "--speed", "1e-300"], "--speed"),
    (["replay", "{ckpt}", "{s96}", "--speed", "1e-300"], "--speed"),
    (["replay", "{ckpt}", "{s96}", "--speed", "inf"], "--speed"),
]


def _run(entry, argv: list[str]) -> int:
    try:
        return entry(argv)
    except SystemExit as exit_:  # argparse's own errors
        return exit_.code


@pytest.mark.parametrize(("argv", "field"), CASES, ids=[" ".join(a[:1] + a[2:]) for a, _ in CASES])
def test_bad_input_is_one_line_and_exit_2(files, tmp_path, capsys, argv, field):
    out = tmp_path / "out.mat"
    argv = [a.format(out=out, **files) for a in argv]
    before = set(Path(files["root"]).iterdir())
    capsys.readouterr()
    assert _run(main, argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert field in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert set(Path(files["root"]).iterdir()) == before


def test_replay_names_the_file_and_both_counts(files, capsys):
    assert _run(main, ["replay", files["ckpt"], files["s192"], "--speed", "0"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(f"{files['s192']}: channels: expected 96 channels as the checkpoint was trained on, got 192")
    )


@pytest.mark.parametrize(
    ("entry", "argv", "start"),
    [
        (main, ["synth", "OUT.mat", "--channels", "7"], "bmi-decoder synth: error: argument --channels: invalid choice: 7"),
        (main, ["synth", "OUT.mat", "--bogus"], "bmi-decoder: error: unrecognized arguments: --bogus"),
        (main, ["nosuch"], "bmi-decoder: error: argument COMMAND: invalid choice"),
        (vision_main, ["synth", "ROOT", "--per-class", "x"], "vision-bench synth: error: argument --per-class: invalid int"),
        (vision_main, [], "vision-bench: error: the following arguments are required: COMMAND"),
    ],
)
def test_argparse_errors_are_one_line(entry, argv, start, capsys):
    assert _run(entry, argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(start), err
