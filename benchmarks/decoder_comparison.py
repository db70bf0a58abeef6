"""Decoder quality on several simulated sessions: does the skip-connected SNN match the linear decoders?

Writes one simulated 96-channel session per seed in the Zenodo .mat layout, then runs exactly
what a user runs, ``bmi-decoder evaluate``, over all of them with the default decoder settings
(no --config), and prints, per session, each decoder's test R2 and whether the SNN scored at
least the Wiener and Kalman filters (issue 4's acceptance test).

    python benchmarks/decoder_comparison.py [--seeds 1 2 3] [--seconds 300] [--decoders snn,wiener,kalman]
        [--out runs/decoder_comparison]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bmi_decoder.cli import main as bmi_decoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--decoders", default="snn,wiener,kalman")
    parser.add_argument("--out", type=Path, default=Path("runs/decoder_comparison"))
    args = parser.parse_args()

    files = []
    for seed in args.seeds:
        path = args.out / f"sim_{args.seconds:.0f}s_seed{seed}.mat"
        if not path.exists():
            bmi_decoder(["synth", str(path), "--seconds", str(args.seconds), "--seed", str(seed)])
        files.append(str(path))
    bmi_decoder(["evaluate", *files, "--decoders", args.decoders, "--out", str(args.out)])

    rows = json.loads((args.out / "report.json").read_text())["results"]
    print("\nsession            " + "  ".join(f"{d:>7s}" for d in args.decoders.split(",")) + "  SNN >= linear")
    for session in dict.fromkeys(r["session"] for r in rows):
        r2 = {r["decoder"]: r["r2"] for r in rows if r["session"] == session}
        linear = [r2[d] for d in ("wiener", "kalman") if d in r2]
        verdict = "yes" if "snn" in r2 and all(r2["snn"] >= v for v in linear) else "no"
        print(f"{session:18s} " + "  ".join(f"{r2[d]:7.3f}" for d in args.decoders.split(",")) + f"  {verdict}")


if __name__ == "__main__":
    main()
