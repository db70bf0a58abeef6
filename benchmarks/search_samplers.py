"""Skip-topology search: TPE and Gaussian-process BO vs random search on the SNN decoder (claim 4).

Benmeziane et al. (2023) report that Bayesian optimisation finds better skip topologies than
random search, in fewer iterations and more stably (docs/data.md, claim 4). On one simulated session,
this benchmark first trains the SNN decoder once for every topology of a 3-layer block (27 of
them; validation R2, cached in OUT/landscape.json). Since a fit is deterministic given its seed,
the score of a topology is the same whichever sampler asks for it, so every sampler then runs
``snn_core.search.run_search`` against that table with the same trial budget, repeated over
several search seeds, and the benchmark prints the mean best validation R2 after each trial.
TPE and GP draw their start-up trials from a random sampler of the same seed, so the three
samplers share their first trials and differ only from where the model takes over.

    python benchmarks/search_samplers.py [--trials 12] [--search-seeds 20] [--seconds 300]
        [--hidden 32 32 32] [--epochs 5] [--lr 0.005] [--out runs/search_samplers]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import optuna
from matplotlib.figure import Figure
from tqdm import tqdm

from bmi_decoder.cli import main as bmi_decoder
from bmi_decoder.decoders import SNNDecoder
from bmi_decoder.evaluation import r2_score
from bmi_decoder.io import read_recording
from bmi_decoder.preprocess import prepare_session
from snn_core.atomic import atomic_path, write_text_atomic
from snn_core.search import SAMPLERS, best_so_far, run_search
from snn_core.topology import SkipTopology


def landscape(session_file: Path, settings: dict, cache: Path) -> dict[str, float]:
    """Validation R2 of every topology of one block, trained with ``settings`` (cached)."""
    if cache.exists():
        saved = json.loads(cache.read_text())
        if saved["settings"] == settings:
            return saved["r2"]
    session = prepare_session(read_recording(session_file))
    X_val, y_val = session.split("val")
    n = len(settings["hidden"])
    scores = {}
    for digits in tqdm(list(itertools.product("012", repeat=n * (n - 1) // 2)), desc="landscape", unit="topology"):
        topology = str(SkipTopology.from_string(f"{n}-{''.join(digits)}"))
        decoder = SNNDecoder(topology=topology, progress=False, **settings).fit(*session.split("train"), X_val, y_val)
        scores[topology] = r2_score(y_val, decoder.predict(X_val))
    write_text_atomic(cache, json.dumps({"settings": settings, "r2": scores}, indent=1) + "\n")
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--search-seeds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 32, 32])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--out", type=Path, default=Path("runs/search_samplers"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    session_file = args.out / f"sim_{args.seconds:.0f}s_seed0.mat"
    if not session_file.exists():
        bmi_decoder(["synth", str(session_file), "--seconds", str(args.seconds), "--seed", "0"])
    settings = {"hidden": args.hidden, "max_epochs": args.epochs, "lr": args.lr, "seed": 0}
    start = time.perf_counter()
    scores = landscape(session_file, settings, args.out / "landscape.json")
    ranked = sorted(scores, key=scores.get, reverse=True)
    print(
        f"landscape: {len(scores)} topologies in {time.perf_counter() - start:.0f} s; best {ranked[0]} "
        f"{scores[ranked[0]]:.3f}, median {np.median(list(scores.values())):.3f}, worst {ranked[-1]} {scores[ranked[-1]]:.3f}"
    )

    curves: dict[str, np.ndarray] = {}
    for sampler in SAMPLERS:
        start = time.perf_counter()
        runs = [
            best_so_far(
                run_search(
                    lambda t: scores[str(t)], [len(args.hidden)], sampler, args.trials, seed, study_name=f"{sampler}-{seed}"
                )
            )
            for seed in range(args.search_seeds)
        ]
        curves[sampler] = np.array(runs)
        found = [int(np.argmax(np.isclose(r, scores[ranked[0]]))) + 1 for r in runs if np.isclose(r[-1], scores[ranked[0]])]
        print(
            f"{sampler:6s}: best topology found in {len(found)} of {args.search_seeds} searches"
            f"{f', after {np.mean(found):.1f} trials on average' if found else ''} ({time.perf_counter() - start:.0f} s of sampling)"
        )

    print(f"\nmean (min) best validation R2 after each trial, over {args.search_seeds} search seeds")
    print("trial  " + "  ".join(f"{s:>15s}" for s in SAMPLERS))
    for k in range(args.trials):
        print(f"{k + 1:5d}  " + "  ".join(f"{c[:, k].mean():7.3f} ({c[:, k].min():.3f})" for c in curves.values()))

    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    for sampler, c in curves.items():
        ax.plot(np.arange(1, args.trials + 1), c.mean(axis=0), marker="o", label=sampler)
    ax.axhline(scores[ranked[0]], color="grey", linestyle=":", label=f"best of all ({ranked[0]})")
    ax.set(xlabel="trial", ylabel="best validation R2 so far", title="skip-topology search, SNN decoder")
    ax.legend()
    fig.tight_layout()
    with atomic_path(args.out / "search_samplers.png") as tmp:
        fig.savefig(tmp, dpi=120)
    result = {
        "settings": settings,
        "trials": args.trials,
        "landscape": scores,
        "best_so_far": {s: c.tolist() for s, c in curves.items()},
    }
    write_text_atomic(args.out / "search_samplers.json", json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
