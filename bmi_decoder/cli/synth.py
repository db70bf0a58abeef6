"""``bmi-decoder synth``: write a simulated reaching session as a Zenodo .mat or an NWB file."""

from __future__ import annotations

import argparse
from pathlib import Path

from snn_core.cli import seed as seed_argument
from snn_core.errors import InputError
from snn_core.outputs import MAT, check_output

MAX_SECONDS = 86_400.0
"""The longest session synth writes: one day (real sessions last at most ~2,450 s); longer would
only exhaust memory (a session is held in memory before it is written)."""

DESCRIPTION = """\
Simulate a session of self-paced reaching to random targets (8 x 8 grid) with Utah-array spiking
activity whose statistics follow the O'Doherty et al. recordings (docs/data.md), and write it in the
real on-disk layout: OUT.mat is MATLAB v7.3 exactly as on Zenodo (quirks included: MATLAB_empty
cells, spikes before and after the behaviour clock), OUT.nwb is NWB (Units table, electrodes,
behavior/Position). The same seed gives the same session.

With --days, OUT is a folder and one monkey is recorded on several days: the same array and
tuning model, with units lost and gained, channels going dead, baseline and gain drift, slowly
rotating preferred directions, and a length (and reach count) of its own each day. Each day is
OUT/sim<SEED>_<YYYYMMDD>_01.mat (day 0 is 2016-06-22), its drift stored in the file as the
MATLAB char variable "simulation" (JSON); evaluate-days reads the dates from the names."""

EPILOG = """\
examples:
  bmi-decoder synth session.mat
  bmi-decoder synth long.nwb --seconds 2450 --channels 96 --seed 3
  bmi-decoder synth m1s1.mat --channels 192 --units-per-channel 5 --finger-columns 6
  bmi-decoder synth month/ --days 0,1,2,4,7,14,21,30 --seed 1"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write a simulated reaching session (.mat v7.3 or .nwb)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "out", type=Path, metavar="OUT", help="output file, its suffix (.mat or .nwb) picking the format; a folder with --days"
    )
    parser.add_argument(
        "--days",
        help="record one monkey on several days: a count N (days 0 to N-1) or increasing days from 0 such as 0,1,7,30; "
        "--seconds is then each day's nominal length (each day draws 0.75 to 1.25 times it)",
    )
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


def run_days(args: argparse.Namespace) -> int:
    """``--days``: one .mat file per day in the folder ``args.out``."""
    from tqdm import tqdm

    from bmi_decoder.io import write_mat
    from bmi_decoder.simulate_days import NOTE, parse_days, simulate_days

    days = parse_days(args.days)
    check_output(args.out, "OUT", folder=True)
    check_seconds(args.seconds)
    kwargs = dict(
        channels=args.channels, seed=args.seed, units_per_channel=args.units_per_channel, finger_columns=args.finger_columns
    )
    for day in tqdm(simulate_days(days, args.seconds, **kwargs), total=len(days), desc="synth days", unit="day"):
        path = args.out / f"{day.name}.mat"
        check_output(path, "OUT", kind=MAT)
        write_mat(day.session.recording, path, outside_spikes=day.session.outside_spikes, notes={NOTE: day.note()})
        rec = day.session.recording
        tqdm.write(
            f"{path}: day {day.day}, {rec.duration_s:.1f} s, {day.drift['units_alive']} units, "
            f"{len(day.drift['dead_channels'])} dead channels"
        )
    return 0


def check_seconds(seconds: float) -> None:
    # NaN fails every comparison, so `not (lo <= x <= hi)` refuses it along with inf
    if not 1.0 <= seconds <= MAX_SECONDS:
        raise InputError("command line", "--seconds", f"a duration from 1 to {MAX_SECONDS:.0f} seconds, got {seconds}")


def run(args: argparse.Namespace) -> int:
    if args.days is not None:
        return run_days(args)
    from bmi_decoder.io import recording_kind, write_recording
    from bmi_decoder.simulate import simulate_session

    check_output(args.out, "OUT", kind=recording_kind(args.out))
    check_seconds(args.seconds)
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
