"""Online spike binning that reproduces :func:`bmi_decoder.preprocess.bin_spikes` exactly.

Offline, behaviour sample ``i`` owns the spikes with ``t[i-1] < time <= t[i]`` and bin ``j``
gathers samples ``j*k ... j*k + k - 1`` (``k = bin_width / step``). Online there is no clock
array, only its first time stamp and its step, so sample times are recomputed as
``first + step * i``: the very floating-point expression that built the clock of a regular
recording (:meth:`bmi_decoder.live.events.Clock.sample_time`), hence the same edges bit for bit
and the same bin for a spike that lies exactly on an edge (the 30 kHz spike clock puts one spike
in 120 on a 4 ms tick). Each event is placed by comparing it with those edges, never by rounding
a division.

A bin is complete when an event of a later bin arrives (or the stream's end marker): events
come in time order, so nothing more can belong to it. The consumer may also close it by the clock
(:mod:`bmi_decoder.live.rules`). Within the open bin the order of events
does not matter (OR and counts commute).
"""

from __future__ import annotations

import math

import numpy as np

from bmi_decoder.live.events import Clock
from bmi_decoder.recording import SpikeEvents
from snn_core.errors import InputError

LIVE_MODES = ("or", "count")
"""Binning modes that can be computed online. ``"sorted"`` numbers its columns by the sorted
units present in the whole session, which a stream only knows once it has ended."""


def samples_per_bin(clock: Clock, bin_width: float, source: str = "stream") -> int:
    """``bin_width`` in behaviour samples, checked as offline (a positive multiple of the step)."""
    k = int(round(bin_width / clock.step))
    if k < 1 or abs(k * clock.step - bin_width) > 1e-6 * clock.step:
        raise InputError(source, "bin_width", f"a positive multiple of the {clock.step * 1e3:g} ms step, got {bin_width!r}")
    return k


class OnlineBinner:
    """Bins time-ordered spike events into the offline bins, one open bin at a time.

    Args:
        clock: the behaviour clock the stream declares.
        bin_width: seconds, a multiple of the clock's step.
        mode: ``"or"`` (1 when any unit of the channel fired, NeuroBench) or ``"count"``.
        n_channels: feature columns, the checkpoint's channel count.
        first_bin: the bin to open first (a consumer joining late starts where the stream is).
    """

    def __init__(self, clock: Clock, bin_width: float, mode: str, n_channels: int, first_bin: int = 0) -> None:
        if mode not in LIVE_MODES:
            raise InputError("checkpoint", "data.mode", f"one of {', '.join(LIVE_MODES)} for live binning, got {mode!r}")
        self.clock = clock
        self.k = samples_per_bin(clock, bin_width)
        self.n_bins = clock.n_samples // self.k  # offline drops the samples of a last partial bin
        self.mode = mode
        self.open = first_bin
        self.features = np.zeros(n_channels, dtype=np.float32)
        self._upper = self.upper_edge(first_bin)

    def upper_edge(self, j: int) -> float:
        """Time stamp of bin ``j``: its last sample's time (inclusive upper edge)."""
        return self.clock.sample_time((j + 1) * self.k - 1)

    def sample_of(self, time: float) -> int:
        """The behaviour sample owning a spike at ``time`` (-1 before the first sample's step)."""
        clock = self.clock
        i = max(int(math.ceil((time - clock.first) / clock.step)), 0)
        # the division only guesses; the edges decide, compared exactly as offline
        while i > 0 and clock.sample_time(i - 1) >= time:
            i -= 1
        while clock.sample_time(i) < time:
            i += 1
        if i == 0 and time <= clock.sample_time(-1):
            return -1
        return i

    def bin_of(self, time: float) -> int:
        """The bin a spike at ``time`` belongs to (-1: before the session); the open bin itself
        when ``time`` lies in it, checked first because nearly every event does."""
        if time <= self._upper and time > self.upper_edge(self.open - 1):
            return self.open
        sample = self.sample_of(time)
        return -1 if sample < 0 else sample // self.k

    def add(self, channel: int) -> None:
        """Count a spike of ``channel`` in the open bin."""
        if self.mode == "or":
            self.features[channel] = 1.0
        else:
            self.features[channel] += 1.0

    def close(self) -> np.ndarray:
        """The open bin's features (a new array); the next bin opens empty."""
        out = self.features.copy()
        self.skip_to(self.open + 1)
        return out

    def skip_to(self, j: int) -> None:
        """Open bin ``j`` empty, discarding whatever the open bin held."""
        self.features[:] = 0.0
        self.open = j
        self._upper = self.upper_edge(j)


def bin_events(events: SpikeEvents, clock: Clock, bin_width: float, mode: str, n_channels: int) -> np.ndarray:
    """Bin a whole time-ordered event list through :class:`OnlineBinner`, event by event.

    Returns:
        (n_bins, n_channels) float32, equal to ``bin_spikes`` of the recording they came from.
    """
    binner = OnlineBinner(clock, bin_width, mode, n_channels)
    out = np.zeros((binner.n_bins, n_channels), dtype=np.float32)
    for time, channel in zip(events.times.tolist(), events.channels.tolist()):
        j = binner.bin_of(time)
        if j < 0 or j >= binner.n_bins:
            continue
        while binner.open < j:
            row = binner.open  # close() moves on to the next bin
            out[row] = binner.close()
        binner.add(channel)
    if binner.open < binner.n_bins:
        out[binner.open] = binner.features
    return out
