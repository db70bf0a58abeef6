"""``vision-bench analyze``: the paper's skip-type analysis on a DVS data set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from snn_core.outputs import JSON, MARKDOWN, PNG, check_output
from vision_bench.cli._arguments import add_dataset_arguments, add_device_argument, with_device

if TYPE_CHECKING:
    from vision_bench.analysis import AnalysisReport

DESCRIPTION = """\
Test the claims of Benmeziane et al. (2023), "Skip Connections in Spiking Neural Networks",
with numbers: train the no-skip, DSC (densenet-like concatenation), ASC (addition) and mixed
variants of one convolutional SNN, each also as its ANN twin (same wiring, ReLU), and measure
SNN and ANN test accuracy, the ANN-to-SNN drop, per-layer firing rates, synaptic operations
per step (dense, effective MACs, effective ACs; NeuroBench definitions) and energy per step
(45 nm, memory traffic ignored). The report states for each of the paper's claims 1 and 2
whether it held (claims 3 and 4 are the topology search's: see `vision-bench search --help`):
  1a both skip types raise the firing rate   1b ASC more than DSC   1c ASC more accurate
  1d skips shrink the ANN-to-SNN drop        2  DSC more energy-efficient (2b: spikes counted)

Writes OUT/report.json, OUT/report.md and OUT/firing_rates.png (atomically), one checkpoint per
model in OUT/checkpoints/ and per-epoch JSON-lines logs in OUT/logs/. Running the same command
again after an interruption resumes each model from its last finished epoch.

Configuration (TOML, every key optional; an unknown key is an error):
  [data]      time_bins, size, split_scheme, cache_dir
  [model]     family ("resnet": span-2 shortcuts, "densenet": all pairs), stem_width,
              widths (one per block), depth (layers per block), beta, threshold, kernel_size, pool
  [train]     epochs, batch_size, lr, optimizer ("adam" | "sgd"), weight_decay, seed,
              device ("auto" | "cpu" | "cuda" | "cuda:N"; CUDA runs with float16 autocast;
              --device overrides it)
  [analysis]  variants (subset of none, dsc, asc, mixed), activity_samples"""

EPILOG = """\
exit status: 0 report written; 2 bad input (missing root, wrong layout, unreadable recording,
bad configuration key, value or type), with one line naming the file and the field.

examples:
  vision-bench analyze --dataset synthetic --root datasets/synthetic_dvs --config configs/vision_demo.toml
  vision-bench analyze --dataset cifar10dvs --root ~/data --config configs/vision_cifar10dvs.toml --out runs/c10"""


REPORT_FILES = {"report.json": JSON, "report.md": MARKDOWN, "firing_rates.png": PNG}
"""What an analysis writes into --out, beside its checkpoints/ and logs/ folders."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="train none/DSC/ASC/mixed SNNs and ANN twins; report accuracy, firing rates, energy, claim verdicts",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "--config", type=Path, default=None, metavar="TOML", help="analysis configuration (default: built-in defaults)"
    )
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default runs/analyze-DATASET)")
    add_device_argument(parser)
    parser.set_defaults(func=run)


def print_summary(report: AnalysisReport, out_dir: Path) -> None:
    """Print the results and the claim verdicts, and where the report went."""
    from vision_bench.report import results_table
    from vision_bench.verdicts import claims_table

    print(results_table(report))
    print()
    print(claims_table(report.claims))
    print(f"\nreport: {out_dir / 'report.md'} (and report.json, firing_rates.png); runtime {report.runtime_s:.0f} s")


def run(args: argparse.Namespace) -> int:
    from vision_bench.analysis import run_analysis
    from vision_bench.config import AnalysisConfig, load_config

    config = with_device(load_config(args.config) if args.config is not None else AnalysisConfig(), args.device)
    out_dir = args.out if args.out is not None else Path("runs") / f"analyze-{args.dataset}"
    check_output(out_dir, "--out", [args.config], folder=True, contents=REPORT_FILES)
    report = run_analysis(args.dataset, args.root, config, out_dir)
    print_summary(report, out_dir)
    return 0
