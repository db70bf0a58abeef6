"""Latency from the bin's end, as a closed loop sees it: rig, `stream --realtime` and a consumer.

All three run in one private network namespace holding only loopback (``unshare --net``, so as
root; no packet leaves the machine): ``bmi-decoder rig`` plays the demo session's test stretch
at real-time pace, ``bmi-decoder stream CKPT --realtime`` decodes it, and
``python -m bmi_decoder.live.consumer`` subscribes to the velocity stream and measures, for every
bin, the time from the bin's end (the rig's clock, mapped by its pace stream) to the arrival of
its velocity. Writes JSON (``--out``, default docs/results/live_latency.json): the consumer's
latency from the bin's end and late bins (over one bin width), and stream.json's latencies,
decode time, late bins, stale events, bins closed by the clock and R2 online against offline.
Before the run, a probe spins one thread per CPU (``--probe-seconds``) and records how often
the machine itself stalls it: a stall longer than a bin's slack makes a bin late whatever the
decoder does. `benchmarks/live_latency_page.py` renders it.

    sudo python benchmarks/live_latency.py --checkpoint runs/snn.pt [--seconds 60] [--close-after-ms 1]

Without ``--checkpoint`` a Wiener filter is fitted on the session's training split (seconds, not
minutes); the results page's figures use the default SNN (``bmi-decoder train SESSION --decoder snn``).
Run it on an otherwise idle machine: timings taken beside other work say little about the decoder.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from snn_core.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
START_S = 225.0  # the demo session's test stretch (its last quarter)


def wiener_checkpoint(session: Path, out: Path) -> Path:
    from bmi_decoder.checkpoint import save_decoder
    from bmi_decoder.decoders import WienerDecoder
    from bmi_decoder.io import read_recording
    from bmi_decoder.preprocess import NEUROBENCH, prepare_session

    prepared = prepare_session(read_recording(session), NEUROBENCH)
    decoder = WienerDecoder().fit(*prepared.split("train"))
    save_decoder(decoder, out, {"session": str(session)}, preprocessing=NEUROBENCH)
    return out


def spin(cpu: int, seconds: float, bin_s: float, found) -> None:
    """Spin on ``cpu`` reading the clock; put (cpu, longest gap, gaps over 1 ms, over a bin) in ``found``."""
    import gc

    os.sched_setaffinity(0, {cpu})
    gc.disable()
    clock = time.perf_counter
    start = last = clock()
    longest, over_ms, over_bin = 0.0, 0, 0
    while (now := clock()) - start < seconds:
        gap, last = now - last, now
        if gap > 1e-3:
            longest, over_ms, over_bin = max(longest, gap), over_ms + 1, over_bin + (gap > bin_s)
    found.put((cpu, longest, over_ms, over_bin))


def machine_stalls(seconds: float, bin_s: float = 0.004) -> dict:
    """How often the machine itself stops a thread that only spins: one such thread per CPU, with
    nothing else of ours running. A late bin needs a stall longer than the bin's slack, and a
    virtual machine's host can stall its CPUs for milliseconds whatever runs inside it."""
    import multiprocessing

    found = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=spin, args=(cpu, seconds, bin_s, found)) for cpu in sorted(os.sched_getaffinity(0))]
    for w in workers:
        w.start()
    rows = sorted(found.get() for _ in workers)
    for w in workers:
        w.join()
    return {
        "seconds": seconds,
        "per_cpu": [{"cpu": c, "longest_ms": g * 1e3, "over_1ms": n, "over_bin": b} for c, g, n, b in rows],
    }


def run_live(session: Path, checkpoint: Path, seconds: float, close_after_ms: float | None, folder: Path) -> dict:
    """Rig, stream and consumer in one loopback-only namespace; returns both reports."""
    python, q = shlex.quote(sys.executable), shlex.quote
    # --realtime takes the last CPU for its loop; the rig and the consumer run on the others, as a
    # closed loop's other stages would (bmi_decoder/live/realtime.py)
    others = "taskset -c " + ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:-1])
    close = "" if close_after_ms is None else f" --close-after-ms {close_after_ms:g}"
    script = f"""
ip link set lo up || exit 90
cd {q(str(ROOT))}
{python} -m bmi_decoder stream {q(str(checkpoint))} --realtime{close} --out {q(str(folder / "stream.json"))} --wait 300 \
  > {q(str(folder / "stream.out"))} 2> {q(str(folder / "stream.err"))} &
stream=$!
{others} {python} -m bmi_decoder.live.consumer {q(str(folder / "consumer.json"))} 2> {q(str(folder / "consumer.err"))} &
consumer=$!
{others} {python} -m bmi_decoder rig {q(str(session))} --start {START_S:g} --seconds {seconds:g} --wait 300 \
  > {q(str(folder / "rig.out"))} 2> {q(str(folder / "rig.err"))} &
wait $stream $consumer
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LSLAPICFG", None)  # the commands' own loopback-only configuration
    subprocess.run(["unshare", "--net", "bash", "-c", script], env=env, check=True, timeout=seconds + 900)
    for name in ("stream.json", "consumer.json"):
        if not (folder / name).exists():
            errors = {
                f: (folder / f).read_text()[-1500:] for f in ("stream.err", "consumer.err", "rig.err") if (folder / f).exists()
            }
            raise SystemExit(f"live_latency: no {name}; {errors}")
    return {name: json.loads((folder / f"{name}.json").read_text()) for name in ("stream", "consumer")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="a trained decoder (default: a Wiener filter fitted here)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of the session to play (default: 60)")
    parser.add_argument("--close-after-ms", type=float, help="passed to stream (default: its own; inf: bins closed by events)")
    parser.add_argument("--probe-seconds", type=float, default=30.0, help="seconds of the stall probe run first (default: 30)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "live_latency.json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("live_latency: needs root for a private network namespace (unshare --net)", file=sys.stderr)
        return 2
    from bmi_decoder.demo_session import cached_session

    session = cached_session(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint = args.checkpoint or wiener_checkpoint(session, folder / "wiener.pt")
        stalls = machine_stalls(args.probe_seconds)
        live = run_live(session, checkpoint, args.seconds, args.close_after_ms, folder)
    stream, consumer = live["stream"], live["consumer"]
    report = {
        "command": shlex.join(["python", "benchmarks/live_latency.py", *sys.argv[1:]]),
        "session": session.name,
        "start_s": START_S,
        "seconds": args.seconds,
        "decoder": stream["decoder"],
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_1min": os.getloadavg()[0],  # at the end: high means the timings were shared
        "close_after_ms": stream["close_after_ms"],
        "machine_stalls": stalls,
        "consumer": {
            "bins": consumer["bins"],
            "latency_from_end_us": consumer["latency_from_end_us"],
            "late_from_end": consumer["late_from_end"],
        },
        "stream": {
            key: stream[key]
            for key in (
                "bins",
                "latency_from_end_us",
                "late_from_end",
                "latency_us",
                "decode_us",
                "event_delay_us",
                "late_bins",
                "stale_events",
                "dropped_bins",
                "closed_by_clock",
                "r2_online",
                "r2_offline",
            )
        },
    }
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
    from live_latency_page import render  # beside this script (benchmarks are scripts, not a package)

    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
