"""What the live consumer reports: stream.json's figures, r2_offline and the view's rows.

Functions of a :class:`~bmi_decoder.live.stream.LiveDecoder` (``live``), read while it streams:
the view's thread calls :func:`stats` and :func:`rows_since` beside the decode loop, so they
only read its append-only lists up to their current length.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bmi_decoder.evaluation import r2_score
from bmi_decoder.live.bookkeeping import percentiles_us

# While streaming, stream.json's and the view's figures cover the last this many seconds, so that
# their cost in the decode loop stays bounded (whole-run figures grow with the run, past a bin's
# time within a minute: docs/live.md); the final write covers the whole run.
WINDOW_S = 10.0
# How many bins the view waits for a bin's true kinematics before drawing it without them.
VIEW_WAIT_BINS = 100


def bins_from(live, first: int = 0) -> slice:
    """The positions of the decoded bins from ``first`` on, as far as every per-bin array holds
    them (the loop may be appending)."""
    return slice(first, min(len(live.bins), len(live.pushed), len(live.predictions) // 2))


def decoded(live, at: slice) -> tuple[np.ndarray, np.ndarray]:
    """(bin indices, velocities pushed) at the positions ``at``, copied out of the loop's arrays
    (a buffer exported from them would stop the loop appending)."""
    bins = np.frombuffer(live.bins[at], dtype=np.int64)
    return bins, np.frombuffer(live.predictions[2 * at.start : 2 * at.stop]).reshape(-1, 2)


def labels(live, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions among ``bins`` with a label so far, their true velocity)."""
    if live.truth is None or not len(bins):
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
    true = live.truth.rows(bins)[:, :2]
    known = np.flatnonzero(~np.isnan(true).any(axis=1))
    return known, true[known]


def offline_r2(live) -> float | None:
    """r2_offline: the same bins, binned offline from the recording and decoded from reset (None
    without the recording; a recording other than the one played leaves a note)."""
    from bmi_decoder.io import read_recording
    from bmi_decoder.preprocess import bin_spikes

    path = live.reference or (Path(live.link.source_file) if live.link.source_file else None)
    if path is None or not path.exists() or not live.bins:
        return None
    rec = read_recording(path)
    if live.link.clock is None or float(rec.t[0]) != live.clock.first or rec.t.size != live.clock.n_samples:
        live.note = f"r2_offline not computed: {path} is not the recording this stream played"
        return None
    features = bin_spikes(rec, live.bin_width, live.mode)
    bins, _ = decoded(live, bins_from(live))
    live.decoder.reset()
    offline = {}
    for j in range(bins.min(), bins.max() + 1):
        offline[j] = live.decoder.step(features[j])
    where, true = labels(live, bins)
    return r2_score(true, np.stack([offline[j] for j in bins[where]])) if len(where) > 1 else None


def from_end(live, at: slice) -> np.ndarray:
    """Seconds from the end of each decoded bin at ``at`` to its push; NaN where the source's
    clock is not known (a rig's pace not received yet)."""
    if live.binner is None or at.stop <= at.start:
        return np.zeros(0)
    ends = live.link.source_clock.to_local_array(live._edges(np.frombuffer(live.bins[at], dtype=np.int64)))
    return np.frombuffer(live.pushed[at]) - ends


def stats(live, window_s: float | None = None) -> dict:
    """stream.json's content (docs/live.md: every field): counts over the whole run, figures
    (latencies, R2) over the bins pushed and events arrived in the last ``window_s`` seconds
    (None: the whole run)."""
    counts = live.counts
    if live.rules is not None:
        counts.dropped_chunks, counts.lost_events = live.rules.sequence.lost()
    since = -math.inf if window_s is None else live.now() - window_s
    at = bins_from(live, bisect.bisect_left(live.pushed, since))
    bins, predictions = decoded(live, at)
    where, true = labels(live, bins)
    r2_online = r2_score(true, predictions[where]) if len(where) > 1 else None
    stream_s = len(live.bins) * live.bin_width
    after_end = from_end(live, at)
    after_end = after_end[~np.isnan(after_end)]
    events = slice(bisect.bisect_left(live.arrivals, since), min(len(live.stamps), len(live.arrivals)))
    delays = np.frombuffer(live.arrivals[events]) - live.link.source_clock.to_local_array(np.frombuffer(live.stamps[events]))
    return {
        "stream": live.name,
        "decoder": live.decoder.name,
        "bins": len(live.bins),
        "bin_s": live.bin_width,
        "latency_from_end_us": percentiles_us(after_end),
        "late_from_end": int(np.count_nonzero(after_end > live.bin_width)),
        "latency_us": percentiles_us(np.frombuffer(live.latencies[at])),
        "decode_us": percentiles_us(np.frombuffer(live.decode_times[at])),
        "event_delay_us": percentiles_us(delays[~np.isnan(delays)]),
        "closed_by_clock": live.closed_by_clock,
        "close_after_ms": None if live.close_after_s is None or live.link.binned else live.close_after_s * 1e3,
        "time_correction_s": live.link.source_clock.correction,
        "real_time_factor": live.busy_s / stream_s if stream_s else None,
        "realtime_cpu": live.realtime_cpu,
        **asdict(counts),
        "r2_online": r2_online,
        "r2_offline": live.r2_offline,
        "wall_s": time.perf_counter() - live.started,
        "window_s": window_s,
        "finished": live.finished,
        "note": live.note,
    }


def rows_since(live, start: int) -> list[dict]:
    """The decoded bins from position ``start`` on, with the true kinematics of their label
    sample once it has arrived (the view waits up to :data:`VIEW_WAIT_BINS` bins for it)."""
    bins, predictions = decoded(live, bins_from(live, start))
    stop = start + len(bins)
    if stop <= start:
        return []
    truth = live.truth.rows(bins) if live.truth is not None else None
    rows = []
    for i in range(start, stop):
        kin = truth[i - start] if truth is not None else None
        known = kin is not None and not np.isnan(kin[0])
        if not known and stop - i < VIEW_WAIT_BINS:
            break
        rows.append(
            {
                "t": round(int(bins[i - start]) * live.bin_width, 4),
                "decoded": [round(float(v), 2) for v in predictions[i - start]],
                "true": [round(float(v), 2) for v in kin[:2]] if known else None,
                "cursor": [round(float(v), 2) for v in kin[2:4]] if known and not np.isnan(kin[2]) else None,
                "target": [round(float(v), 2) for v in kin[4:6]] if known and not np.isnan(kin[4]) else None,
            }
        )
    return rows
