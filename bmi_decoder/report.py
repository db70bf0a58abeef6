"""The evaluation report: ``report.json``, ``report.md`` and figures, all written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bmi_decoder.experiment import DecoderResult  # noqa: E402
from snn_core.atomic import atomic_path, write_text_atomic  # noqa: E402
from snn_core.metrics import ENERGY_CAVEAT  # noqa: E402

# Seconds of test data in the velocity figure: long enough to show several reaches.
TRACE_SECONDS = 10.0


def step_words(results: list[DecoderResult]) -> str:
    """``"4 ms step"``: one bin of the sessions' bin width, what the costs are per."""
    return f"{results[0].bin_width * 1e3:g} ms step"


def markdown_table(results: list[DecoderResult]) -> str:
    """One line per (session, decoder): accuracy and cost per step (one bin)."""
    lines = [
        "| session | decoder | R2 | R2 x | R2 y | footprint (KB) | dense ops | eff. MACs | eff. ACs | act. sparsity | energy (pJ/step) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        row = r.row()
        ops = row["synops"]
        lines.append(
            f"| {r.session} | {r.decoder} | {r.r2:.3f} | {r.r2_x:.3f} | {r.r2_y:.3f} | "
            f"{row['footprint_bytes'] / 1024:.1f} | {ops['dense']:,.0f} | {ops['effective_macs']:,.0f} | "
            f"{ops['effective_acs']:,.0f} | {row['activation_sparsity']:.3f} | {row['energy_pj_per_step']:,.0f} |"
        )
    return "\n".join(lines)


def plot_velocity_traces(results: list[DecoderResult], path: Path) -> None:
    """True vs decoded velocity over the start of the first session's test split."""
    first = [r for r in results if r.session == results[0].session]
    fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    bin_width = first[0].bin_width
    n = min(round(TRACE_SECONDS / bin_width), len(first[0].test_velocity))
    seconds = [i * bin_width for i in range(n)]
    for axis, ax in enumerate(axes):
        ax.plot(seconds, first[0].test_velocity[:n, axis], color="black", lw=1.5, label="true")
        for r in first:
            ax.plot(seconds, r.test_prediction[:n, axis], lw=0.9, label=f"{r.decoder} (R2 {r.r2:.2f})")
        ax.set_ylabel(f"v{'xy'[axis]} (mm/s)")
    axes[0].legend(loc="upper right", fontsize=8, ncol=3)
    axes[0].set_title(f"{first[0].session}: test split, decoded from the reset state")
    axes[1].set_xlabel("time into the test split (s)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def plot_r2_vs_synops(results: list[DecoderResult], path: Path) -> None:
    """Accuracy against effective synaptic operations per step, one point per decoder and session."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for decoder in dict.fromkeys(r.decoder for r in results):
        rows = [r for r in results if r.decoder == decoder]
        ops = [r.cost["synops"]["effective_macs"] + r.cost["synops"]["effective_acs"] for r in rows]
        ax.scatter(ops, [r.r2 for r in rows], label=decoder, s=40)
    ax.set_xscale("log")
    ax.set_xlabel(f"effective synaptic operations per {step_words(results)} (MACs + ACs, log)")
    ax.set_ylabel("test R2")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def decoder_summary(rows: list[dict]) -> list[dict]:
    """Per decoder over sessions (report rows): mean test R2 with its standard error, mean energy
    and effective operations per step, and footprint, in first-seen order."""
    summary = []
    for decoder in dict.fromkeys(r["decoder"] for r in rows):
        mine = [r for r in rows if r["decoder"] == decoder]
        r2 = np.array([r["r2"] for r in mine])
        summary.append(
            {
                "decoder": decoder,
                "sessions": len(mine),
                "r2_mean": float(r2.mean()),
                # standard error of the mean over sessions (0 for one session)
                "r2_se": float(r2.std(ddof=1) / np.sqrt(len(r2))) if len(r2) > 1 else 0.0,
                "energy_pj_per_step": float(np.mean([r["energy_pj_per_step"] for r in mine])),
                "effective_acs": float(np.mean([r["synops"]["effective_acs"] for r in mine])),
                "effective_macs": float(np.mean([r["synops"]["effective_macs"] for r in mine])),
                "footprint_bytes": float(np.mean([r["footprint_bytes"] for r in mine])),
            }
        )
    return summary


def pareto_front(summary: list[dict]) -> list[dict]:
    """The decoders no other beats on both energy per step (lower) and mean R2 (higher), cheapest first."""
    front, best = [], -np.inf
    for s in sorted(summary, key=lambda s: (s["energy_pj_per_step"], -s["r2_mean"])):
        if s["r2_mean"] > best:
            front.append(s)
            best = s["r2_mean"]
    return front


def plot_pareto(rows: list[dict], path: Path, step: str = "4 ms step") -> None:
    """Mean test R2 (+- s.e. over sessions) against energy per step, log scale; marker area grows
    with the footprint, which labels each point; the Pareto front is drawn as a step line.

    Args:
        rows: report rows (``DecoderResult.row()`` or ``report.json``'s ``results``), any
            number of sessions per decoder.
        path: the PNG to write.
        step: what the costs are per, for the axis label.
    """
    summary = decoder_summary(rows)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    largest = max(s["footprint_bytes"] for s in summary)
    for s in summary:
        # area proportional to footprint, 30 to 600 points^2: a 10 KB and a 200 KB model both readable
        area = 30 + 570 * s["footprint_bytes"] / largest
        ax.errorbar(s["energy_pj_per_step"], s["r2_mean"], yerr=s["r2_se"], fmt="none", ecolor="grey", capsize=3, zorder=1)
        ax.scatter(s["energy_pj_per_step"], s["r2_mean"], s=area, alpha=0.75, zorder=2)
    front = pareto_front(summary)
    ax.step(
        [s["energy_pj_per_step"] for s in front],
        [s["r2_mean"] for s in front],
        where="post",
        color="black",
        lw=0.8,
        ls="--",
        zorder=0,
        label="Pareto front",
    )
    ax.set_xscale("log")
    ax.set_xlabel(f"energy per {step} (pJ, log; effective MACs and ACs at 45 nm)")
    n = max(s["sessions"] for s in summary)
    ax.set_ylabel(f"test R2 (mean +- s.e. over {n} sessions)" if n > 1 else "test R2 (one session)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")  # the points are labelled where they lie
    fig.tight_layout()
    _label_points(ax, summary)
    fig.tight_layout()  # again, for the labels near the edges
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def _label_points(ax, summary: list[dict], line: float = 10.0) -> None:
    """Label each point with its decoder and footprint, below and to its right; a label that would
    overlap one already placed (variants of one decoder lie close together) moves down a line at
    a time and points back with a thin line. Positions in points, after the layout is fixed; a
    character of the 8-point font is taken as 4.5 points wide."""
    to_points = 72.0 / ax.figure.dpi
    placed: list[tuple[float, float, float]] = []  # left, right, baseline
    for s in sorted(summary, key=lambda s: -s["r2_mean"]):
        text = f"{s['decoder']} {s['footprint_bytes'] / 1024:.0f} KB"
        x, y = ax.transData.transform((s["energy_pj_per_step"], s["r2_mean"])) * to_points
        left, right, dy = x + 7.0, x + 7.0 + 4.5 * len(text), -12.0
        while any(left < r and a < right and abs(y + dy - b) < line for a, r, b in placed):
            dy -= line
        placed.append((left, right, y + dy))
        ax.annotate(
            text,
            (s["energy_pj_per_step"], s["r2_mean"]),
            textcoords="offset points",
            xytext=(7, dy),
            fontsize=8,
            arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "grey"} if dy < -12.0 else None,
        )


def write_report(results: list[DecoderResult], out: str | Path, meta: dict) -> Path:
    """Write ``report.json``, ``report.md`` and the three figures under ``out``; return the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plot_velocity_traces(results, out / "velocity.png")
    plot_r2_vs_synops(results, out / "r2_vs_synops.png")
    plot_pareto([r.row() for r in results], out / "pareto.png", step_words(results))
    report = {**meta, "energy_note": ENERGY_CAVEAT, "results": [r.row() for r in results]}
    write_text_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    md = [
        "# Decoding report",
        "",
        f"Protocol: NeuroBench primate reaching ({results[0].bin_width * 1e3:g} ms bins, chronological 50/25/25 split by reach, "
        f"R2 averaged over x and y). Command: `{meta.get('command', '')}`.",
        "",
        markdown_table(results),
        "",
        f"Costs are per {step_words(results)} on the test split. {ENERGY_CAVEAT}",
        "",
        "![true vs decoded velocity](velocity.png)",
        "",
        "![R2 against synaptic operations](r2_vs_synops.png)",
        "",
        "![R2 against energy per step, marker area by footprint](pareto.png)",
        "",
    ]
    write_text_atomic(out / "report.md", "\n".join(md))
    return out
