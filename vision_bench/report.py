"""The analysis report: ``report.json``, ``report.md`` and ``firing_rates.png``, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from snn_core.atomic import atomic_path, write_text_atomic
from snn_core.metrics import ENERGY_CAVEAT
from vision_bench.analysis_results import AnalysisReport
from vision_bench.verdicts import claims_table

# What the vision models add to the energy caveat: which of their layers NeuroBench charges MACs.
COUNTING_NOTE = (
    "Operations and energy are per time step and sample. NeuroBench counts the operations of a step whose "
    "input is not binary as MACs: the classifier (averaged features), the stem at steps where a pixel counts "
    "several events (event-count frames) and a layer fed an ASC sum of spike maps at the steps where two spikes meet (a value of 2); the spike-count "
    "column counts an integer input of k as k accumulates instead. Where an ASC joins layers of different widths, its 1 x 1 projection makes the sum "
    "real-valued, hence MACs under both counts."
)


def _kilo(x: float) -> str:
    return f"{x / 1e3:,.1f}k"


def results_table(report: AnalysisReport) -> str:
    """The main table (Markdown): accuracy, drop, firing rate, operations and energy per variant."""
    lines = [
        "| variant | topology | SNN acc | ANN acc | drop | SNN firing rate | dense ops | eff. MACs | eff. ACs "
        "| SNN energy (nJ) | SNN energy, spike count (nJ) | ANN energy (nJ) | SNN params (KB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, row in report.variants.items():
        snn, ann = row.snn.activity, row.ann.activity
        ops = snn.cost.synops
        lines.append(
            f"| {variant} | `{row.topology}` | {row.snn.accuracy:.3f} | {row.ann.accuracy:.3f} | {row.drop:+.3f} "
            f"| {snn.mean_firing_rate:.4f} | {_kilo(ops.dense)} | {_kilo(ops.effective_macs)} "
            f"| {_kilo(ops.effective_acs)} | {snn.energy_pj_per_step() / 1e3:.2f} "
            f"| {snn.energy_pj_per_step(spike_count=True) / 1e3:.2f} | {ann.energy_pj_per_step() / 1e3:.2f} "
            f"| {snn.cost.footprint_bytes / 1024:.1f} |"
        )
    return "\n".join(lines)


def render_markdown(report: AnalysisReport) -> str:
    """The whole report as Markdown, the figure linked as ``firing_rates.png``."""
    model, training = report.config.model, report.config.train
    variants = list(report.variants)
    layers = list(next(iter(report.variants.values())).snn.activity.firing_rates)
    rate_rows = [
        f"| {layer} | " + " | ".join(f"{report.variants[v].snn.activity.firing_rates[layer]:.4f}" for v in variants) + " |"
        for layer in layers
    ]
    return "\n".join(
        [
            f"# Skip connections in SNNs: analysis on {report.dataset}",
            "",
            f"Data: {report.train_size} training and {report.test_size} test recordings from `{report.root}`, frames "
            f"{' x '.join(map(str, report.frame_shape))} (T, polarity, H, W). Model: {model.family}-like, stem "
            f"{model.stem_width} channels, blocks {list(model.widths)} x {model.depth} layers. Training: "
            f"{training.epochs} epochs, {training.optimizer} lr {training.lr}, batch {training.batch_size}, "
            f"seed {training.seed}. Runtime {report.runtime_s:.0f} s.",
            "",
            "## Results",
            "",
            "Accuracy: test set, last epoch (no model selection on the test set). Drop: ANN twin minus SNN. "
            "Firing rate: mean over the skip blocks' layers. Operations and energy: per time step and sample.",
            "",
            results_table(report),
            "",
            "## The paper's claims on this run",
            "",
            claims_table(report.claims),
            "",
            "## Per-layer firing rate (SNN, spikes per neuron per step)",
            "",
            "| layer | " + " | ".join(variants) + " |",
            "|---|" + "---|" * len(variants),
            *rate_rows,
            "",
            "![per-layer firing rate by variant](firing_rates.png)",
            "",
            "## Caveats",
            "",
            f"- {ENERGY_CAVEAT} {COUNTING_NOTE}",
            "- One training seed per model: accuracy differences of a few points are within seed-to-seed variation.",
            "",
        ]
    )


def plot_firing_rates(report: AnalysisReport, path: str | Path) -> None:
    """Line plot of per-layer SNN firing rate, one line per variant (matplotlib, Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for variant, row in report.variants.items():
        rates = row.snn.activity.firing_rates
        ax.plot(list(rates), list(rates.values()), marker="o", label=f"{variant} ({row.topology})")
    ax.set_xlabel("layer")
    ax.set_ylabel("firing rate (spikes / neuron / step)")
    ax.set_title(f"Per-layer firing rate by skip variant, {report.dataset}")
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120)


def write_report(report: AnalysisReport, out_dir: str | Path) -> None:
    """Write ``report.json``, ``report.md`` and ``firing_rates.png`` atomically into ``out_dir``."""
    out_dir = Path(out_dir)
    plot_firing_rates(report, out_dir / "firing_rates.png")
    write_text_atomic(out_dir / "report.json", json.dumps(report.to_dict(), indent=2) + "\n")
    write_text_atomic(out_dir / "report.md", render_markdown(report))
