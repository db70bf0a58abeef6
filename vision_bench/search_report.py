"""The vision search's report: Markdown tables, the convergence plot, and the files written.

Every function reads the JSON form of a result (:meth:`vision_bench.search_results.VisionSearchResult.to_dict`),
so a stored ``search.json`` renders the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

from snn_core.atomic import atomic_path, write_text_atomic
from vision_bench.data.split import VALIDATION_SHARE
from vision_bench.search_results import VisionSearchResult
from vision_bench.verdicts import Claim, claims_table


def write_report(result: VisionSearchResult, out: Path) -> tuple[Path, ...]:
    """Write ``search.json``, ``search.md`` and ``search_convergence.png`` to ``out`` (atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    paths = (out / "search.json", out / "search.md", out / "search_convergence.png")
    plot_convergence(data, paths[2])
    write_text_atomic(paths[0], json.dumps(data, indent=2) + "\n")
    write_text_atomic(paths[1], render_markdown(data))
    return paths


def samplers_table(result: dict) -> str:
    """Per sampler (Markdown): best topology and accuracy, trials to reach it, times."""
    lines = [
        "| sampler | best topology | best val acc | at trial | trainings | wall time (s) | alone (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for sampler, r in result["searches"].items():
        curve = r["best_so_far"]
        lines.append(
            f"| {sampler} | `{r['best']['topology']}` | {curve[-1]:.3f} | {curve.index(curve[-1]) + 1} "
            f"| {r['trainings']} | {r['wall_s']:.1f} | {r['alone_s']:.1f} |"
        )
    return "\n".join(lines)


def render_markdown(result: dict) -> str:
    data, cfg, start, best = result["data"], result["config"], result["start"], result["best"]
    model, training = cfg["model"], cfg["train"]
    curves = result["searches"]
    rows = [
        f"| {k + 1} | "
        + " | ".join(f"{r['best_so_far'][k]:.3f}" if k < len(r["best_so_far"]) else "" for r in curves.values())
        + " |"
        for k in range(max(len(r["best_so_far"]) for r in curves.values()))
    ]
    ann = ", ".join(f"{v} {a:.3f}" for v, a in result["ann_validation_accuracy"].items())
    return "\n".join(
        [
            f"# Skip-topology search on {result['dataset']}",
            "",
            f"Data: {data['fit']} fit, {data['validation']} validation (the last {VALIDATION_SHARE:.0%} of each training class) and "
            f"{data['test']} test recordings, frames {' x '.join(map(str, data['frame_shape']))}. Model: {model['family']}-like, blocks "
            f"{result['layers_per_block']} layers ({result['search_space_size']:,} topologies). Training: {training['epochs']} epochs, "
            f"{training['optimizer']} lr {training['lr']}, seed {training['seed']}. {result['trials']} trials per sampler, "
            f"sampler seed {result['seed']}. Runtime of this command {result['runtime_s']:.0f} s.",
            "",
            "## Start and best topology",
            "",
            f"ANN twins, validation accuracy: {ann}. ANN-derived start: `{start['variant']}`.",
            "",
            "| topology | what | val acc | test acc |",
            "|---|---|---|---|",
            f"| `{start['topology']}` | ANN-derived start ({start['variant']}) | {start['validation_accuracy']:.3f} | {start['test_accuracy']:.3f} |",
            f"| `{best['topology']}` | best found ({', '.join(best['found_by'])}) | {best['validation_accuracy']:.3f} | {best['test_accuracy']:.3f} |",
            "",
            "## Samplers",
            "",
            "Wall time: the study's trials as run, where a topology already trained by another study is reused; alone: "
            "what the study would have taken training every topology itself.",
            "",
            samplers_table(result),
            "",
            "Best validation accuracy so far, per trial:",
            "",
            "| trial | " + " | ".join(curves) + " |",
            "|---|" + "---|" * len(curves),
            *rows,
            "",
            "![best validation accuracy per trial](search_convergence.png)",
            "",
            "## The paper's claims on this run",
            "",
            claims_table(Claim(**c) for c in result["claims"]),
            "",
        ]
    )


def plot_convergence(result: dict, path: Path) -> None:
    """Best-so-far validation accuracy per trial, one line per sampler (matplotlib, Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    # curves often coincide: keep each visible (samplers, then a population strategy)
    styles = [("o", "-", 9), ("s", "--", 6), ("^", ":", 4), ("D", "-.", 3), ("v", "-", 2)]
    for (sampler, r), (marker, line, size) in zip(result["searches"].items(), styles):
        ax.plot(
            range(1, len(r["best_so_far"]) + 1), r["best_so_far"], marker=marker, linestyle=line, markersize=size, label=sampler
        )
    ax.axhline(result["start"]["validation_accuracy"], color="grey", linestyle=":", label="ANN-derived start")
    ax.set(xlabel="trial", ylabel="best validation accuracy so far", title=f"skip-topology search, {result['dataset']}")
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120)
