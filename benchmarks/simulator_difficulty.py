"""How hard simulated sessions are to decode: an independent ridge Wiener filter's test R2.

The yardstick is the classical linear decoder (Glaser et al. 2020, "Machine learning for neural
decoding"): velocity regressed on the spike counts of each channel in the last 10 bins of 20 ms,
in plain NumPy (none of the project's decoders), with the ridge strength chosen on the validation
split and R2 measured on the test split (the NeuroBench chronological 50/25/25 split by reach).

    python benchmarks/simulator_difficulty.py [--seconds 600] [--seeds 0 1 2] [--json docs/results/simulator_difficulty.json]

The R2 values go to ``--json`` with the command; ``benchmarks/results_pages.py`` renders them
(docs/results/simulator_difficulty.md).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from results_json import add_json_argument, check_json, run_facts, write_json

from bmi_decoder.evaluation import r2_score
from bmi_decoder.preprocess import Preprocessing, prepare_session
from bmi_decoder.simulate import SIMULATOR_VERSION, simulate_session
from snn_core.cli import seed as seed_type

ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # relative to the mean diagonal of the Gram matrix


def ridge_wiener_r2(seconds: float, seed: int, bin_width: float = 0.02, taps: int = 10) -> tuple[float, float]:
    """(test R2, train R2) of the ridge Wiener filter on one simulated session."""
    prep = prepare_session(simulate_session(seconds, seed=seed).recording, Preprocessing(bin_width, "count"))
    X = prep.features.astype(np.float64)
    T, F = X.shape
    history = np.zeros((T, taps * F + 1))
    history[:, -1] = 1.0
    for k in range(taps):
        history[k:, k * F : (k + 1) * F] = X[: T - k]
    y = prep.velocity.astype(np.float64)
    gram, cross = history[prep.train].T @ history[prep.train], history[prep.train].T @ y[prep.train]
    scale = np.trace(gram) / len(gram)
    fits = [np.linalg.solve(gram + a * scale * np.eye(len(gram)), cross) for a in ALPHAS]
    best = max(fits, key=lambda w: r2_score(y[prep.val], history[prep.val] @ w))
    return r2_score(y[prep.test], history[prep.test] @ best), r2_score(y[prep.train], history[prep.train] @ best)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="session length (default: 600)")
    parser.add_argument("--seeds", type=seed_type, nargs="+", default=[0, 1, 2], help="simulator seeds (default: 0 1 2)")
    add_json_argument(parser, "simulator_difficulty")
    args = parser.parse_args(argv)
    if not check_json(args.json, "simulator_difficulty"):
        return 2
    facts = run_facts("simulator_difficulty.py", argv)
    print(f"simulator version {SIMULATOR_VERSION}, {args.seconds:.0f} s sessions, ridge Wiener 20 ms x 10 taps")
    sessions = []
    for seed in args.seeds:
        test, train = ridge_wiener_r2(args.seconds, seed)
        sessions.append({"seed": seed, "test_r2": float(test), "train_r2": float(train)})
        print(f"seed {seed}: test R2 {test:.3f} (train {train:.3f})", flush=True)
    mean = float(np.mean([s["test_r2"] for s in sessions]))
    print(f"mean test R2 {mean:.3f}")
    report = {
        "simulator_version": SIMULATOR_VERSION,
        "seconds": args.seconds,
        "decoder": "ridge Wiener filter, 20 ms bins x 10 taps, ridge strength chosen on validation",
        "sessions": sessions,
        "mean_test_r2": mean,
    }
    write_json(args.json, facts, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
