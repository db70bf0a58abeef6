"""The report's summary over sessions and its R2-vs-cost Pareto figure."""

from __future__ import annotations

import math

import pytest

from bmi_decoder.report import decoder_summary, pareto_front, plot_pareto


def row(decoder: str, r2: float, energy: float, kb: float = 10.0) -> dict:
    return {
        "session": "s",
        "decoder": decoder,
        "r2": r2,
        "energy_pj_per_step": energy,
        "footprint_bytes": kb * 1024,
        "synops": {"effective_acs": energy / 0.9, "effective_macs": 0.0},
    }


def test_summary_gives_mean_and_standard_error_over_sessions() -> None:
    (s,) = decoder_summary([row("snn", 0.5, 100), row("snn", 0.6, 300), row("snn", 0.7, 200)])
    assert s["sessions"] == 3 and s["r2_mean"] == pytest.approx(0.6)
    assert s["r2_se"] == pytest.approx(0.1 / math.sqrt(3))  # sample s.d. 0.1 over 3 sessions
    assert s["energy_pj_per_step"] == pytest.approx(200)


def test_pareto_front_keeps_only_the_undominated() -> None:
    rows = [row("cheap", 0.4, 10), row("dominated", 0.35, 50), row("middle", 0.6, 100), row("best", 0.7, 1000)]
    assert [s["decoder"] for s in pareto_front(decoder_summary(rows))] == ["cheap", "middle", "best"]


def test_pareto_figure_is_written(tmp_path) -> None:
    path = tmp_path / "pareto.png"
    plot_pareto([row("snn", 0.6, 3000, 200), row("snn_small", 0.55, 600, 25), row("wiener", 0.5, 1500)], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
