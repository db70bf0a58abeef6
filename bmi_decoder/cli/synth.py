"""``bmi-decoder synth``: write a simulated reaching session as a Zenodo .mat or an NWB file."""

from __future__ import annotations

import argparse
from pathlib import Path

from bmi_decoder.io import recording_kind, write_recording
from bmi_decoder.simulate import simulate_session
from snn_core.cli import seed as seed_argument
from snn_core.errors import InputError
from snn_core.outputs import check_output

MAX_SECONDS = 86_400.0
"""The longest session synth writes: one day (real sessions last at most ~2,450 s); longer would
only exhaust memory (a session is held in memory before it is written)."""

DESCRIPTION = """\
Simulate a session of self-paced reaching to random targets (8 x 8 grid) with Utah-array spiking
activity whose statistics follow the O'Doherty et al. recordings (docs/data.md), and write it in the
real on-disk layout: OUT.mat is MATLAB v7.3 exactly as on Zenodo (quirks included: MATLAB_empty
cells, spikes before and after the behaviour clock), OUT.nwb is NWB (Units table, electrodes,
behavior/Position). The same seed gives the same session."""

EPILOG = """\
examples:
  bmi-decoder synth session.mat
  bmi-decoder synth long.nwb --seconds 2450 --channels 96 --seed 3
  bmi-decoder synth m1s1.mat --channels 192 --units-per-channel 5 --finger-columns 6"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write a simulated reaching session (.mat v7.3 or .nwb)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="output file; the suffix (.mat or .nwb) picks the format")
    parser.add_argument(
        "--seconds",
        type=float,
        default=600.0,
        help=f"length of the behaviour record in seconds, 1 to {MAX_SECONDS:,.0f} (one day; real sessions are at most "
        "~2,450 s; default 600)",
    )
    parser.add_argument("--channels", type=int, choices=(96, 192), default=96, help="96 (M1 array) or 192 (M1 + S1) channels")
    parser.add_argument("--seed", type=seed_argument, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--units-per-channel",
        type=int,
        choices=(3, 5),
        default=3,
        help="unit slots per channel in the file, hash unit 0 included (both occur on Zenodo; default 3)",
    )
    parser.add_argument(
        "--finger-columns",
        type=int,
        choices=(3, 6),
        default=3,
        help="finger_pos columns: 3 (position) or 6 (with orientation); both occur on Zenodo (default 3)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.out, "OUT", kind=recording_kind(args.out))
    # NaN fails every comparison, so `not (lo <= x <= hi)` refuses it along with inf
    if not 1.0 <= args.seconds <= MAX_SECONDS:
        raise InputError("command line", "--seconds", f"a duration from 1 to {MAX_SECONDS:.0f} seconds, got {args.seconds}")
    session = simulate_session(
        seconds=args.seconds,
        channels=args.channels,
        seed=args.seed,
        finger_columns=args.finger_columns,
        units_per_channel=args.units_per_channel,
    )
    write_recording(session.recording, args.out, outside_spikes=session.outside_spikes)
    rec = session.recording
    print(
        f"{args.out}: {rec.duration_s:.1f} s, {rec.n_channels} channels, {len(rec.spike_times)} spikes in the "
        f"behaviour window, {rec.spikes_outside_window} outside"
    )
    return 0
