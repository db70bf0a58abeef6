"""Decoder quality and cost over several simulated sessions: the SNNs against the GRU and the linear decoders.

Writes one simulated 96-channel session per seed in the Zenodo .mat layout, then runs exactly
what a user runs, ``bmi-decoder evaluate``, over all of them with the default decoder settings
(no --config). It prints one table: each decoder's test R2 per session and, over the sessions, its mean
+- standard error with its footprint, effective operations and energy per 4 ms step, and the
three checks of the SNN decoders against the GRU and the Wiener filter; ``--figure`` writes the
R2-vs-energy Pareto figure of :func:`bmi_decoder.report.plot_pareto`.

    python benchmarks/decoder_comparison.py [--seeds 0 1 2] [--seconds 600]
        [--decoders snn,snn_small,kalman,wiener,ann,gru] [--out runs/decoder_comparison]
        [--threads 1] [--figure docs/img/bmi_decoders_pareto.png]

``--reports A/report.json B/report.json`` tabulates the rows of earlier ``evaluate`` runs on the
same sessions instead (decoders fitted in separate runs score the same: every fit is seeded
on its own).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from bmi_decoder.cli import main as bmi_decoder
from bmi_decoder.report import decoder_summary, plot_pareto

DECODERS = "snn,snn_small,kalman,wiener,ann,gru"


def simulated_sessions(out: Path, seeds: list[int], seconds: float) -> list[str]:
    """The benchmark's session files in ``out``, one per seed, simulated where missing."""
    files = []
    for seed in seeds:
        path = out / f"sim_{seconds:.0f}s_seed{seed}.mat"
        if not path.exists():
            bmi_decoder(["synth", str(path), "--seconds", str(seconds), "--seed", str(seed)])
        files.append(str(path))
    return files


def run(args: argparse.Namespace) -> list[dict]:
    """Simulate the sessions that are missing, evaluate every decoder on them; the report rows."""
    files = simulated_sessions(args.out, args.seeds, args.seconds)
    bmi_decoder(["evaluate", *files, "--decoders", args.decoders, "--out", str(args.out)])
    return json.loads((args.out / "report.json").read_text())["results"]


def checks(summary: dict[str, dict]) -> list[str]:
    """Issue 11's three checks, where the decoders they compare were run."""
    lines = []
    if {"snn", "gru"} <= summary.keys():
        ok = summary["snn"]["r2_mean"] >= summary["gru"]["r2_mean"] - 0.02
        lines.append(f"snn mean R2 >= gru's - 0.02: {'yes' if ok else 'no'}")
    if {"snn_small", "wiener"} <= summary.keys():
        small = summary["snn_small"]
        ok = small["r2_mean"] >= summary["wiener"]["r2_mean"] + 0.05
        lines.append(f"snn_small mean R2 >= wiener's + 0.05: {'yes' if ok else 'no'}")
        lines.append(f"snn_small <= 30 KB: {'yes' if small['footprint_bytes'] <= 30 * 1024 else 'no'}")
        lines.append(f"snn_small <= 1,000 effective ACs per step: {'yes' if small['effective_acs'] <= 1000 else 'no'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--decoders", default=DECODERS)
    parser.add_argument("--out", type=Path, default=Path("runs/decoder_comparison"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--reports", type=Path, nargs="+", help="tabulate these report.json files instead of running")
    parser.add_argument("--figure", type=Path, help="write the R2-vs-energy Pareto figure here")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    rows = [row for path in args.reports for row in json.loads(path.read_text())["results"]] if args.reports else run(args)
    sessions = list(dict.fromkeys(r["session"] for r in rows))
    r2 = {(r["session"], r["decoder"]): r["r2"] for r in rows}
    summary = {s["decoder"]: s for s in decoder_summary(rows)}
    print(
        "\n| decoder | "
        + " | ".join(sessions)
        + " | test R2 (mean +- s.e.) | footprint (KB) | eff. ACs/step | eff. MACs/step | energy (pJ/step) |"
    )
    print("|---|" + "---|" * (len(sessions) + 5))
    for s in sorted(summary.values(), key=lambda s: -s["r2_mean"]):
        per_session = " | ".join(
            f"{r2[(session, s['decoder'])]:.3f}" if (session, s["decoder"]) in r2 else "-" for session in sessions
        )
        print(
            f"| {s['decoder']} | {per_session} | {s['r2_mean']:.3f} +- {s['r2_se']:.3f} | {s['footprint_bytes'] / 1024:.1f} | "
            f"{s['effective_acs']:,.0f} | {s['effective_macs']:,.0f} | {s['energy_pj_per_step']:,.0f} |"
        )
    print("\n" + "\n".join(checks(summary)))
    if args.figure is not None:
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        plot_pareto(rows, args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
