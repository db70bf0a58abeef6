"""What the live consumer reports: stream.json's figures, r2_offline and the view's rows.

Functions of a :class:`~bmi_decoder.live.stream.LiveDecoder` (``live``), read while it streams:
the view's thread calls :func:`stats` and :func:`rows_since` beside the decode loop, so they
only read its append-only lists up to their current length.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bmi_decoder.evaluation import r2_score
from bmi_decoder.live.bookkeeping import percentiles_us

# How many bins the view waits for a bin's true kinematics before drawing it without them.
VIEW_WAIT_BINS = 100


def labels(live) -> tuple[np.ndarray, np.ndarray]:
    """(positions among decoded bins, true velocity) for the decoded bins with a label so far."""
    if live.truth is None or not live.bins:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2))
    true = live.truth.rows(np.asarray(live.bins))[:, :2]
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
    bins = np.asarray(live.bins)
    live.decoder.reset()
    offline = {}
    for j in range(bins.min(), bins.max() + 1):
        offline[j] = live.decoder.step(features[j])
    where, true = labels(live)
    return r2_score(true, np.stack([offline[j] for j in bins[where]])) if len(where) > 1 else None


def from_end(live) -> np.ndarray:
    """Seconds from each decoded bin's end (source clock, mapped) to its push; NaN where the
    source's clock is not known (a rig's pace not received yet)."""
    n = len(live.pushed)
    if live.binner is None or not n:
        return np.zeros(0)
    ends = live.link.source_clock.to_local_array(live._edges(np.asarray(live.bins[:n])))
    return np.asarray(live.pushed[:n]) - ends


def stats(live) -> dict:
    """stream.json's content (docs/live.md: every field)."""
    counts = live.counts
    if live.rules is not None:
        counts.dropped_chunks, counts.lost_events = live.rules.sequence.lost()
    where, true = labels(live)
    r2_online = r2_score(true, np.stack([live.predictions[i] for i in where])) if len(where) > 1 else None
    stream_s = len(live.bins) * live.bin_width
    after_end = from_end(live)
    after_end = after_end[~np.isnan(after_end)]
    # slices are copies: a buffer exported from the arrays would stop the loop appending to them
    n = min(len(live.stamps), len(live.arrivals))
    delays = np.frombuffer(live.arrivals[:n]) - live.link.source_clock.to_local_array(np.frombuffer(live.stamps[:n]))
    return {
        "stream": live.name,
        "decoder": live.decoder.name,
        "bins": len(live.bins),
        "bin_s": live.bin_width,
        "latency_from_end_us": percentiles_us(after_end),
        "late_from_end": int(np.count_nonzero(after_end > live.bin_width)),
        "latency_us": percentiles_us(live.latencies),
        "decode_us": percentiles_us(live.decode_times),
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
        "finished": live.finished,
        "note": live.note,
    }


def rows_since(live, start: int) -> list[dict]:
    """The decoded bins from position ``start`` on, with the true kinematics of their label
    sample once it has arrived (the view waits up to :data:`VIEW_WAIT_BINS` bins for it)."""
    stop = len(live.bins)
    if stop <= start:
        return []
    truth = live.truth.rows(np.asarray(live.bins[start:stop])) if live.truth is not None else None
    rows = []
    for i in range(start, stop):
        kin = truth[i - start] if truth is not None else None
        known = kin is not None and not np.isnan(kin[0])
        if not known and stop - i < VIEW_WAIT_BINS:
            break
        rows.append(
            {
                "t": round(live.bins[i] * live.bin_width, 4),
                "decoded": [round(float(v), 2) for v in live.predictions[i]],
                "true": [round(float(v), 2) for v in kin[:2]] if known else None,
                "cursor": [round(float(v), 2) for v in kin[2:4]] if known and not np.isnan(kin[2]) else None,
                "target": [round(float(v), 2) for v in kin[4:6]] if known and not np.isnan(kin[4]) else None,
            }
        )
    return rows
