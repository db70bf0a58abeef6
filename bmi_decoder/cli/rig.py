"""``bmi-decoder rig``: play a recording into Lab Streaming Layer as a live rig would send it."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from bmi_decoder.cli._arguments import MAX_SPEED, MIN_SPEED
from bmi_decoder.names import SPIKE_STREAM
from snn_core.cli import seed as seed_argument
from snn_core.errors import InputError

DESCRIPTION = """\
Publish a recording (.mat or .nwb, real or from `bmi-decoder synth`) as a live Lab Streaming Layer
stream of spike events (channel, unit, sequence number; stamped with the file's spike times) and its
cursor kinematics as a second stream, at real-time pace or faster. Playback starts when a consumer
(`bmi-decoder stream`) connects. Fault options inject what a flaky acquisition chain does, for tests
and demos. liblsl is configured for loopback only (LSLAPICFG, docs/live.md); on a machine that may
send nothing but loopback traffic, run it inside a network namespace (see the README)."""

EPILOG = """\
examples:
  bmi-decoder rig datasets/simulated/demo_sim3_300s_seed0.mat
  bmi-decoder rig session.mat --speed 4 --seconds 20 --gap 200 --duplicates --reorder"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rig",
        help="publish a recording as a live LSL spike stream",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="recording file (.mat or .nwb)")
    parser.add_argument("--name", default=SPIKE_STREAM, help=f"spike stream name (default: {SPIKE_STREAM})")
    parser.add_argument("--start", type=float, default=0.0, help="seconds into the session to start from (default: 0)")
    parser.add_argument("--seconds", type=float, help="seconds to play (default: to the end)")
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time, 4 = four times as fast (default: 1)")
    parser.add_argument("--binned", action="store_true", help="send spike counts per channel at the 4 ms clock, not events")
    parser.add_argument("--wait", type=float, help="seconds to wait for a consumer before giving up (default: forever)")
    parser.add_argument("--seed", type=seed_argument, default=0, help="seed of the timestamp jitter (default: 0)")
    faults = parser.add_argument_group("faults (each instance spread evenly over the stretch played)")
    faults.add_argument("--faults", type=int, default=1, metavar="N", help="instances of each fault below (default: 1)")
    faults.add_argument("--gap", type=float, default=0.0, metavar="MS", help="acquisition stalls: no events for MS ms")
    faults.add_argument(
        "--jitter", type=float, default=0.0, metavar="US", help="move every time stamp by up to +-US microseconds"
    )
    faults.add_argument("--drop-chunks", action="store_true", help="lose 1 ms chunks of numbered events in transit")
    faults.add_argument("--duplicates", action="store_true", help="send events twice")
    faults.add_argument("--reorder", action="store_true", help="send events 10 ms after their turn")
    faults.add_argument("--vanish", type=float, default=0.0, metavar="MS", help="the source disappears for MS ms, then returns")
    faults.add_argument("--channel-change", action="store_true", help="the source returns declaring one more electrode")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.io import read_recording
    from bmi_decoder.live.faults import Faults
    from bmi_decoder.live.rig import run_rig

    if not MIN_SPEED <= args.speed <= MAX_SPEED:  # NaN fails both
        raise InputError("command line", "--speed", f"a number from {MIN_SPEED:g} to {MAX_SPEED:g}, got {args.speed}")
    for option, value in (("--gap", args.gap), ("--jitter", args.jitter), ("--vanish", args.vanish), ("--start", args.start)):
        if not math.isfinite(value) or value < 0:
            raise InputError("command line", option, f"a finite number >= 0, got {value}")
    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        raise InputError("command line", "--seconds", f"a finite number > 0, got {args.seconds}")
    faults = Faults(
        gap_ms=args.gap,
        jitter_us=args.jitter,
        drop_chunks=args.drop_chunks,
        duplicates=args.duplicates,
        reorder=args.reorder,
        vanish_ms=args.vanish,
        channel_change=args.channel_change,
        count=args.faults,
    )
    summary = run_rig(
        read_recording(args.file),
        args.file,
        name=args.name,
        start_s=args.start,
        seconds=args.seconds,
        speed=args.speed,
        binned=args.binned,
        faults=faults,
        seed=args.seed,
        wait_s=args.wait,
    )
    print(json.dumps(summary))
    return 0
