"""What the live consumer counts: sequence numbers, fault counts and latency percentiles.

Nothing here touches Lab Streaming Layer, so the rules can be tested without a network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A jump in sequence numbers this large is a restarted source, not lost events.
MAX_SEQUENCE_JUMP = 1_000_000


class SequenceTracker:
    """Classifies events by sequence number: new, out of order (filling a hole) or duplicate."""

    NEW, OUT_OF_ORDER, DUPLICATE = range(3)

    def __init__(self) -> None:
        self.top = -1
        self.missing: set[int] = set()

    def see(self, seq: int) -> int:
        if seq > self.top:
            if seq - self.top > MAX_SEQUENCE_JUMP:
                self.missing.clear()
            elif seq > self.top + 1:
                self.missing.update(range(self.top + 1, seq))
            self.top = seq
            return self.NEW
        if seq in self.missing:
            self.missing.discard(seq)
            return self.OUT_OF_ORDER
        return self.DUPLICATE

    def lost(self) -> tuple[int, int]:
        """(runs of missing sequence numbers, missing numbers): dropped chunks and lost events."""
        missing = self.missing.copy()  # one C call: the view thread may ask while events arrive
        gaps = np.diff(np.sort(np.fromiter(missing, dtype=np.int64, count=len(missing))))
        return (int(np.count_nonzero(gaps != 1)) + 1 if missing else 0), len(missing)


@dataclass
class Counts:
    """What went wrong, counted (docs/live.md, "Faults and their rules")."""

    late_bins: int = 0
    dropped_bins: int = 0
    gaps: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    dropped_chunks: int = 0
    lost_events: int = 0
    stale_events: int = 0
    reconnects: int = 0


def percentiles_us(seconds) -> dict[str, float | None]:
    """median, p95, p99 and max of durations in seconds, as microseconds."""
    if len(seconds) == 0:
        return {"median": None, "p95": None, "p99": None, "max": None}
    us = np.asarray(seconds, dtype=np.float64) * 1e6
    p50, p95, p99 = np.percentile(us, [50, 95, 99])
    return {"median": float(p50), "p95": float(p95), "p99": float(p99), "max": float(us.max())}
