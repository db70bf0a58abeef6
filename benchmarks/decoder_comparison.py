"""Decoder quality and cost over ten simulated sessions: the SNNs against the GRU and the linear decoders.

Simulates the ten sessions of :data:`SESSIONS` (varied in seed, array and length) in the Zenodo
.mat layout, then runs exactly what a user runs, ``bmi-decoder evaluate``, on each with the
default decoder settings (no --config), one process per session. ``--variant LABEL=CONFIG``
evaluates the SNN decoders the config file sets (its ``[decoders.snn]`` and
``[decoders.snn_small]`` tables, e.g. ``configs/bmi_snn_auto.toml``) again with it and lists them
as ``snn (LABEL)`` and ``snn_small (LABEL)``. It prints each decoder's test R2 per session and, over the sessions, its mean +- s.e.
with its footprint, effective operations and energy per 4 ms step, and the checks of issue 24:
the SNN at or above the GRU on at least 8 sessions in 10, its mean at least the GRU's + 0.02, never
below the Wiener filter; ``snn_small`` at least Wiener + 0.03 on every session within 30 KB and 500
effective ACs per step. ``--json`` gets it all for docs/results/decoder_comparison.md, ``--figure``
the per-session differences to the GRU and ``--pareto`` the R2-vs-energy figure.

    python benchmarks/decoder_comparison.py [--sessions 10] [--decoders snn,snn_small,...]
        [--variant LABEL=CONFIG ...] [--jobs 2] [--out runs/decoder_comparison]
        [--figure docs/img/decoder_comparison.png] [--pareto docs/img/bmi_decoders_pareto.png]

Each session's report is kept in ``--out``; a rerun evaluates only what is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import torch
from results_json import add_json_argument, check_json, count, run_facts, write_json
from worker_pool import one_thread_workers

from bmi_decoder.cli import main as bmi_decoder
from bmi_decoder.report import decoder_summary, plot_pareto

DECODERS = "snn,snn_small,kalman,wiener,ann,gru"
# issue 24's bars for the small preset: a neuromorphic core's memory and operations per step
SMALL_BYTES, SMALL_ACS = 30 * 1024, 500


# Ten simulated sessions of varied difficulty (issue 24): seeds, the 96-channel M1 array and the
# 192-channel M1 + S1 pair (docs/data.md: Indy and Loco), and lengths of 300 to 900 s, the span
# of most Zenodo sessions. (seed, channels, seconds).
SESSIONS: list[tuple[int, int, float]] = [
    (0, 96, 600.0),
    (1, 96, 600.0),
    (2, 96, 600.0),
    (3, 192, 600.0),
    (4, 96, 300.0),
    (5, 192, 900.0),
    (6, 96, 900.0),
    (7, 192, 300.0),
    (8, 96, 450.0),
    (9, 192, 750.0),
]


def simulated_sessions(out: Path, sessions: list[tuple[int, int, float]]) -> list[str]:
    """The benchmark's session files in ``out``, one per (seed, channels, seconds), simulated where missing."""
    files = []
    for seed, channels, seconds in sessions:
        suffix = "" if channels == 96 else f"_{channels}ch"
        path = out / f"sim_{seconds:.0f}s_seed{seed}{suffix}.mat"
        if not path.exists():
            bmi_decoder(["synth", str(path), "--seconds", str(seconds), "--seed", str(seed), "--channels", str(channels)])
        files.append(str(path))
    return files


def evaluate(path: str, decoder: str, out: Path, config: str | None) -> Path:
    """``bmi-decoder evaluate`` of one decoder on one session into ``out`` (one torch thread),
    unless done: every fit is seeded on its own, so fits in separate runs score as in one."""
    report = out / "report.json"
    if not report.exists():
        torch.set_num_threads(1)
        extra = ["--config", config] if config else []
        code = bmi_decoder(["evaluate", path, "--decoders", decoder, "--out", str(out), *extra])
        if code not in (0, None):
            raise SystemExit(f"decoder_comparison: evaluate {path} failed ({code})")
    return report


def run(args: argparse.Namespace) -> list[dict]:
    """Every session's report rows, evaluating what is missing; variants relabelled."""
    files = simulated_sessions(args.out, SESSIONS[: args.sessions])
    runs = [(args.decoders, None, None)] + [(",".join(variant_decoders(config)), config, label) for label, config in args.variant]
    jobs = []
    with one_thread_workers(args.jobs) as pool:
        for decoders, config, label in runs:
            for path in files:
                for decoder in decoders.split(","):
                    where = args.out / "reports" / (label or "defaults") / Path(path).stem / decoder
                    jobs.append((pool.submit(evaluate, path, decoder, where, config), label))
        rows = []
        for job, label in jobs:
            for row in json.loads(job.result().read_text())["results"]:
                rows.append({**row, "decoder": f"{row['decoder']} ({label})" if label else row["decoder"]})
    return rows


def checks(rows: list[dict]) -> dict[str, bool]:
    """Issue 24's checks, where the decoders they compare were run."""
    r2 = {(r["session"], r["decoder"]): r["r2"] for r in rows}
    sessions = list(dict.fromkeys(r["session"] for r in rows))

    def per_session(a: str, b: str) -> np.ndarray:
        return np.array([r2[(s, a)] - r2[(s, b)] for s in sessions if (s, a) in r2 and (s, b) in r2])

    out = {}
    if {"snn", "gru"} <= {d for _, d in r2}:
        lead = per_session("snn", "gru")
        out[f"snn >= gru on at least {int(np.ceil(0.8 * len(lead)))} of {len(lead)} sessions"] = bool(
            (lead >= 0).sum() >= np.ceil(0.8 * len(lead))
        )
        out["snn mean R2 >= gru's + 0.02"] = bool(lead.mean() >= 0.02)
    if {"snn", "wiener"} <= {d for _, d in r2}:
        out["snn >= wiener on every session"] = bool((per_session("snn", "wiener") >= 0).all())
    if {"snn_small", "wiener"} <= {d for _, d in r2}:
        out["snn_small >= wiener + 0.03 on every session"] = bool((per_session("snn_small", "wiener") >= 0.03).all())
        small = [r for r in rows if r["decoder"] == "snn_small"]
        out["snn_small <= 30 KB"] = all(r["footprint_bytes"] <= SMALL_BYTES for r in small)
        out["snn_small <= 500 effective ACs per step"] = all(r["synops"]["effective_acs"] <= SMALL_ACS for r in small)
    return out


def plot_differences(rows: list[dict], path: Path, reference: str = "gru") -> None:
    """Each decoder's test R2 minus the reference's, session by session (one marker per session)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r2 = {(r["session"], r["decoder"]): r["r2"] for r in rows}
    sessions = list(dict.fromkeys(r["session"] for r in rows))
    decoders = [d for d in dict.fromkeys(r["decoder"] for r in rows) if d != reference]
    fig, ax = plt.subplots(figsize=(1.1 * len(decoders) + 2.5, 3.6))
    for k, decoder in enumerate(decoders):
        diff = [r2[(s, decoder)] - r2[(s, reference)] for s in sessions if (s, decoder) in r2 and (s, reference) in r2]
        x = k + np.linspace(-0.25, 0.25, len(diff))
        color = plt.cm.tab20(k % 20)  # the ten default colours would repeat past ten decoders
        ax.scatter(x, diff, s=14, color=color)
        ax.plot([k - 0.3, k + 0.3], [np.mean(diff)] * 2, color=color, lw=2)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(decoders)), decoders, rotation=20)
    ax.set_ylabel(f"test R2 minus {reference}'s")
    ax.set_title(f"per session (dots) and mean (bar) over {len(sessions)} simulated sessions")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def variant_decoders(config: str) -> list[str]:
    """The SNN decoders a variant's config file sets: a decoder it leaves at its defaults would
    only repeat the defaults' rows."""
    tables = tomllib.loads(Path(config).read_text()).get("decoders", {})
    return [name for name in ("snn", "snn_small") if name in tables]


def variant(text: str) -> tuple[str, str]:
    label, sep, config = text.partition("=")
    if not (sep and label and Path(config).is_file()):
        raise argparse.ArgumentTypeError(f"LABEL=CONFIG with an existing TOML file, got {text!r}")
    try:
        ok = bool(variant_decoders(config))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, AttributeError):
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"{config}: a TOML config with a [decoders.snn] or [decoders.snn_small] table")
    return label, config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=count, default=len(SESSIONS), help=f"the first N of the {len(SESSIONS)} sessions")
    parser.add_argument("--decoders", default=DECODERS)
    parser.add_argument("--variant", type=variant, action="append", default=[], metavar="LABEL=CONFIG")
    parser.add_argument("--jobs", type=count, default=2, help="sessions evaluated at once, one torch thread each")
    parser.add_argument("--out", type=Path, default=Path("runs/decoder_comparison"))
    parser.add_argument("--figure", type=Path, help="write the per-session differences to the GRU here")
    parser.add_argument("--pareto", type=Path, help="write the R2-vs-energy Pareto figure here")
    add_json_argument(parser, "decoder_comparison")
    args = parser.parse_args(argv)
    if not check_json(args.json, "decoder_comparison"):
        return 2
    facts = run_facts("decoder_comparison.py", argv)

    rows = run(args)
    sessions = list(dict.fromkeys(r["session"] for r in rows))
    r2 = {(r["session"], r["decoder"]): r["r2"] for r in rows}
    summary = sorted(decoder_summary(rows), key=lambda s: -s["r2_mean"])
    print(
        "\n| decoder | "
        + " | ".join(sessions)
        + " | test R2 (mean +- s.e.) | footprint (KB) | eff. ACs/step | energy (pJ/step) |"
    )
    print("|---|" + "---|" * (len(sessions) + 4))
    for s in summary:
        cells = " | ".join(f"{r2[(x, s['decoder'])]:.3f}" if (x, s["decoder"]) in r2 else "-" for x in sessions)
        print(
            f"| {s['decoder']} | {cells} | {s['r2_mean']:.3f} +- {s['r2_se']:.3f} | {s['footprint_bytes'] / 1024:.1f} | "
            f"{s['effective_acs']:,.0f} | {s['energy_pj_per_step']:,.0f} |"
        )
    verdicts = checks(rows)
    print("\n" + "\n".join(f"{name}: {'yes' if ok else 'no'}" for name, ok in verdicts.items()))
    if args.figure is not None:
        plot_differences(rows, args.figure)
    if args.pareto is not None:
        plot_pareto(rows, args.pareto)
    keep = ("session", "decoder", "r2", "fit_seconds", "footprint_bytes", "energy_pj_per_step", "synops")
    write_json(
        args.json,
        facts,
        {
            "sessions": [{"seed": s, "channels": c, "seconds": t} for s, c, t in SESSIONS[: args.sessions]],
            "variants": dict(args.variant),
            "summary": summary,
            "checks": verdicts,
            "rows": [{k: r[k] for k in keep if k in r} for r in rows],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
