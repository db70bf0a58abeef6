"""``bmi-decoder evaluate``: every decoder on every session, with a report and figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bmi_decoder.cli._arguments import add_device_argument
from bmi_decoder.names import DECODER_NAMES
from snn_core.cli import seed as seed_argument
from snn_core.outputs import JSON, MARKDOWN, PNG, check_output

DESCRIPTION = """\
Fit and score decoders on reaching sessions (.mat v7.3 or .nwb) with the NeuroBench primate-reaching
protocol: 4 ms bins, all units of a channel OR-ed, cursor velocity as the label, a chronological
50/25/25 train/validation/test split by reach, R2 averaged over x and y. Costs per 4 ms step
(footprint, sparsity, dense and effective synaptic operations, energy) come from snn_core's metrics.
Writes DIR/report.json, DIR/report.md, DIR/velocity.png and DIR/r2_vs_synops.png."""


REPORT_FILES = {"report.json": JSON, "report.md": MARKDOWN, "velocity.png": PNG, "r2_vs_synops.png": PNG}
"""What ``evaluate`` and ``demo`` write into the report folder."""


def add_common_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument(
        "--decoders", default=",".join(DECODER_NAMES), help=f"comma-separated decoders (default: {','.join(DECODER_NAMES)})"
    )
    parser.add_argument("--config", type=Path, help="TOML experiment config (see configs/bmi_*.toml)")
    parser.add_argument("--out", type=Path, default=Path(default_out), help=f"report folder (default: {default_out})")
    parser.add_argument("--seed", type=seed_argument, help="seed of every random choice (overrides the config's)")
    add_device_argument(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="score decoders on sessions and write a report", description=DESCRIPTION)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="recording files (.mat or .nwb)")
    add_common_arguments(parser, "runs/evaluate")
    parser.set_defaults(func=run)


def run_evaluation(files: list[Path], args: argparse.Namespace) -> list:
    """Shared by ``evaluate`` and ``demo``: run, write the report, print the table."""
    from bmi_decoder.experiment import evaluate_file, load_config, parse_decoder_names, read_decodable
    from bmi_decoder.report import markdown_table, write_report

    names = parse_decoder_names(args.decoders)
    config = load_config(args.config, args.seed, args.device, inputs=files)
    # Every file is read and checked before the first fit, so a bad last file fails in seconds, not
    # after hours of training on the others. Each file is read again when its turn comes: holding
    # every recording in memory at once would not fit for many gigabyte-sized sessions.
    for path in files:
        read_decodable(path, config)
    results = []
    for path in files:
        results += evaluate_file(path, names, config, progress=lambda line: print(line, file=sys.stderr))
    meta = {"command": " ".join(["bmi-decoder", *sys.argv[1:]]), "seed": config.seed, "files": [str(f) for f in files]}
    out = write_report(results, args.out, meta)
    print(markdown_table(results))
    print(f"\nreport: {out / 'report.md'}")
    return results


def run(args: argparse.Namespace) -> int:
    check_output(args.out, "--out", [*args.files, args.config], folder=True, contents=REPORT_FILES)
    run_evaluation(args.files, args)
    return 0
