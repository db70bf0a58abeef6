"""The benchmarks refuse a count below 1 or a negative seed at parsing, exit status 2, before any work."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "script, argv",
    [
        ("decoder_comparison", ["--jobs", "0"]),
        ("decoder_comparison", ["--sessions", "two"]),
        ("lif_vs_snntorch", ["--repeats", "0"]),
        ("population_speed", ["--threads", "-1"]),
        ("recurrent_training", ["--seeds", "-3"]),
        ("search_samplers", ["--trials", "0"]),
        ("simulator_difficulty", ["--seeds", "1.5"]),
        ("topology_table", ["bmi", "--out", "t.csv", "--threads", "0"]),
        ("snn_defaults", ["--jobs", "0"]),
        ("training_stability", ["--sessions", "0"]),
        ("zero_cost_tau", ["--threads", "0"]),
    ],
)
def test_a_bad_count_or_seed_stops_at_parsing(script: str, argv: list[str], capsys) -> None:
    main = importlib.import_module(script).main
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    option = next(a for a in argv if a.startswith("--") and a != "--out")
    assert f"argument {option}: expected" in capsys.readouterr().err
