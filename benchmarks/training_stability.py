"""Why the SNN decoder's validation R2 swings between epochs, measured: variants of its training.

One member of the default SNN decoder (``ensemble = 1``: each member of the default ensemble
trains so, and the ensemble's one score has no curve) is fitted on each of the first ``--sessions`` sessions of
``benchmarks/decoder_comparison.py`` (simulated when missing) once per training variant: the
weights as trained, a moving average of the weights (the snn default at 0.99)
(:mod:`snn_core.weight_average`) at two decays, and, without an average, half the learning
rate, four times the batch and a longer burn-in. Everything else is the decoder's default, on
the NeuroBench split that ``bmi-decoder evaluate`` uses.

The epoch-to-epoch spread of a fit is the mean absolute change of its validation R2 from one
epoch to the next, from epoch :data:`SETTLED` on (the first epochs climb for every variant; the
swing that lets early stopping keep a lucky epoch is what comes after). For every fit it also
records the curve, the best validation R2, the test R2 of the weights kept, the epochs run and
the fit time. Fits are stored in ``--out``'s ``training_stability.json`` as they end, so an
interrupted run resumes; ``--json`` gets the summary for docs/results/training_stability.md.

    python benchmarks/training_stability.py [--sessions 5] [--variants "as trained" "average 0.99" ...] [--jobs 2]
        [--out runs/decoder_comparison] [--figure docs/img/training_stability.png]
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import as_completed
from pathlib import Path

import numpy as np
import torch
from decoder_comparison import SESSIONS, simulated_sessions
from results_json import add_json_argument, check_json, count, run_facts, write_json
from worker_pool import one_thread_workers

from bmi_decoder.decoders import make_decoder
from bmi_decoder.experiment import evaluate_decoder, load_config, read_decodable
from bmi_decoder.preprocess import prepare_session
from snn_core.atomic import write_text_atomic

# the training settings tried, each against the decoder's defaults (issue 24's candidates)
VARIANTS: dict[str, dict] = {
    "as trained": {"weight_average": 0.0},
    "average 0.99": {"weight_average": 0.99},
    "average 0.998": {"weight_average": 0.998},
    "lr / 2": {"weight_average": 0.0, "lr": 5e-4},
    "batch x 4": {"weight_average": 0.0, "batch_size": 32},
    "burn-in 64": {"weight_average": 0.0, "burn_in_bins": 64},
}
SETTLED = 5  # epochs after which every variant has done most of its climb


def spread(curve: list[float], settled: int = SETTLED) -> float:
    """Mean absolute change of validation R2 between consecutive epochs from epoch ``settled`` on."""
    tail = np.asarray(curve[settled - 1 :], dtype=float)
    return float(np.abs(np.diff(tail)).mean()) if len(tail) > 1 else float("nan")


def fit(path: str, variant: str) -> dict:
    """One fit of a member of the default SNN decoder with ``variant``'s settings (one torch thread)."""
    torch.set_num_threads(1)
    config = load_config(None)
    session = prepare_session(read_decodable(path, config), config.preprocessing)
    decoder = make_decoder("snn", ensemble=1, **VARIANTS[variant], progress=False)
    result = evaluate_decoder(decoder, session, Path(path).stem)
    curve = [round(float(v), 4) for v in decoder.validation_r2_]
    return {
        "session": result.session,
        "variant": variant,
        "settings": VARIANTS[variant],
        "validation_r2": curve,
        "spread": round(spread(curve), 4),
        "best_validation_r2": max(curve),
        "test_r2": round(float(result.r2), 4),
        "epochs": len(curve),
        "fit_seconds": round(float(result.fit_seconds), 1),
    }


def se(values: np.ndarray) -> float:
    """Standard error of the mean (0 for a single value)."""
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def summary(rows: list[dict], variants: list[str]) -> list[dict]:
    """Per variant: mean (and s.e.) over sessions of the spread, the test R2 and the fit time."""
    out = []
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        if not mine:
            continue
        spreads, tests = np.array([r["spread"] for r in mine]), np.array([r["test_r2"] for r in mine])
        out.append(
            {
                "variant": variant,
                "settings": VARIANTS[variant],
                "sessions": len(mine),
                "spread_mean": float(spreads.mean()),
                "spread_se": se(spreads),
                "test_r2_mean": float(tests.mean()),
                "test_r2_se": se(tests),
                "epochs_mean": float(np.mean([r["epochs"] for r in mine])),
                "fit_seconds_mean": float(np.mean([r["fit_seconds"] for r in mine])),
            }
        )
    return out


def plot(rows: list[dict], variants: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sessions = list(dict.fromkeys(r["session"] for r in rows))
    fig, axes = plt.subplots(1, len(sessions), figsize=(3.6 * len(sessions), 3.4), sharey=True, squeeze=False)
    for ax, session in zip(axes[0], sessions):
        for variant in variants:
            for r in (r for r in rows if r["session"] == session and r["variant"] == variant):
                ax.plot(range(1, r["epochs"] + 1), r["validation_r2"], marker=".", ms=3, label=variant)
        ax.set(title=session, xlabel="epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0][0].set_ylabel("validation R2")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle("a member of the default SNN decoder: validation R2 per epoch, by training variant")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=count, default=5, help="the first N sessions of decoder_comparison (default 5)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="VARIANT")
    parser.add_argument("--jobs", type=count, default=2, help="fits run at once, one torch thread each")
    parser.add_argument("--out", type=Path, default=Path("runs/decoder_comparison"))
    parser.add_argument("--figure", type=Path, help="write the validation curves here")
    add_json_argument(parser, "training_stability")
    args = parser.parse_args(argv)
    if not check_json(args.json, "training_stability"):
        return 2
    facts = run_facts("training_stability.py", argv)

    paths = simulated_sessions(args.out, SESSIONS[: args.sessions])
    store = args.out / "training_stability.json"
    results = json.loads(store.read_text())["results"] if store.exists() else []
    done = {(r["session"], r["variant"], json.dumps(r["settings"])) for r in results}
    todo = [(p, v) for p in paths for v in args.variants if (Path(p).stem, v, json.dumps(VARIANTS[v])) not in done]
    with one_thread_workers(args.jobs) as pool:
        for future in as_completed([pool.submit(fit, p, v) for p, v in todo]):
            results.append(future.result())
            write_text_atomic(store, json.dumps({"results": results}, indent=1) + "\n")
            r = results[-1]
            print(f"{r['session']} {r['variant']}: spread {r['spread']:.3f}, test {r['test_r2']:.3f}", flush=True)

    stems = [Path(p).stem for p in paths]
    rows = sorted(
        (
            r
            for r in results
            if r["session"] in stems and r["variant"] in args.variants and r["settings"] == VARIANTS[r["variant"]]
        ),
        key=lambda r: (stems.index(r["session"]), args.variants.index(r["variant"])),
    )
    table = summary(rows, args.variants)
    print("\n| variant | spread (mean +- s.e.) | test R2 (mean +- s.e.) | epochs | fit (s) |")
    print("|---|---|---|---|---|")
    for s in table:
        print(
            f"| {s['variant']} | {s['spread_mean']:.3f} +- {s['spread_se']:.3f} | {s['test_r2_mean']:.3f} +- "
            f"{s['test_r2_se']:.3f} | {s['epochs_mean']:.1f} | {s['fit_seconds_mean']:.1f} |"
        )
    if args.figure:
        plot(rows, args.variants, args.figure)
    write_json(args.json, facts, {"settled_epoch": SETTLED, "summary": table, "results": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
