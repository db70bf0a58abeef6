"""``bmi-decoder evaluate-days``: train on some sessions, decode later ones fixed and recalibrated."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from bmi_decoder.cli._arguments import add_device_argument
from bmi_decoder.names import CALIBRATION_S, DECODER_NAMES, RECALIBRATION_METHODS
from snn_core.cli import seed as seed_argument
from snn_core.errors import InputError
from snn_core.outputs import JSON, MARKDOWN, PNG, check_output

DESCRIPTION = """\
Decoding across days (the FALCON protocol on reaching sessions): fit each decoder on the training
sessions (their NeuroBench train and validation splits), then decode every held-out session
  - fixed, with no recalibration;
  - after each recalibration method, given the first 15, 30, 60 and 120 s of the session:
      scratch  a new decoder fitted on the calibration data alone
      readout  the readout solved anew, every other weight kept (snn, snn_small, gru, ann)
      input    the input layer fine-tuned, the rest frozen (snn, snn_small, gru, ann)
      rates    per-channel rate normalisation to the training data (no velocity needed)
      latent   factor analysis and alignment on stable channels, Degenhart et al. 2020 (no velocity)
  - within: a decoder fitted on the session's own NeuroBench split (the reference).
All but within are scored on the session after its longest calibration. The days since training
come from the file names (Zenodo's indy_20160630_01.mat; synth --days writes the same form).
Writes DIR/days.json, DIR/days.md and DIR/r2_vs_days.png (R2 against days, one line per method)."""

EPILOG = """\
examples:
  bmi-decoder synth month/ --days 0,1,2,4,7,14,21,30 --seconds 600
  bmi-decoder evaluate-days --train month/sim0_20160622_01.mat --test month/sim0_201607*.mat month/sim0_2016062[3-9]*.mat
  bmi-decoder fetch indy_20160622_01 && bmi-decoder fetch indy_20160630_01
  bmi-decoder evaluate-days --train datasets/indy_20160622_01.mat --test datasets/indy_20160630_01.mat \\
      --decoders wiener,snn --methods readout,rates --calibration 60"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate-days",
        help="train on some sessions, score fixed and recalibrated decoders on later ones",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--train", nargs="+", type=Path, required=True, metavar="FILE", help="training sessions (.mat or .nwb)")
    parser.add_argument("--test", nargs="+", type=Path, required=True, metavar="FILE", help="held-out sessions (.mat or .nwb)")
    parser.add_argument(
        "--decoders", default="wiener,snn", help=f"comma-separated decoders from {', '.join(DECODER_NAMES)} (default: wiener,snn)"
    )
    parser.add_argument(
        "--methods",
        default=",".join(RECALIBRATION_METHODS),
        help=f"comma-separated recalibration methods (default: {','.join(RECALIBRATION_METHODS)})",
    )
    parser.add_argument(
        "--calibration",
        default=",".join(f"{c:g}" for c in CALIBRATION_S),
        help="comma-separated seconds of calibration data from each held-out session's start (default: 15,30,60,120)",
    )
    parser.add_argument("--config", type=Path, help="TOML experiment config (see configs/bmi_*.toml)")
    parser.add_argument("--out", type=Path, default=Path("runs/days"), help="report folder (default: runs/days)")
    parser.add_argument("--seed", type=seed_argument, help="seed of every random choice (overrides the config's)")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def parse_calibration(text: str) -> list[float]:
    """``"15,30"`` -> ``[15.0, 30.0]``: positive finite seconds, increasing."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    ok = values and all(math.isfinite(v) and v > 0 for v in values) and values == sorted(set(values))
    if not ok:
        raise InputError("command line", "--calibration", f"increasing positive seconds such as 15,30,60,120, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.across_days import check_sessions, evaluate_days
    from bmi_decoder.days_report import REPORT_FILES, markdown_table, write_days_report
    from bmi_decoder.experiment import load_config, parse_decoder_names
    from bmi_decoder.recalibration import parse_methods

    inputs = [*args.train, *args.test, args.config]
    check_output(args.out, "--out", inputs, folder=True, contents={"days.json": JSON, "days.md": MARKDOWN, "r2_vs_days.png": PNG})
    names = parse_decoder_names(args.decoders)
    methods = parse_methods(args.methods)
    calibration = parse_calibration(args.calibration)
    config = load_config(args.config, args.seed, args.device, inputs=inputs)
    sessions = check_sessions(args.train, args.test, calibration, config)
    rows = evaluate_days(sessions, names, methods, config, calibration, progress=lambda line: print(line, file=sys.stderr))
    meta = {
        "command": " ".join(["bmi-decoder", *sys.argv[1:]]),
        "seed": config.seed,
        "train": [str(p) for p in sessions.train],
        "test": [str(p) for p in sessions.test],
        "calibration_s": calibration,
    }
    out = write_days_report(rows, args.out, meta)
    print(markdown_table(rows))
    print(f"\nreport: {out / 'days.md'} ({', '.join(REPORT_FILES)})")
    return 0
