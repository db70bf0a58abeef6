"""The summary and the page of benchmarks/decoding_days.py: ratios to the within-day R2 and the goal's verdicts."""

import decoding_days as days_benchmark
import pytest
from decoding_days import summary
from decoding_pages import decoding_days


def _rows(snn_best: float, snn_fixed: float, wiener_scratch: float, seeds=(0, 1, 2)) -> list[dict]:
    """Day 30 of a month: within-day R2 0.6 for both decoders; the SNN's readout refit at 60 s."""
    rows = []
    for seed in seeds:
        for decoder, method, calibration, r2 in [
            ("snn", "within", 0.0, 0.6),
            ("snn", "fixed", 0.0, snn_fixed),
            ("snn", "readout", 60.0, snn_best),
            ("snn", "rates", 60.0, snn_best - 0.1),
            ("wiener", "within", 0.0, 0.6),
            ("wiener", "fixed", 0.0, 0.2),
            ("wiener", "scratch", 60.0, wiener_scratch),
        ]:
            rows.append(
                {
                    "decoder": decoder,
                    "method": method,
                    "calibration_s": calibration,
                    "days": 30,
                    "r2": r2,
                    "simulation_seed": seed,
                }
            )
    return rows


def _report(rows: list[dict]) -> dict:
    return {"days": [0, 30], "seconds": 600.0, "seeds": [0, 1, 2], "summary": summary(rows), "results": rows, "command": "c"}


def test_ratios_are_to_the_same_seeds_within_day_r2():
    ratios = {(s["decoder"], s["method"]): s for s in summary(_rows(0.57, 0.24, 0.5))}
    assert ratios["snn", "readout"]["ratio_mean"] == pytest.approx(0.95)
    assert ratios["snn", "fixed"]["ratio_max"] == pytest.approx(0.4) and ratios["snn", "fixed"]["seeds"] == 3
    assert ("snn", "within") not in ratios


def test_the_page_says_met_only_when_every_part_of_the_goal_holds():
    met = decoding_days(_report(_rows(0.57, 0.24, 0.5)))
    assert "`readout`, keeps 0.95" in met and met.count("**met**") == 2 and "above on every seed" in met
    short = decoding_days(_report(_rows(0.5, 0.36, 0.55)))  # 0.83 of within, fixed 0.60, below the Wiener refit
    assert "**met**" not in short and short.count("**not met**") == 2 and "not above on every seed" in short
    assert "| snn | 0.600 | 0.60 [0.60, 0.60] |" in short


def test_months_are_kept_per_decoder_so_one_reruns_alone(tmp_path, monkeypatch):
    calls = []

    def fake_month(seed, seconds, decoders, config_path, calibration, methods):
        calls.append(list(decoders))
        return [{"decoder": d, "simulation_seed": seed, "r2": 0.5} for d in decoders]

    monkeypatch.setattr(days_benchmark, "month_rows", fake_month)
    rows = days_benchmark.cached_month_rows(0, 60.0, ["wiener", "snn_small"], None, (60.0,), tmp_path)
    assert [r["decoder"] for r in rows] == ["wiener", "snn_small"] and calls == [["wiener"], ["snn_small"]]
    (cached,) = tmp_path.glob("*snn_small*.json")
    cached.unlink()  # snn_small's defaults changed: only it is fitted again
    assert days_benchmark.cached_month_rows(0, 60.0, ["wiener", "snn_small"], None, (60.0,), tmp_path) == rows
    assert calls == [["wiener"], ["snn_small"], ["snn_small"]]
