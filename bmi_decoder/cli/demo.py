"""``bmi-decoder demo``: the main job on a simulated default session, end to end."""

from __future__ import annotations

import argparse
from pathlib import Path

from bmi_decoder.cli.evaluate import REPORT_FILES, add_common_arguments, run_evaluation
from bmi_decoder.names import DEMO_SECONDS
from snn_core.cli import seed as seed_argument
from snn_core.outputs import check_output

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "demo.toml"

DESCRIPTION = f"""\
Simulate a default {DEMO_SECONDS:.0f} s, 96-channel reaching session in the Zenodo .mat layout (cached under
datasets/simulated/), then evaluate every decoder on it exactly as `bmi-decoder evaluate` does and
print the table. Decoder settings come from configs/bmi_demo.toml unless --config is given."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="simulate a session and evaluate every decoder", description=DESCRIPTION)
    add_common_arguments(parser, "runs/demo")
    parser.add_argument("--session-seed", type=seed_argument, default=0, help="seed of the simulated session (default: 0)")
    parser.set_defaults(func=run, config=DEMO_CONFIG)


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.demo_session import cached_session

    check_output(args.out, "--out", [args.config], folder=True, contents=REPORT_FILES)
    run_evaluation([cached_session(args.session_seed)], args)
    return 0
