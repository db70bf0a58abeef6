"""Decoding across a simulated month: fixed decoders' R2 decay and what recalibration recovers.

For each simulation seed, one monkey is recorded on days 0, 1, 2, 4, 7, 14, 21 and 30 (``synth
--days``); every decoder is fitted on day 0 and scored on the other days by ``evaluate-days``'s
protocol (:mod:`bmi_decoder.across_days`). The rows of all seeds go to one JSON file, with the
per-seed ratio of each method's R2 to the within-day R2 summarised as mean and range over seeds.

    python benchmarks/decoding_days.py [--seeds 0 1 2] [--seconds 600] [--decoders wiener,kalman,snn,snn_small,gru,ann]
        [--calibration 60] [--variant LABEL=CONFIG ...] [--variant-methods readout,rates]
        [--out docs/results/decoding_days.json]

The SNN's topology question (``3-000``, the default ``3-001``, the ASC ``3-222``) is answered by
``--variant LABEL=CONFIG``: the snn decoder again with that config's settings, its rows labelled
``snn LABEL`` (``configs/bmi_snn_no_skips.toml``, ``configs/bmi_snn_asc.toml``). Each seed's rows
are kept under ``--work``, so an interrupted run resumes and seeds can run in separate processes.
The figure (``--figure``) shows each decoder's R2 over its within-day R2 against days.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from bmi_decoder.across_days import CALIBRATION_S, check_sessions, evaluate_days
from bmi_decoder.experiment import load_config, parse_decoder_names
from bmi_decoder.io import write_mat
from bmi_decoder.recalibration import METHODS, parse_methods
from bmi_decoder.simulate_days import NOTE, simulate_days
from snn_core.atomic import write_text_atomic
from snn_core.cli import seed as seed_type
from snn_core.errors import InputError

MONTH = (0, 1, 2, 4, 7, 14, 21, 30)
# one colour per method in every panel of the figure
METHOD_COLOURS = {
    "fixed": "grey",
    "scratch": "tab:purple",
    "readout": "tab:red",
    "input": "tab:blue",
    "rates": "tab:green",
    "latent": "tab:orange",
}


def month_rows(
    seed: int,
    seconds: float,
    decoders: list[str],
    config_path: Path | None,
    calibration: tuple[float, ...] = CALIBRATION_S,
    methods: tuple[str, ...] = tuple(METHODS),
) -> list[dict]:
    """The protocol's rows for one simulated month, trained on day 0."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for day in simulate_days(MONTH, seconds, seed=seed):
            path = Path(folder) / f"{day.name}.mat"
            write_mat(day.session.recording, path, outside_spikes=day.session.outside_spikes, notes={NOTE: day.note()})
            paths.append(path)
        config = load_config(config_path, seed)
        sessions = check_sessions(paths[:1], paths[1:], calibration, config)
        rows = evaluate_days(sessions, decoders, list(methods), config, calibration)
    return [{**row, "simulation_seed": seed} for row in rows]


def parse_variant(text: str) -> tuple[str, Path]:
    """``"asc=configs/bmi_snn_asc.toml"`` -> ("asc", that path), the file checked (an argparse
    ``type``: a refusal is one line and exit status 2)."""
    label, _, config = text.partition("=")
    if not label or not config or not Path(config).is_file():
        raise argparse.ArgumentTypeError(f"LABEL=CONFIG with an existing TOML file, got {text!r}")
    return label, Path(config)


def variant_methods(text: str) -> tuple[str, ...]:
    """``--variant-methods`` checked against the recalibration methods (an argparse ``type``)."""
    try:
        return tuple(parse_methods(text, "--variant-methods"))
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def cached_month_rows(
    seed: int,
    seconds: float,
    decoders: list[str],
    config_path: Path | None,
    calibration: tuple[float, ...],
    work: Path,
    methods: tuple[str, ...] = tuple(METHODS),
) -> list[dict]:
    """:func:`month_rows`, kept in ``work`` per seed and decoder, so that an interrupted run
    resumes, seeds can run in separate processes, and a decoder whose defaults changed is rerun
    alone (delete its files)."""
    amounts = "-".join(f"{c:g}" for c in calibration)
    rows = []
    for decoder in decoders:
        key = (
            f"seed{seed}_{seconds:g}s_cal{amounts}_{decoder}_{'-'.join(methods)}_{config_path.stem if config_path else 'default'}"
        )
        cache = work / f"{key}.json"
        if not cache.exists():
            write_text_atomic(cache, json.dumps(month_rows(seed, seconds, [decoder], config_path, calibration, methods)) + "\n")
        rows += json.loads(cache.read_text())
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Per (decoder, method, calibration, days): R2 over within-day R2, mean and range over seeds."""
    within = {(r["simulation_seed"], r["decoder"], r["days"]): r["r2"] for r in rows if r["method"] == "within"}
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        if r["method"] != "within":
            key = (r["decoder"], r["method"], r["calibration_s"], r["days"])
            groups.setdefault(key, []).append(r["r2"] / within[r["simulation_seed"], r["decoder"], r["days"]])
    return [
        {
            "decoder": d,
            "method": m,
            "calibration_s": c,
            "days": k,
            "ratio_mean": float(np.mean(v)),
            "ratio_min": float(min(v)),
            "ratio_max": float(max(v)),
            "seeds": len(v),
        }
        for (d, m, c, k), v in sorted(groups.items())
    ]


def plot(summary_rows: list[dict], calibration_s: float, path: Path) -> None:
    """R2 over within-day R2 against days, one panel per decoder, one line per method (fixed and
    each method at ``calibration_s``), the range over seeds shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snn_core.atomic import atomic_path

    decoders = list(dict.fromkeys(r["decoder"] for r in summary_rows))
    cols = min(len(decoders), 3)
    fig, axes = plt.subplots(
        -(-len(decoders) // cols), cols, figsize=(4.2 * cols, 3.4 * -(-len(decoders) // cols)), sharey=True, squeeze=False
    )
    for ax, decoder in zip(axes.flat, decoders):
        mine = [r for r in summary_rows if r["decoder"] == decoder and r["calibration_s"] in (0.0, calibration_s)]
        for method in dict.fromkeys(r["method"] for r in mine):
            points = sorted((r["days"], r["ratio_mean"], r["ratio_min"], r["ratio_max"]) for r in mine if r["method"] == method)
            days, mean, low, high = (np.array(v) for v in zip(*points))
            color = METHOD_COLOURS.get(method, "black")
            label = method if method == "fixed" else f"{method} {calibration_s:g} s"
            ax.plot(days, mean, marker="o", ms=3, color=color, lw=2.5 if method == "fixed" else 1.5, label=label)
            ax.fill_between(days, low, high, color=color, alpha=0.15, lw=0)
        ax.axhline(1.0, color="black", ls="--", lw=0.8)
        ax.set_title(decoder)
        ax.set_xlabel("days since training")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(decoders) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("R2 / within-day R2")
    axes.flat[0].set_ylim(-0.2, 1.15)
    # one legend for every panel: a method has its colour everywhere
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_lines() if not h.get_label().startswith("_")}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=seed_type, nargs="+", default=[0, 1, 2], help="simulation seeds (default: 0 1 2)")
    parser.add_argument("--seconds", type=float, default=600.0, help="nominal session length (default: 600)")
    parser.add_argument("--decoders", default="wiener,kalman,snn,snn_small,gru,ann", help="comma-separated decoders")
    parser.add_argument("--config", type=Path, help="TOML experiment config (decoder settings, e.g. the SNN topology)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/decoding_days.json"), help="JSON to write")
    parser.add_argument(
        "--calibration",
        default="60",
        help="calibration amounts in seconds, comma-separated (default: 60, the question of the page; "
        "evaluate-days's own default is 15,30,60,120)",
    )
    parser.add_argument(
        "--variant", type=parse_variant, action="append", default=[], help="LABEL=CONFIG: the snn decoder again with a config"
    )
    parser.add_argument(
        "--variant-methods",
        type=variant_methods,
        default=tuple(METHODS),
        help="the recalibration methods of the variants (default: all; fixed and within always run)",
    )
    parser.add_argument("--figure", type=Path, default=Path("docs/img/decoding_days.png"), help="figure to write")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("runs/decoding_days"),
        help="each seed's rows, kept to resume (default: runs/decoding_days)",
    )
    args = parser.parse_args()
    decoders = parse_decoder_names(args.decoders)
    variants = dict(args.variant)
    calibration = tuple(float(c) for c in args.calibration.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        rows += cached_month_rows(seed, args.seconds, decoders, args.config, calibration, args.work)
        for label, config in variants.items():
            rows += [
                {**row, "decoder": f"snn {label}"}
                for row in cached_month_rows(seed, args.seconds, ["snn"], config, calibration, args.work, args.variant_methods)
            ]
    report = {
        "command": "python benchmarks/decoding_days.py " + " ".join(sys.argv[1:]),
        "days": list(MONTH),
        "seconds": args.seconds,
        "seeds": args.seeds,
        "variants": {label: str(config) for label, config in variants.items()},
        "summary": summary(rows),
        "results": rows,
    }
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
    plot(report["summary"], 60.0, args.figure)
    for s in summary(rows):
        if s["calibration_s"] in (0.0, 60.0):
            print(
                f"{s['decoder']:9s} {s['method']:8s} {s['calibration_s']:4.0f} s day {s['days']:2d}: "
                f"{s['ratio_mean']:.2f} of within-day R2 ({s['ratio_min']:.2f} to {s['ratio_max']:.2f})"
            )


if __name__ == "__main__":
    main()
