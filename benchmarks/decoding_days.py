"""Decoding across a simulated month: fixed decoders' R2 decay and what recalibration recovers.

For each simulation seed, one monkey is recorded on days 0, 1, 2, 4, 7, 14, 21 and 30 (``synth
--days``); every decoder is fitted on day 0 and scored on the other days by ``evaluate-days``'s
protocol (:mod:`bmi_decoder.across_days`). The rows of all seeds go to one JSON file, with the
per-seed ratio of each method's R2 to the within-day R2 summarised as mean and range over seeds.

    python benchmarks/decoding_days.py [--seeds 0 1 2] [--seconds 600] [--decoders wiener,kalman,snn,snn_small,gru,ann]
        [--out docs/results/decoding_days.json]

The SNN's topology question (``3-000``, the default ``3-111``, the ASC ``3-222``) is a
``--config`` away: a TOML with ``[decoders.snn] topology = "3-000"``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from bmi_decoder.across_days import CALIBRATION_S, check_sessions, evaluate_days
from bmi_decoder.experiment import load_config, parse_decoder_names
from bmi_decoder.io import write_mat
from bmi_decoder.recalibration import METHODS
from bmi_decoder.simulate_days import NOTE, simulate_days
from snn_core.atomic import write_text_atomic

MONTH = (0, 1, 2, 4, 7, 14, 21, 30)


def month_rows(seed: int, seconds: float, decoders: list[str], config_path: Path | None) -> list[dict]:
    """The protocol's rows for one simulated month, trained on day 0."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for day in simulate_days(MONTH, seconds, seed=seed):
            path = Path(folder) / f"{day.name}.mat"
            write_mat(day.session.recording, path, outside_spikes=day.session.outside_spikes, notes={NOTE: day.note()})
            paths.append(path)
        config = load_config(config_path, seed)
        sessions = check_sessions(paths[:1], paths[1:], CALIBRATION_S, config)
        rows = evaluate_days(sessions, decoders, list(METHODS), config, CALIBRATION_S)
    return [{**row, "simulation_seed": seed} for row in rows]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="simulation seeds (default: 0 1 2)")
    parser.add_argument("--seconds", type=float, default=600.0, help="nominal session length (default: 600)")
    parser.add_argument("--decoders", default="wiener,kalman,snn,snn_small,gru,ann", help="comma-separated decoders")
    parser.add_argument("--config", type=Path, help="TOML experiment config (decoder settings, e.g. the SNN topology)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/decoding_days.json"), help="JSON to write")
    args = parser.parse_args()
    decoders = parse_decoder_names(args.decoders)
    rows = [row for seed in args.seeds for row in month_rows(seed, args.seconds, decoders, args.config)]
    report = {"days": list(MONTH), "seconds": args.seconds, "seeds": args.seeds, "summary": summary(rows), "results": rows}
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
    for s in summary(rows):
        if s["calibration_s"] in (0.0, 60.0):
            print(
                f"{s['decoder']:9s} {s['method']:8s} {s['calibration_s']:4.0f} s day {s['days']:2d}: "
                f"{s['ratio_mean']:.2f} of within-day R2 ({s['ratio_min']:.2f} to {s['ratio_max']:.2f})"
            )


if __name__ == "__main__":
    main()
