"""Markdown for the decoder comparison and the training-stability study (issue 24), from the JSON
``benchmarks/decoder_comparison.py`` and ``benchmarks/training_stability.py`` write
(``benchmarks/results_pages.py`` writes the pages)."""

from __future__ import annotations

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


def training_stability(report: dict) -> str:
    """The epoch-to-epoch spread of validation R2 and the test R2, by training variant."""
    text = "# Why the SNN decoder's validation R2 swung between epochs\n\n"
    text += "The default SNN decoder fitted on simulated sessions once per training variant. *Spread*: the mean "
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
