"""How the SNN decoders' defaults were chosen: their settings varied over the ten comparison sessions.

Each candidate (:data:`CANDIDATES`) is a decoder's defaults, or a config's settings, with a few
changed. It is fitted on every session of ``benchmarks/decoder_comparison.py`` (simulated when
missing; one torch thread a fit, ``--jobs`` at once) and scored as ``bmi-decoder evaluate``
scores it, on the NeuroBench split. The choice reads the mean validation R2 (the best epoch's;
an ensemble's one score), except for the moving average of the weights, which the default
keeps for stable training (docs/results/training_stability.md) at a small cost in it; the test
R2, the effective synaptic operations per step on the test segment and the fit time are
recorded beside it. Fits are stored in ``--out``'s
``snn_defaults.json`` as they end, so an interrupted run resumes; ``--json`` gets the summary
for docs/results/snn_defaults.md.

    python benchmarks/snn_defaults.py [--candidates "defaults" "weights as trained" ...] [--jobs 2]
        [--out runs/decoder_comparison] [--json docs/results/snn_defaults.json]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import as_completed
from pathlib import Path

import numpy as np
import torch
from decoder_comparison import SESSIONS, simulated_sessions
from results_json import add_json_argument, check_json, count, run_facts, write_json
from training_stability import se
from worker_pool import one_thread_workers

from bmi_decoder.evaluation import r2_score
from bmi_decoder.experiment import load_config, read_decodable
from bmi_decoder.preprocess import prepare_session
from snn_core.atomic import write_text_atomic

WIDE = "configs/bmi_snn_wide.toml"  # the snn defaults before this comparison: one 128-wide block
# label -> (decoder, config file or None for the defaults, settings changed)
AS_TRAINED = {"weight_average": 0.0}  # the weights as trained, the snn default's average off
CANDIDATES: dict[str, tuple[str, str | None, dict]] = {
    "defaults": ("snn", None, {}),
    "weights as trained": ("snn", None, {**AS_TRAINED}),
    "as trained, beta 0.98": ("snn", None, {**AS_TRAINED, "beta": 0.98}),
    "as trained, beta 0.93": ("snn", None, {**AS_TRAINED, "beta": 0.93}),
    "as trained, beta 0.90": ("snn", None, {**AS_TRAINED, "beta": 0.9}),
    "as trained, beta 0.98, readout 0.90": ("snn", None, {**AS_TRAINED, "beta": 0.98, "readout_beta": 0.9}),
    "as trained, beta 0.98, readout 0.98": ("snn", None, {**AS_TRAINED, "beta": 0.98, "readout_beta": 0.98}),
    "as trained, beta 0.98, chunks of 64": ("snn", None, {**AS_TRAINED, "beta": 0.98, "chunk_bins": 64}),
    "as trained, beta 0.98, chunks of 256": ("snn", None, {**AS_TRAINED, "beta": 0.98, "chunk_bins": 256, "burn_in_bins": 32}),
    "as trained, beta 0.98, 8 members": ("snn", None, {**AS_TRAINED, "beta": 0.98, "ensemble": 8}),
    "one block of 128, beta 0.95": ("snn", WIDE, {"beta": 0.95}),
    "one block of 64, beta 0.95": ("snn", WIDE, {"beta": 0.95, "hidden": [64, 64, 64]}),
    "snn_small defaults": ("snn_small", None, {}),
    "snn_small, beta 0.98": ("snn_small", None, {"beta": 0.98}),
}


def fit(path: str, label: str) -> dict:
    """One fit of candidate ``label`` on the session at ``path`` (one torch thread)."""
    torch.set_num_threads(1)
    name, config_path, settings = CANDIDATES[label]
    config = load_config(config_path)
    session = prepare_session(read_decodable(path, config), config.preprocessing)
    decoder = config.decoder(name).set_params(progress=False, **settings)
    start = time.perf_counter()
    decoder.fit(*session.split("train"), *session.split("val"))
    seconds = time.perf_counter() - start
    X_test, y_test = session.split("test")
    return {
        "session": Path(path).stem,
        "candidate": label,
        "decoder": name,
        "config": config_path,
        "settings": settings,
        "validation_r2": round(float(max(decoder.validation_r2_)), 4),
        "test_r2": round(float(r2_score(y_test, decoder.predict(X_test))), 4),
        "effective_acs": round(float(decoder.cost(X_test).synops.effective_acs)),
        "fit_seconds": round(seconds, 1),
    }


def summary(rows: list[dict], labels: list[str]) -> list[dict]:
    """Per candidate: mean (and s.e.) over sessions of validation and test R2, mean ACs and fit time."""
    out = []
    for label in labels:
        mine = [r for r in rows if r["candidate"] == label]
        if not mine:
            continue
        val, test = np.array([r["validation_r2"] for r in mine]), np.array([r["test_r2"] for r in mine])
        name, config_path, settings = CANDIDATES[label]
        out.append(
            {
                "candidate": label,
                "decoder": name,
                "config": config_path,
                "settings": settings,
                "sessions": len(mine),
                "validation_r2_mean": float(val.mean()),
                "validation_r2_se": se(val),
                "test_r2_mean": float(test.mean()),
                "test_r2_se": se(test),
                "effective_acs_mean": float(np.mean([r["effective_acs"] for r in mine])),
                "fit_seconds_mean": float(np.mean([r["fit_seconds"] for r in mine])),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES), metavar="LABEL")
    parser.add_argument("--jobs", type=count, default=2, help="fits run at once, one torch thread each")
    parser.add_argument("--out", type=Path, default=Path("runs/decoder_comparison"))
    add_json_argument(parser, "snn_defaults")
    args = parser.parse_args(argv)
    if not check_json(args.json, "snn_defaults"):
        return 2
    facts = run_facts("snn_defaults.py", argv)

    paths = simulated_sessions(args.out, SESSIONS)
    store = args.out / "snn_defaults.json"
    results = json.loads(store.read_text())["results"] if store.exists() else []

    def key(session: str, label: str) -> str:  # a candidate whose settings changed is fitted anew
        return json.dumps([session, label, CANDIDATES[label][0], CANDIDATES[label][1], CANDIDATES[label][2]])

    done = {key(r["session"], r["candidate"]) for r in results if r["candidate"] in CANDIDATES}
    todo = [(p, c) for c in args.candidates for p in paths if key(Path(p).stem, c) not in done]
    with one_thread_workers(args.jobs) as pool:
        for future in as_completed([pool.submit(fit, p, c) for p, c in todo]):
            results.append(future.result())
            write_text_atomic(store, json.dumps({"results": results}, indent=1) + "\n")
            r = results[-1]
            print(f"{r['session']} {r['candidate']}: validation {r['validation_r2']:.3f}, test {r['test_r2']:.3f}", flush=True)

    stems = [Path(p).stem for p in paths]
    current = {key(s, c) for s in stems for c in args.candidates}
    rows = sorted(
        (r for r in results if r["candidate"] in CANDIDATES and key(r["session"], r["candidate"]) in current),
        key=lambda r: (args.candidates.index(r["candidate"]), stems.index(r["session"])),
    )
    table = summary(rows, args.candidates)
    print("\n| candidate | validation R2 | test R2 | ACs/step | fit (s) |\n|---|---|---|---|---|")
    for s in table:
        print(
            f"| {s['candidate']} | {s['validation_r2_mean']:.3f} +- {s['validation_r2_se']:.3f} | "
            f"{s['test_r2_mean']:.3f} +- {s['test_r2_se']:.3f} | {s['effective_acs_mean']:,.0f} | {s['fit_seconds_mean']:.1f} |"
        )
    write_json(args.json, facts, {"summary": table, "results": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
