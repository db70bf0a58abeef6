"""The cross-day report: ``days.json``, ``days.md`` and ``r2_vs_days.png``, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from snn_core.atomic import atomic_path, write_text_atomic  # noqa: E402

REPORT_FILES = ("days.json", "days.md", "r2_vs_days.png")


def figure_calibration(rows: list[dict]) -> float:
    """The calibration the figure shows: 60 s when measured (the issue's question), else the longest."""
    amounts = {r["calibration_s"] for r in rows if r["calibration_s"] > 0}
    return 60.0 if 60.0 in amounts else max(amounts, default=0.0)


def markdown_table(rows: list[dict]) -> str:
    """One line per (held-out session, decoder): within, fixed, then each method at each calibration."""
    columns = list(dict.fromkeys((r["method"], r["calibration_s"]) for r in rows if r["method"] not in ("within", "fixed")))
    header = ["session", "decoder", "days", "within", "fixed", *(f"{m} {c:g} s" for m, c in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for session, decoder in dict.fromkeys((r["session"], r["decoder"]) for r in rows):
        mine = {(r["method"], r["calibration_s"]): r for r in rows if r["session"] == session and r["decoder"] == decoder}
        cells = [session, decoder, str(mine[("fixed", 0.0)]["days"])]
        cells += [f"{mine[(m, 0.0)]['r2']:.3f}" for m in ("within", "fixed")]
        cells += [f"{mine[key]['r2']:.3f}" if key in mine else "" for key in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cost_table(rows: list[dict]) -> str:
    """Per decoder and method: mean recalibration seconds and parameters changed, at each calibration."""
    lines = ["| decoder | method | calibration (s) | seconds | parameters changed |", "|---|---|---|---|---|"]
    keys = dict.fromkeys((r["decoder"], r["method"], r["calibration_s"]) for r in rows if "seconds" in r)
    for decoder, method, calibration in keys:
        mine = [r for r in rows if (r["decoder"], r["method"], r["calibration_s"]) == (decoder, method, calibration)]
        seconds = sum(r["seconds"] for r in mine) / len(mine)
        changed = sum(r["parameters_changed"] for r in mine) / len(mine)
        lines.append(f"| {decoder} | {method} | {calibration:g} | {seconds:.2f} | {changed:,.0f} |")
    return "\n".join(lines)


def plot_r2_vs_days(rows: list[dict], path: Path) -> None:
    """R2 against days since training, one panel per decoder, one line per method."""
    calibration = figure_calibration(rows)
    decoders = list(dict.fromkeys(r["decoder"] for r in rows))
    fig, axes = plt.subplots(1, len(decoders), figsize=(5 * len(decoders), 4), sharey=True, squeeze=False)
    for ax, decoder in zip(axes[0], decoders):
        mine = [r for r in rows if r["decoder"] == decoder]
        for method in dict.fromkeys(r["method"] for r in mine):
            points = sorted(
                (r["days"], r["r2"]) for r in mine if r["method"] == method and r["calibration_s"] in (0.0, calibration)
            )
            if points:
                label = method if method in ("within", "fixed") else f"{method} ({calibration:g} s)"
                style = {"within": dict(color="black", ls="--"), "fixed": dict(color="grey", lw=2)}.get(method, {})
                ax.plot(*zip(*points), marker="o", label=label, **style)
        ax.set_title(decoder)
        ax.set_xlabel("days since training")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("R2 on the session after its calibration")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def write_days_report(rows: list[dict], out: str | Path, meta: dict) -> Path:
    """Write the three report files under ``out``; return the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plot_r2_vs_days(rows, out / "r2_vs_days.png")
    write_text_atomic(out / "days.json", json.dumps({**meta, "results": rows}, indent=2) + "\n")
    md = [
        "# Decoding across days",
        "",
        "Decoders fitted on the training sessions, then each held-out session decoded fixed, after each recalibration "
        "method given the session's first seconds, and by a decoder fitted on the session's own NeuroBench split "
        "(within; scored on its test split). All but within are scored on the session after its longest calibration. "
        f"Command: `{meta.get('command', '')}`.",
        "",
        "## R2",
        "",
        markdown_table(rows),
        "",
        "## Cost of recalibration",
        "",
        cost_table(rows),
        "",
        f"![R2 against days since training ({figure_calibration(rows):g} s of calibration)](r2_vs_days.png)",
        "",
    ]
    write_text_atomic(out / "days.md", "\n".join(md))
    return out
