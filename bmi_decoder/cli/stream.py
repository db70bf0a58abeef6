"""``bmi-decoder stream``: decode a live LSL spike stream with a trained checkpoint."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from bmi_decoder.names import KINEMATICS_KINDS, SPIKE_STREAM, VELOCITY_STREAM
from snn_core.errors import InputError
from snn_core.outputs import JSON, check_output

DESCRIPTION = """\
Find a live spike stream on Lab Streaming Layer by name (e.g. from `bmi-decoder rig`), bin its events
online exactly as the checkpoint's offline preprocessing does (same bin edges, OR per channel, same
lag), decode every bin through the decoder's fast step path and push the velocity as an LSL stream
(2 float32 channels, one sample per bin). Faults are counted, never fatal (docs/live.md has the
rule for each); a stream whose channel count differs from the checkpoint's exits with status 2.
--out is rewritten every second (figures over the last 10 s) and at the end (the whole run): latency per bin from the bin's end (on the source's
clock, mapped to this machine's) to the push of its velocity, and from the moment the bin was
complete; decode-only latency, late and dropped bins, fault counts, and the R2 of the streamed
velocity beside the R2 of the same bins decoded offline. A bin is complete when an event of a
later bin arrives or, with --realtime or --close-after-ms, when the clock passes its end plus a
margin. Any rig's 2-channel cursor stream (--kinematics) gives the online R2."""

EPILOG = """\
examples:
  bmi-decoder stream runs/snn.pt --view
  bmi-decoder stream runs/snn.pt --out runs/stream.json --wait 60
  bmi-decoder stream runs/snn.pt --realtime --cpu 1      # the decode loop pinned to core 1
  bmi-decoder stream runs/snn.pt --name RigSpikes --kinematics RigCursor --kinematics-kind position"""

DEFAULT_CLOSE_AFTER_MS = 1.0
"""The margin after a bin's end before the clock closes it (docs/live.md, "Bins closed by the
clock"): above the delay of nearly every event over loopback LSL, measured as stream.json's
event_delay_us, and well inside half a 4 ms bin."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stream",
        help="decode a live LSL spike stream bin by bin",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", type=Path, metavar="CKPT", help="checkpoint written by `bmi-decoder train`")
    parser.add_argument("--name", default=SPIKE_STREAM, help=f"spike stream to decode (default: {SPIKE_STREAM})")
    parser.add_argument("--out", type=Path, default=Path("runs/stream.json"), help="statistics file (default: runs/stream.json)")
    parser.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for the stream, or for it to return (default: 30)"
    )
    parser.add_argument("--max-gap-ms", type=float, default=100.0, help="silence longer than this is a gap (default: 100)")
    parser.add_argument("--reference", type=Path, help="recording to decode offline for r2_offline (default: the stream's file)")
    parser.add_argument("--velocity-name", default=VELOCITY_STREAM, help=f"velocity stream name (default: {VELOCITY_STREAM})")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="pin the decode loop to a core of its own (--cpu), poll the stream without sleeping and keep "
        "the step path warm between bins: how the README's latency figures were measured; needs 2 CPUs "
        "and keeps one of them busy",
    )
    parser.add_argument("--cpu", type=int, help="the core for --realtime (default: the last one this process may use)")
    parser.add_argument(
        "--close-after-ms",
        type=float,
        metavar="MS",
        help="close a bin when the clock passes its end plus MS, even if no later event came; an event "
        f"arriving after that is stale (default: {DEFAULT_CLOSE_AFTER_MS:g} with --realtime, off without; inf: off)",
    )
    parser.add_argument(
        "--kinematics",
        metavar="NAME",
        help="a 2-channel cursor stream (x, y) of any rig to score the decoded velocity against "
        "(default: the rig's own NAME-kinematics)",
    )
    parser.add_argument(
        "--kinematics-kind",
        choices=KINEMATICS_KINDS,
        default="position",
        help="what --kinematics holds: position (velocity by central differences, as offline) or velocity (default: position)",
    )
    parser.add_argument("--view", action="store_true", help="serve the live view on 127.0.0.1 (see --port)")
    parser.add_argument("--port", type=int, default=8765, help="port of the live view (default: 8765; 0: any free port)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bmi_decoder.checkpoint import load_decoder
    from bmi_decoder.live.realtime import pick_cpu
    from bmi_decoder.live.stream import LiveDecoder
    from bmi_decoder.live.view import LiveView

    for option, value, low in (("--wait", args.wait, 0.0), ("--max-gap-ms", args.max_gap_ms, 0.0)):
        if not math.isfinite(value) or value <= low:
            raise InputError("command line", option, f"a finite number > {low:g}, got {value}")
    if not 0 <= args.port <= 65535:
        raise InputError("command line", "--port", f"a TCP port number 0 to 65535, got {args.port}")
    if args.cpu is not None and not args.realtime:
        raise InputError("command line", "--cpu", "--realtime beside it (--cpu picks the real-time core)")
    close_after = args.close_after_ms if args.close_after_ms is not None else DEFAULT_CLOSE_AFTER_MS if args.realtime else None
    if close_after is not None and not close_after >= 0:  # NaN fails too
        raise InputError("command line", "--close-after-ms", f"a number >= 0 (inf: off), got {close_after}")
    if args.kinematics_kind != "position" and args.kinematics is None:
        raise InputError("command line", "--kinematics-kind", "--kinematics beside it (the rig's own stream says what it holds)")
    realtime_cpu = pick_cpu(args.cpu) if args.realtime else None
    check_output(args.out, "--out", [args.checkpoint, args.reference], kind=JSON)
    # one small step per 4 ms bin is latency-bound: the CPU beats a GPU kernel launch
    decoder, meta = load_decoder(args.checkpoint, device="cpu")
    live = LiveDecoder(
        decoder,
        meta["preprocessing"],
        args.name,
        args.out,
        wait_s=args.wait,
        max_gap_s=args.max_gap_ms * 1e-3,
        reference=args.reference,
        velocity_name=args.velocity_name,
        realtime_cpu=realtime_cpu,
        close_after_s=None if close_after is None or math.isinf(close_after) else close_after * 1e-3,
        kinematics=args.kinematics,
        kinematics_kind=args.kinematics_kind,
    )
    view = None
    if args.view:
        view = LiveView(live, args.port)
        view.start()
        print(f"stream: live view at {view.url}", file=sys.stderr, flush=True)
    try:
        stats = live.run(view)
    finally:
        if view is not None:
            view.close()
    print(summary(stats))
    print(f"statistics: {args.out}", file=sys.stderr)
    return 0


def summary(stats: dict) -> str:
    """One line for the terminal: latencies in whole microseconds, R2 to 3 decimals."""

    def us(figure: float | None) -> str:
        return "-" if figure is None else f"{figure:.0f}"

    def r2(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    end, complete = stats["latency_from_end_us"], stats["latency_us"]
    return (
        f"bins {stats['bins']}, latency from bin end median {us(end['median'])} us, p99 {us(end['p99'])} us "
        f"(from bin complete p99 {us(complete['p99'])} us), late {stats['late_bins']}, dropped {stats['dropped_bins']}, "
        f"stale events {stats['stale_events']}, R2 online {r2(stats['r2_online'])}, offline {r2(stats['r2_offline'])}"
    )
