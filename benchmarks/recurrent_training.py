"""Recurrent SNN training with and without BPTT through the recurrent spikes: validation R2 per epoch.

The tinyRSNN-like recurrent variant of the small SNN decoder (``SmallSNNDecoder(hidden=[24, 24],
topology="2-1", recurrent=True)``, 25.1 KB) is fitted on each simulated session of
``benchmarks/decoder_comparison.py`` (simulated here when missing), once per value of its
``recurrent_grad``: 1 is full BPTT, 0 (the default) stops the gradient at the recurrent input
(:class:`snn_core.network.NetworkSpec`). The other settings are pinned to ``snn_small``'s
defaults when the results page was measured (:data:`PAGE_DEFAULTS`), so that its command
reproduces it; the NeuroBench split is the one ``bmi-decoder evaluate`` uses.

For every fit it prints the validation R2 after each epoch, the worst fall of an epoch below the
best R2 reached before it (what "unstable" means here: an epoch that undoes what earlier epochs
learned), and the test R2 of the weights early stopping kept. Results go to ``--out``'s
``recurrent_training.json`` as each fit ends; a rerun skips the fits found there, so an
interrupted run resumes. The fits asked for go, with the command, to ``--json``, which
``benchmarks/results_pages.py`` renders (docs/results/recurrent_training.md); ``--figure`` plots
the validation curves.

    python benchmarks/recurrent_training.py [--seeds 0 1 2] [--seconds 600] [--grads 1 0]
        [--jobs 2] [--out runs/decoder_comparison] [--figure docs/img/recurrent_training.png]
        [--json docs/results/recurrent_training.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import as_completed
from pathlib import Path

import numpy as np
import torch
from decoder_comparison import simulated_sessions
from results_json import add_json_argument, check_json, count, run_facts, write_json
from worker_pool import one_thread_workers

from bmi_decoder.decoders import make_decoder
from bmi_decoder.experiment import evaluate_decoder, load_config, read_decodable
from bmi_decoder.preprocess import prepare_session
from snn_core.atomic import write_text_atomic
from snn_core.cli import seed as seed_type

TINY_RSNN = {"hidden": [24, 24], "topology": "2-1", "recurrent": True}
# snn_small's defaults of the time the page was measured: no synaptic-operation budget, the
# initial gain and membrane decay, epochs and patience before the defaults' rerun (issue 24).
PAGE_DEFAULTS = {"synop_budget": 0.0, "weight_gain": 3.0, "beta": 0.98, "max_epochs": 30, "patience": 10}


def worst_fall(curve: list[float]) -> float:
    """The largest drop of an epoch's validation R2 below the best of the epochs before it."""
    if len(curve) < 2:
        return 0.0
    best_before = np.maximum.accumulate(curve)[:-1]
    return float(max(0.0, (best_before - np.asarray(curve[1:])).max()))


def fit(path: str, grad: float) -> dict:
    """One fit of the recurrent variant on one session (run in a worker process, one torch thread)."""
    torch.set_num_threads(1)
    config = load_config(None)
    session = prepare_session(read_decodable(path, config), config.preprocessing)
    decoder = make_decoder("snn_small", **PAGE_DEFAULTS, **TINY_RSNN, recurrent_grad=grad, progress=False)
    result = evaluate_decoder(decoder, session, Path(path).stem)
    curve = [round(float(v), 4) for v in decoder.validation_r2_]
    return {
        "session": result.session,
        "recurrent_grad": grad,
        "validation_r2": curve,
        "best_validation_r2": max(curve),
        "worst_fall": round(worst_fall(curve), 4),
        "test_r2": round(float(result.r2), 4),
        "epochs": len(curve),
        "fit_seconds": round(float(result.fit_seconds), 1),
    }


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sessions = sorted({r["session"] for r in results})
    fig, axes = plt.subplots(1, len(sessions), figsize=(4.2 * len(sessions), 3.4), sharey=True, squeeze=False)
    for ax, session in zip(axes[0], sessions):
        for r in sorted((r for r in results if r["session"] == session), key=lambda r: -r["recurrent_grad"]):
            label = "full BPTT (recurrent_grad = 1)" if r["recurrent_grad"] == 1 else f"recurrent_grad = {r['recurrent_grad']:g}"
            ax.plot(range(1, r["epochs"] + 1), r["validation_r2"], marker=".", label=f"{label}: test {r['test_r2']:.2f}")
        ax.set(title=session, xlabel="epoch", ylim=(-1.0, 1.3))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(fontsize=7, loc="upper center")
    axes[0][0].set_ylabel("validation R2 (below -1 clipped)")
    fig.suptitle("recurrent SNN, 2 x 24 LIF: validation R2 per epoch")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seed_type, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--grads", type=float, nargs="+", default=[1.0, 0.0], help="values of recurrent_grad")
    parser.add_argument("--jobs", type=count, default=2, help="fits run at once, one torch thread each")
    parser.add_argument("--out", type=Path, default=Path("runs/decoder_comparison"))
    parser.add_argument("--figure", type=Path, help="write the validation curves here")
    add_json_argument(parser, "recurrent_training")
    args = parser.parse_args(argv)
    if not check_json(args.json, "recurrent_training"):
        return 2
    facts = run_facts("recurrent_training.py", argv)

    paths = simulated_sessions(args.out, [(seed, 96, args.seconds) for seed in args.seeds])
    store = args.out / "recurrent_training.json"
    results = json.loads(store.read_text())["results"] if store.exists() else []
    done = {(r["session"], r["recurrent_grad"]) for r in results}
    todo = [(p, g) for p in paths for g in args.grads if (Path(p).stem, g) not in done]
    with one_thread_workers(args.jobs) as pool:
        for future in as_completed([pool.submit(fit, p, g) for p, g in todo]):
            results.append(future.result())
            write_text_atomic(store, json.dumps({"model": TINY_RSNN, "results": results}, indent=1) + "\n")
            r = results[-1]
            print(f"{r['session']} recurrent_grad={r['recurrent_grad']:g}: validation {r['validation_r2']}", flush=True)

    wanted = {(Path(p).stem, g) for p in paths for g in args.grads}
    rows = sorted(
        (r for r in results if (r["session"], r["recurrent_grad"]) in wanted), key=lambda r: (r["session"], -r["recurrent_grad"])
    )
    print("\n| session | recurrent_grad | best validation R2 | worst fall | test R2 | epochs | fit (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['session']} | {r['recurrent_grad']:g} | {r['best_validation_r2']:.3f} | {r['worst_fall']:.3f} "
            f"| {r['test_r2']:.3f} | {r['epochs']} | {r['fit_seconds']:.0f} |"
        )
    for g in args.grads:
        tests = [r["test_r2"] for r in rows if r["recurrent_grad"] == g]
        print(f"recurrent_grad={g:g}: mean test R2 {np.mean(tests):.3f} over {len(tests)} sessions")
    if args.figure:
        plot(rows, args.figure)
    write_json(args.json, facts, {"seconds": args.seconds, "model": TINY_RSNN, "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
