"""The consumer's rules for spike events, and when a bin is closed: by a later event or by the clock.

Pure bookkeeping around an :class:`~bmi_decoder.live.binning.OnlineBinner`: it receives events
and the time, and calls ``decode`` whenever the open bin is complete. Nothing here touches Lab
Streaming Layer, so the rules are tested with plain lists (``tests/bmi_decoder/test_live_rules.py``).

Rules (docs/live.md, "Faults and their rules"):

- duplicate: an event whose sequence number was already received is discarded.
- out of order: an event whose sequence number is below the highest received fills a hole; it
  is binned if its bin is still open, otherwise discarded as stale.
- stale: an event whose time stamp falls in a bin already decoded is discarded and counted.
- gap: two consecutive events more than ``max_gap_s`` apart. The bin before the gap is decoded;
  the bins inside it that the clock has not closed are dropped (not decoded, decoder state kept).

Closing: events come in time order, so an event of a later bin completes the open one. On a
quiet array that may be long after the bin's end; with ``close_after_s`` set, :meth:`tick` also
closes the open bin once the local clock passes its end (mapped by ``to_local``) plus that
margin. An event that arrives later than the margin finds its bin closed and is stale. The clock
closes bins only up to ``max_gap_s`` after the last event: a longer silence is a gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from bmi_decoder.live.binning import OnlineBinner
from bmi_decoder.live.bookkeeping import Counts, SequenceTracker
from snn_core.errors import InputError


class EventRules:
    """Feeds time-stamped spike events into ``binner`` and decodes each bin once it is complete.

    Args:
        binner: the online bins.
        counts: fault counts, updated in place.
        decode: called with the local time and whether the clock closed the bin, once the open
            bin is complete; it must close it (``binner.close()``).
        n_channels: valid channel indices are ``0 ... n_channels - 1``.
        max_gap_s: a silence longer than this is a gap.
        source: names the stream in errors.
        close_after_s: margin after a bin's end for :meth:`tick`; None: only events close bins.
        to_local: a source time on the local clock (None while unknown); :meth:`tick` needs it.
        stop_bin: the clock closes no bin from here on (the end of what the rig plays, its
            ``clock/stop``): those wait for the end marker.
    """

    def __init__(
        self,
        binner: OnlineBinner,
        counts: Counts,
        decode: Callable[[float, bool], None],
        n_channels: int,
        max_gap_s: float,
        source: str,
        close_after_s: float | None = None,
        to_local: Callable[[float], float | None] = lambda t: t,
        stop_bin: int | None = None,
    ) -> None:
        self.binner, self.counts, self.decode = binner, counts, decode
        self.n_channels, self.max_gap_s, self.source = n_channels, max_gap_s, source
        self.close_after_s, self.to_local = close_after_s, to_local
        self.stop_bin = binner.n_bins if stop_bin is None else min(stop_bin, binner.n_bins)
        self.sequence = SequenceTracker()
        self.started = False  # decoding starts at the bin of the first event
        self.resync = False  # after a reconnection: the source may have restarted its numbering
        self.last_time = -math.inf
        self.last_bin = -1

    def event(self, channel: int, sequence: int | None, stamp: float, now: float) -> None:
        """One spike event (``sequence`` None for a stream without numbers), arrived at ``now``."""
        binner, counts = self.binner, self.counts
        if sequence is not None:
            if self.resync:
                self.resync = False
                if sequence <= self.sequence.top and sequence not in self.sequence.missing:
                    self.sequence = SequenceTracker()
            kind = self.sequence.see(sequence)
            if kind == SequenceTracker.DUPLICATE:
                counts.duplicates += 1
                return
            if kind == SequenceTracker.OUT_OF_ORDER:
                counts.out_of_order += 1
        elif stamp < self.last_time:
            counts.out_of_order += 1
        j = binner.bin_of(stamp)
        if j < 0 or j >= binner.n_bins:
            return
        if not self.started:
            binner.skip_to(j)
            self.started = True
        if j < binner.open:
            counts.stale_events += 1
            return
        if not 0 <= channel < self.n_channels:
            raise InputError(self.source, "channel", f"channel indices 0 to {self.n_channels - 1}, got {channel}")
        if j > binner.open:
            if stamp - self.last_time > self.max_gap_s:
                if binner.open == self.last_bin:  # the bin before the gap, unless the clock closed it
                    self.decode(now, False)
                counts.gaps += 1
                counts.dropped_bins += j - binner.open
                binner.skip_to(j)
            else:
                while binner.open < j:
                    self.decode(now, False)
        binner.add(channel)
        self.last_time = max(self.last_time, stamp)
        self.last_bin = j

    def end(self, stamp: float, now: float) -> None:
        """The source's end marker, stamped with its last sample: every bin up to it is complete."""
        binner = self.binner
        while binner.open < binner.n_bins and binner.upper_edge(binner.open) <= stamp:
            self.decode(now, False)

    def deadline(self) -> float:
        """Local time at which :meth:`tick` closes the open bin (inf: not by the clock, not yet)."""
        binner = self.binner
        if self.close_after_s is None or not self.started or binner.open >= self.stop_bin:
            return math.inf
        edge = binner.upper_edge(binner.open)
        if edge - self.last_time > self.max_gap_s:  # deep in a silence: the next event decides (gap)
            return math.inf
        local = self.to_local(edge)
        return math.inf if local is None else local + self.close_after_s

    def tick(self, now: float) -> None:
        """Close, by the clock, every open bin whose end plus the margin has passed at ``now``."""
        while now >= self.deadline():
            self.decode(now, True)
