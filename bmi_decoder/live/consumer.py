"""A consumer of the decoded velocity, as the next stage of a closed loop would be: it measures,
for every velocity sample, the time from its bin's end to the sample's arrival.

It shares no code with ``bmi-decoder stream`` beyond the stream layout (:mod:`bmi_decoder.live.lsl`):
a velocity sample is stamped with its bin's end on the spike stream's clock; for a stream of
``bmi-decoder rig`` (file times) the rig's pace stream places that on the LSL clock, and for a
foreign rig the stamp is its LSL clock already. Arrival is the local clock when the pull returns.

``python -m bmi_decoder.live.consumer OUT.json [--name SPIKES] [--velocity-name NAME]`` waits for
the velocity stream, records until it goes away (or is silent for 5 s after its first sample),
and writes OUT.json:
``bins`` and ``latency_from_end_us`` (median, p95, p99, max), ``late_from_end`` (over ``--bin-ms``).
Run it in the stream's loopback-only network namespace.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

from bmi_decoder.live import lsl
from bmi_decoder.names import SPIKE_STREAM, VELOCITY_STREAM
from snn_core.atomic import write_text_atomic

SILENCE_S = 5.0


def percentiles(us: np.ndarray) -> dict[str, float | None]:
    if not us.size:
        return {"median": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(us, [50, 95, 99])
    return {"median": float(p50), "p95": float(p95), "p99": float(p99), "max": float(us.max())}


def consume(name: str, velocity_name: str, wait_s: float, bin_s: float, ready: Path | None = None) -> dict:
    pylsl = lsl.import_pylsl()
    # Both resolvers run in the background, polled. The pace inlet opens whenever the rig is seen
    # (it states its pace when playback starts and again every second); a foreign rig has none.
    velocity_resolver = pylsl.ContinuousResolver(prop="name", value=velocity_name)
    pace_resolver = pylsl.ContinuousResolver(prop="name", value=lsl.pace_name(name))
    deadline = time.monotonic() + wait_s
    velocity = pace = None

    correction = 0.0

    def look_for_pace() -> None:
        # the clock offset is measured once, when the rig is found: usually before its playback,
        # as the rig waits for the stream to connect (the first estimate takes a few round trips)
        nonlocal pace, correction
        if pace is None and (found := pace_resolver.results()):
            pace = pylsl.StreamInlet(found[0], max_buflen=60, recover=True)
            pace.open_stream(timeout=5.0)
            correction = pace.time_correction(timeout=5.0)

    while velocity is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"consumer: no stream {velocity_name!r} within {wait_s:g} s")
        look_for_pace()
        if found := velocity_resolver.results():
            velocity = pylsl.StreamInlet(found[0], max_buflen=60, recover=False)
            velocity.open_stream(timeout=5.0)
        time.sleep(0.02)
    if ready is not None:
        ready.touch()
    anchors: list[tuple[float, float, float]] = []  # (file time, LSL time, speed)
    stamps, arrivals = [], []
    last = time.monotonic()
    # A full garbage collection takes milliseconds, which would count as latency: paused while
    # recording, as in the stream.
    collecting = gc.isenabled()
    gc.disable()
    # the silence that ends the recording counts from the first sample; before it, the wait
    while (time.monotonic() - last < SILENCE_S) if stamps else (time.monotonic() < deadline):
        try:
            sample, stamp = velocity.pull_sample(timeout=0.2)
        except pylsl.util.LostError:
            break
        if sample is not None:
            arrivals.append(pylsl.local_clock())
            stamps.append(stamp)
            last = time.monotonic()
        look_for_pace()
        if pace is not None:
            rows, times = pace.pull_chunk(timeout=0.0)
            anchors.extend((row[0], t, row[1]) for row, t in zip(rows, times))
    if collecting:
        gc.enable()
    velocity.close_stream()
    if pace is not None:
        pace.close_stream()
    t = np.asarray(stamps)
    if pace is None:
        ends = t
    elif anchors:
        file_times, lsl_times, speeds = (np.asarray(x) for x in zip(*sorted(set(anchors))))
        i = np.searchsorted(file_times, t, side="right") - 1
        ends = np.where(i >= 0, lsl_times[i.clip(0)] + (t - file_times[i.clip(0)]) / speeds[i.clip(0)] + correction, np.nan)
    else:
        ends = np.full(t.shape, np.nan)
    us = (np.asarray(arrivals) - ends) * 1e6
    us = us[~np.isnan(us)]
    return {
        "bins": len(stamps),
        "latency_from_end_us": percentiles(us),
        "late_from_end": int(np.count_nonzero(us > bin_s * 1e6)),
        "time_correction_s": correction,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--name", default=SPIKE_STREAM, help="the spike stream (its pace stream is read)")
    parser.add_argument("--velocity-name", default=VELOCITY_STREAM)
    parser.add_argument("--wait", type=float, default=600.0, help="seconds to wait for the velocity stream")
    parser.add_argument("--bin-ms", type=float, default=4.0, help="a sample later than this after its bin's end is late")
    parser.add_argument("--ready", type=Path, help="a file created once the velocity stream is open (a rig may start then)")
    args = parser.parse_args(argv)
    report = consume(args.name, args.velocity_name, args.wait, args.bin_ms * 1e-3, args.ready)
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
