"""A simulated acquisition rig: a recording played into Lab Streaming Layer as it would arrive live.

Two outlets: the spike events (or per-sample spike counts) and the cursor kinematics, laid out as
:mod:`bmi_decoder.live.lsl` describes, each sample stamped with its time in the file and sent
when a wall clock started at the first consumer's arrival reaches that time (divided by
``speed``). Faults from :mod:`bmi_decoder.live.faults` are applied on the way. A third outlet, the
pace, says when the playback passed which time of the file, on the LSL clock that paces it, so a
consumer can tell how long after a bin's end it pushed that bin's velocity.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmi_decoder.live import lsl
from bmi_decoder.live.events import Clock, clock, kinematics, spike_events
from bmi_decoder.live.faults import Faults, Plan, plan
from bmi_decoder.names import SPIKE_STREAM
from bmi_decoder.preprocess import bin_spikes
from bmi_decoder.recording import Recording
from snn_core.errors import InputError

# How long the rig waits, at the end, for its consumers to read the last samples and leave.
DRAIN_S = 10.0
NO_FAULTS = Faults()
# How long a vanishing outlet lingers after its last push: destroying it at once would lose
# samples still in its send buffer, and the fault is an outage, not a loss.
LINGER_S = 0.2
# Longest sleep between checks of the clock: keeps an outage or the end from waiting on a long silence.
MAX_SLEEP_S = 0.05
# The pace anchor is sent again this often, for a consumer that joined after playback started.
PACE_PERIOD_S = 1.0


@dataclass(frozen=True)
class Stretch:
    """Behaviour samples ``first ... stop - 1`` of a session: what a playback covers."""

    first: int
    stop: int

    def bounds(self, c: Clock) -> tuple[float, float]:
        """(exclusive lower, inclusive upper) time of the spikes those samples own."""
        return c.sample_time(self.first - 1), c.sample_time(self.stop - 1)


def stretch(c: Clock, start_s: float, seconds: float | None) -> Stretch:
    """The samples from ``start_s`` seconds after the first one, ``seconds`` long (None: to the end)."""
    # clipped to the session before dividing: 1e308 s would overflow the sample count
    duration = c.n_samples * c.step
    first = int(round(min(start_s, duration) / c.step))
    stop = c.n_samples if seconds is None else min(c.n_samples, first + int(round(min(seconds, duration) / c.step)))
    if not 0 <= first < stop - 1:
        raise InputError("command line", "--start/--seconds", f"a stretch inside the {c.n_samples * c.step:g} s session")
    return Stretch(first, stop)


class Rig:
    """The two outlets of a playback and the pacing clock.

    Args:
        rec: the session.
        path: its file (declared in the stream description).
        name: the spike stream's name.
        binned: send spike counts per behaviour sample instead of events.
        speed: 1 for real time, 2 for twice as fast.
        wait_s: how long to wait for a consumer (None: forever).
    """

    def __init__(
        self, rec: Recording, path: Path, name: str, binned: bool, speed: float, wait_s: float | None, span: Stretch
    ) -> None:
        self.pylsl = lsl.import_pylsl()
        self.rec, self.path, self.name, self.binned, self.span = rec, path, name, binned, span
        self.speed, self.wait_s = speed, wait_s
        self.clock = clock(rec)
        self.source_id = f"bmi-decoder-rig:{path.name}"
        self.spikes = self._spike_outlet(rec.n_channels)
        pylsl = self.pylsl
        info = pylsl.StreamInfo(
            lsl.kinematics_name(name), lsl.KINEMATICS, 6, 1.0 / self.clock.step, pylsl.cf_float32, self.source_id + ":kin"
        )
        channels = info.desc().append_child("channels")
        for label in lsl.KINEMATICS_CHANNELS:
            channels.append_child("channel").append_child_value("label", label)
        lsl.describe(info, self.clock, rec.n_channels, str(path), span.stop)
        self.kinematics = pylsl.StreamOutlet(info)
        info = pylsl.StreamInfo(
            lsl.pace_name(name), lsl.PACE, 2, pylsl.IRREGULAR_RATE, pylsl.cf_double64, self.source_id + ":pace"
        )
        self.pace = pylsl.StreamOutlet(info)

    def _spike_outlet(self, electrodes: int):
        pylsl = self.pylsl
        if self.binned:
            info = pylsl.StreamInfo(
                self.name, lsl.SPIKE_COUNTS, electrodes, 1.0 / self.clock.step, pylsl.cf_float32, self.source_id
            )
        else:
            info = pylsl.StreamInfo(self.name, lsl.SPIKES, 3, pylsl.IRREGULAR_RATE, pylsl.cf_int32, self.source_id)
        lsl.describe(info, self.clock, electrodes, str(self.path), self.span.stop)
        return pylsl.StreamOutlet(info, chunk_size=1)

    def _wait_for_consumer(self, outlet) -> None:
        print(f"rig: waiting for a consumer of {outlet.get_info().name()} ...", file=sys.stderr)
        start = time.monotonic()
        while not outlet.wait_for_consumers(0.5):
            if self.wait_s is not None and time.monotonic() - start > self.wait_s:
                raise InputError("rig", "--wait", f"a consumer of stream {self.name!r} within {self.wait_s:g} s")

    def play(self, sends: Plan | None) -> None:
        """Send the samples of the stretch (events from ``sends``, or counts when binned) at pace."""
        c, span = self.clock, self.span
        lo, hi = span.bounds(c)
        kin_index = np.arange(span.first, span.stop)
        kin_due = c.first + c.step * kin_index
        kin_values = kinematics(self.rec)[span.first : span.stop].astype(np.float32)
        if self.binned:
            counts = bin_spikes(self.rec, c.step, "count")[span.first : span.stop]
            due, stamps, rows = kin_due, kin_due, counts.tolist()
            outages = []
        else:
            due, stamps = sends.due, sends.times
            rows = np.column_stack([sends.channels, sends.units, sends.sequence]).astype(np.int32).tolist()
            outages = list(sends.outages)
        stamps, kin_stamps, kin_rows = stamps.tolist(), kin_due.tolist(), kin_values.tolist()
        self._wait_for_consumer(self.spikes)
        self._wait_for_consumer(self.kinematics)
        # the LSL clock paces the playback, so that the pace samples state the pacing exactly
        clock_now = self.pylsl.local_clock
        anchor = clock_now()
        pace = [lo, self.speed], anchor  # file time lo was played at LSL time anchor
        next_pace = anchor
        # The rows are hundreds of thousands of small lists: a full garbage collection would walk
        # them all and hold the playback for milliseconds, so they are exempt from collection.
        gc.freeze()
        i = k = 0
        while i < len(rows) or k < len(kin_rows):
            stream_now = lo + (clock_now() - anchor) * self.speed
            if outages and stream_now >= outages[0].at:
                outage = outages.pop(0)
                time.sleep(LINGER_S)  # what was pushed reaches the consumers; then the source vanishes
                self.spikes = None
                time.sleep(outage.seconds / self.speed)
                self.spikes = self._spike_outlet(outage.electrodes or self.rec.n_channels)
                self._wait_for_consumer(self.spikes)
                # pace on from the outage's end, whatever the reconnection took
                resumed = clock_now()
                anchor = resumed - (outage.at + outage.seconds - lo) / self.speed
                pace, next_pace = ([outage.at + outage.seconds, self.speed], resumed), resumed
                continue
            if clock_now() >= next_pace:
                self.pace.push_sample(*pace)
                next_pace = clock_now() + PACE_PERIOD_S
            j = int(np.searchsorted(due, stream_now, side="right"))
            if j > i:
                self.spikes.push_chunk(rows[i:j], stamps[i:j])
                i = j
            m = int(np.searchsorted(kin_due, stream_now, side="right"))
            if m > k:
                self.kinematics.push_chunk(kin_rows[k:m], kin_stamps[k:m])
                k = m
            upcoming = min(due[i] if i < len(rows) else np.inf, kin_due[k] if k < len(kin_rows) else np.inf)
            if outages:
                upcoming = min(upcoming, outages[0].at)
            pause = (upcoming - lo) / self.speed - (clock_now() - anchor)
            if pause > 0:
                time.sleep(min(pause, MAX_SLEEP_S))
        if not self.binned:
            end = sends.sequence.max() + 1 if sends.sequence.size else 0
            self.spikes.push_sample([lsl.END_CHANNEL, lsl.END_CHANNEL, int(end)], hi)
        self._drain()

    def _drain(self) -> None:
        """Wait until the consumers have left (they leave after the end), at most :data:`DRAIN_S`."""
        deadline = time.monotonic() + DRAIN_S
        while (self.spikes.have_consumers() or self.kinematics.have_consumers()) and time.monotonic() < deadline:
            time.sleep(0.05)


def run_rig(
    rec: Recording,
    path: Path,
    name: str = SPIKE_STREAM,
    start_s: float = 0.0,
    seconds: float | None = None,
    speed: float = 1.0,
    binned: bool = False,
    faults: Faults = NO_FAULTS,
    seed: int = 0,
    wait_s: float | None = None,
) -> dict:
    """Play ``rec`` into LSL (module docstring); returns what was sent and injected."""
    c = clock(rec)
    span = stretch(c, start_s, seconds)
    if binned and faults.kinds() + ([] if faults.jitter_us == 0 else ["jitter"]):
        raise InputError("command line", "--binned", "no fault options (faults are injected into event streams)")
    sends = None if binned else plan(spike_events(rec), *span.bounds(c), rec.n_channels, faults, seed)
    rig = Rig(rec, path, name, binned, speed, wait_s, span)
    started = time.perf_counter()
    rig.play(sends)
    summary = {
        "stream": name,
        "samples": span.stop - span.first,
        "seconds": (span.stop - span.first) * c.step,
        "wall_s": time.perf_counter() - started,
        "events": None if sends is None else int(np.unique(sends.sequence).size),
    }
    if sends is not None:
        summary["injected"] = sends.injected
    return summary
