"""Markdown for the decoder comparison, the choice of the SNN's defaults, the training-stability
study and decoding across days, from the JSON ``benchmarks/decoder_comparison.py``,
``benchmarks/snn_defaults.py``, ``benchmarks/training_stability.py`` and
``benchmarks/decoding_days.py`` write
(``benchmarks/results_pages.py`` writes the pages)."""

from __future__ import annotations

import numpy as np
from bmi_pages import footer
from page_table import table


def decoder_comparison(report: dict) -> str:
    """Per-session test R2 of every decoder, the means and costs, and issue 24's checks."""
    rows = report["rows"]
    sessions = list(dict.fromkeys(r["session"] for r in rows))
    r2 = {(r["session"], r["decoder"]): r["r2"] for r in rows}
    text = "# The decoders over ten simulated sessions\n\n"
    text += "Every decoder at its defaults (`bmi-decoder evaluate`, no config) on simulated sessions of varied "
    text += "seed, array (96 or 192 channels) and length; test R2 on the NeuroBench split"
    if report.get("variants"):
        labels = ", ".join(f"`{label}` ({config})" for label, config in report["variants"].items())
        text += f"; variants of the SNN decoder, each from its config: {labels}"
    text += ".\n\n"
    specs = "; ".join(f"seed {s['seed']}, {s['channels']} ch, {s['seconds']:.0f} s" for s in report["sessions"])
    text += f"Sessions, in order: {specs}.\n\n"
    summary = report["summary"]
    header = ["decoder", "test R2 (mean +- s.e.)", "footprint (KB)", "eff. ACs/step", "energy (pJ/step)"]
    text += table(
        header,
        [
            [
                s["decoder"],
                f"{s['r2_mean']:.3f} +- {s['r2_se']:.3f}",
                f"{s['footprint_bytes'] / 1024:.1f}",
                f"{s['effective_acs']:,.0f}",
                f"{s['energy_pj_per_step']:,.0f}",
            ]
            for s in summary
        ],
    )
    text += "\nPer session (test R2):\n\n"
    text += table(
        ["decoder", *[f"{k + 1}" for k in range(len(sessions))]],
        [
            [s["decoder"], *[f"{r2[(x, s['decoder'])]:.3f}" if (x, s["decoder"]) in r2 else "-" for x in sessions]]
            for s in summary
        ],
    )
    text += "\nFit times are in each session's report (`runs/decoder_comparison/reports/`); they were measured "
    text += "two sessions at a time beside other work, so this page leaves them out.\n\n"
    text += "Checks (issue 24):\n\n" + "".join(
        f"- {name}: **{'yes' if ok else 'no'}**\n" for name, ok in report["checks"].items()
    )
    text += "\n![test R2 minus the GRU's, per session and mean](../img/decoder_comparison.png)\n"
    return text + footer(report, "decoder_comparison.py")


def snn_defaults(report: dict) -> str:
    """Mean validation and test R2 of every candidate setting of the SNN decoders."""
    text = "# How the SNN decoders' defaults were chosen\n\n"
    text += "Each candidate is a decoder's defaults, or a config's settings, with the settings named changed, "
    text += "fitted on each of the ten sessions of `benchmarks/decoder_comparison.py`. The choice "
    text += "read the mean validation R2, but for the moving average of the weights, which `snn` keeps for stable "
    text += "training (compare `defaults` with `weights as trained`); the test R2 was read after the choice. "
    text += "Effective synaptic operations per step on the test segment; fit time on one thread, two fits at a time.\n\n"
    rows = [
        [
            s["candidate"],
            f"`{s['decoder']}`" + (f" of {s['config']}" if s["config"] else ""),
            ", ".join(f"{k} = {v}" for k, v in s["settings"].items()) or "-",
            f"{s['validation_r2_mean']:.3f} +- {s['validation_r2_se']:.3f}",
            f"{s['test_r2_mean']:.3f} +- {s['test_r2_se']:.3f}",
            f"{s['effective_acs_mean']:,.0f}",
            f"{s['fit_seconds_mean']:.1f}",
        ]
        for s in report["summary"]
    ]
    header = ["candidate", "decoder", "changed", "validation R2", "test R2", "ACs/step", "fit (s)"]
    text += table(header, rows)
    return text + footer(report, "snn_defaults.py")


def training_stability(report: dict) -> str:
    """The epoch-to-epoch spread of validation R2 and the test R2, by training variant."""
    text = "# Why the SNN decoder's validation R2 swung between epochs\n\n"
    text += "One member of the default SNN decoder (`ensemble = 1`) fitted on simulated sessions once per training variant. *Spread*: the mean "
    text += "absolute change of validation R2 from one epoch to the next, from epoch "
    text += f"{report['settled_epoch']} on (the climb of the first epochs left out).\n\n"
    rows = [
        [
            s["variant"],
            ", ".join(f"{k} = {v}" for k, v in s["settings"].items()) or "the decoder's defaults",
            f"{s['spread_mean']:.3f} +- {s['spread_se']:.3f}",
            f"{s['test_r2_mean']:.3f} +- {s['test_r2_se']:.3f}",
            f"{s['epochs_mean']:.1f}",
        ]
        for s in report["summary"]
    ]
    text += table(["variant", "settings", "spread (mean +- s.e.)", "test R2 (mean +- s.e.)", "epochs run"], rows)
    sessions = list(dict.fromkeys(r["session"] for r in report["results"]))
    text += f"\nOver {len(sessions)} sessions: {', '.join(sessions)}.\n"
    text += "\n![validation R2 per epoch by variant](../img/training_stability.png)\n"
    return text + footer(report, "training_stability.py")


def _ratio(s: dict) -> str:
    return f"{s['ratio_mean']:.2f} [{s['ratio_min']:.2f}, {s['ratio_max']:.2f}]"


def _month_goal(report: dict, calibration_s: float) -> str:
    """The issue's goal for the SNN on the last day: a method with at least 90% of the within-day
    R2 while the fixed decoder keeps under half, and above a Wiener filter refitted on the same data."""
    last = max(report["days"])
    rows = [r for r in report["results"] if r["days"] == last]
    ratios = {(s["decoder"], s["method"], s["calibration_s"]): s for s in report["summary"] if s["days"] == last}
    fixed = ratios.get(("snn", "fixed", 0.0))
    methods = [s for (d, _, c), s in ratios.items() if d == "snn" and c == calibration_s]
    if fixed is None or not methods:
        return ""
    best = max(methods, key=lambda s: s["ratio_mean"])

    def r2(decoder: str, method: str, calibration: float) -> dict[int, float]:
        return {
            r["simulation_seed"]: r["r2"]
            for r in rows
            if (r["decoder"], r["method"], r["calibration_s"]) == (decoder, method, calibration)
        }

    snn, wiener = r2("snn", best["method"], calibration_s), r2("wiener", "scratch", calibration_s)
    gaps = [snn[k] - wiener[k] for k in snn if k in wiener]
    text = f"\n## The goal on day {last}, with {calibration_s:g} s of calibration\n\n"
    text += f"- The SNN's best method, `{best['method']}`, keeps {_ratio(best)} of the within-day R2 "
    text += f"(goal: at least 0.90): **{'met' if best['ratio_min'] >= 0.9 else 'not met'}**"
    text += " on every seed.\n" if best["ratio_min"] >= 0.9 else f" (mean {best['ratio_mean']:.2f}).\n"
    text += f"- The fixed SNN keeps {_ratio(fixed)} (goal: below 0.50): **{'met' if fixed['ratio_max'] < 0.5 else 'not met'}**.\n"
    if gaps:
        text += f"- Against a Wiener filter fitted from scratch on the same {calibration_s:g} s: R2 "
        text += f"{min(gaps):+.3f} to {max(gaps):+.3f} over seeds (mean {np.mean(gaps):+.3f}): "
        text += f"**{'above on every seed' if min(gaps) > 0 else 'not above on every seed'}**.\n"
    return text


def decoding_days(report: dict, calibration_s: float = 60.0) -> str:
    """R2 decay of fixed decoders over a simulated month, what each recalibration method recovers
    with ``calibration_s`` of data, the SNN's topologies, and the issue's goal."""
    summary, days = report["summary"], [d for d in report["days"] if d > 0]
    seeds = ", ".join(str(s) for s in report["seeds"])
    text = "# Decoding across days: a simulated month\n\n"
    text += f"One simulated monkey per simulation seed ({seeds}), recorded on days {', '.join(map(str, report['days']))} "
    text += f'in sessions of about {report["seconds"]:g} s (`bmi-decoder synth --days`; docs/data.md, "Several days of '
    text += "one monkey\"). Every decoder is fitted on day 0 and scored on each later day by `evaluate-days`'s protocol "
    text += "(docs/bmi.md). Figures are R2 over the within-day R2 (the same decoder fitted on that day's NeuroBench "
    text += "split), as mean [min, max] over seeds.\n\n"
    text += f"![R2 over within-day R2 against days, fixed and with {calibration_s:g} s](../img/decoding_days.png)\n\n"
    by = {(s["decoder"], s["method"], s["calibration_s"], s["days"]): s for s in summary}
    decoders = list(dict.fromkeys(s["decoder"] for s in summary))
    text += "## Fixed decoders: no recalibration\n\n"
    text += table(
        ["decoder", *[f"day {d}" for d in days]], [[d, *[_ratio(by[d, "fixed", 0.0, k]) for k in days]] for d in decoders]
    )
    last = max(days)
    methods = list(dict.fromkeys(s["method"] for s in summary if s["calibration_s"] == calibration_s))
    text += f"\n## Day {last}: what {calibration_s:g} s of calibration recovers\n\n"
    within = {}
    for r in report["results"]:
        if r["method"] == "within" and r["days"] == last:
            within.setdefault(r["decoder"], []).append(r["r2"])
    rows = [
        [
            d,
            f"{np.mean(within[d]):.3f}",
            _ratio(by[d, "fixed", 0.0, last]),
            *[_ratio(by[d, m, calibration_s, last]) if (d, m, calibration_s, last) in by else "-" for m in methods],
        ]
        for d in decoders
    ]
    text += table(["decoder", "within-day R2", "fixed", *methods], rows)
    text += "\n`scratch`: a new decoder fitted on the calibration data alone; `readout`: the readout solved anew; "
    text += "`input`: the input layer fine-tuned; `rates`: per-channel rate normalisation (no labels); `latent`: "
    text += "factor-analysis alignment on stable channels (Degenhart et al. 2020; no labels).\n"
    if report.get("variants"):
        labels = ", ".join(f"`snn {label}` ({config})" for label, config in report["variants"].items())
        text += f"\nThe SNN's topology: the default `snn` (four blocks of 3-001, one DSC) beside {labels} (four blocks each), fitted on the same days.\n"
    text += _month_goal(report, calibration_s)
    return text + footer(report, "decoding_days.py")
