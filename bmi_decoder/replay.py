"""Streaming replay: a recording played back as a live stream, decoded one bin at a time.

A closed-loop BMI sees one 4 ms bin at a time and must output a velocity before the next bin
arrives. Replay feeds a trained decoder's ``step`` with the bins of a recording at real-time pace
(bin ``i`` is released ``i * bin_width / speed`` seconds after the start) and measures, for each
bin, the latency from its release to the decoded velocity. A latency above the bin width is a
missed deadline: a real-time system would have dropped or delayed that bin.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bmi_decoder.decoders import Decoder


@dataclass(frozen=True)
class ReplayResult:
    """What a replay produced: the decoded velocities and how long each bin took."""

    predictions: np.ndarray
    latencies_s: np.ndarray
    bin_width: float
    wall_s: float

    @property
    def deadline_misses(self) -> int:
        return int((self.latencies_s > self.bin_width).sum())

    def summary(self) -> dict[str, float]:
        ms = self.latencies_s * 1e3
        us = self.latencies_s * 1e6
        return {
            "bins": int(ms.size),
            "wall_s": self.wall_s,
            "latency_ms_median": float(np.median(ms)),
            "latency_ms_p99": float(np.percentile(ms, 99)),
            "latency_ms_max": float(ms.max()),
            "latency_us_median": float(np.median(us)),
            "latency_us_p95": float(np.percentile(us, 95)),
            "latency_us_p99": float(np.percentile(us, 99)),
            "latency_us_max": float(us.max()),
            "deadline_ms": self.bin_width * 1e3,
            "deadline_misses": self.deadline_misses,
        }


def replay(
    decoder: Decoder,
    X: np.ndarray,
    bin_width: float,
    speed: float = 1.0,
    on_step: Callable[[int, np.ndarray], None] | None = None,
) -> ReplayResult:
    """Decode ``X`` (T, F) bin by bin through ``decoder.step``, paced like the live recording.

    Args:
        decoder: a fitted decoder; it is reset first.
        X: binned spikes of the stretch to replay.
        bin_width: seconds per bin.
        speed: playback speed (1.0 real time, 2.0 twice as fast); 0 releases every bin at once,
            to measure the decoder's throughput.
        on_step: called with (bin index, velocity) after every bin, e.g. to draw a live display.

    Returns:
        The :class:`ReplayResult`.
    """
    if speed < 0:
        raise ValueError(f"speed must be >= 0, got {speed}")
    decoder.reset()
    predictions = np.empty((len(X), 2))
    latencies = np.empty(len(X))
    interval = bin_width / speed if speed > 0 else 0.0
    # Locals: the loop's own overhead lands in every latency, so nothing but the step is timed.
    clock, step = time.perf_counter, decoder.step
    # No garbage collection inside the loop: a full collection over everything a session has
    # imported takes milliseconds, which would land in some bin's latency. The step path
    # allocates almost nothing, so the pause costs no memory; collection resumes afterwards.
    collecting = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for i, x in enumerate(X):
            release = start + i * interval
            now = clock()
            if now < release:
                time.sleep(release - now)
                now = release  # the bin waits for its release; oversleeping counts as latency
            velocity = step(x)
            latencies[i] = clock() - now
            predictions[i] = velocity
            if on_step is not None:
                on_step(i, velocity)
        wall = clock() - start
    finally:
        if collecting:
            gc.enable()
    return ReplayResult(predictions, latencies, bin_width, wall)
