"""The consumer's rules without a network: bins closed by the clock equal the offline bins when no
event is late, a quiet stretch closes its bins on time, a late event is stale, a long silence a gap."""

from __future__ import annotations

import numpy as np
import pytest

from bmi_decoder.live.binning import OnlineBinner
from bmi_decoder.live.bookkeeping import Counts
from bmi_decoder.live.events import clock, spike_events
from bmi_decoder.live.rules import EventRules
from bmi_decoder.preprocess import bin_spikes
from bmi_decoder.simulate import simulate_session

MARGIN, TICK, MAX_GAP = 0.001, 0.0001, 0.1


@pytest.fixture(scope="module")
def recording():
    return simulate_session(seconds=6.0, seed=3).recording


def play(rec, times, channels, arrivals, close_after=MARGIN):
    """Feed events arriving at ``arrivals`` (source and local clocks equal) with the clock ticking
    every :data:`TICK` s in between; returns the rules, the counts and each decoded bin as
    (bin, features, local time, closed by the clock)."""
    c = clock(rec)
    binner = OnlineBinner(c, 0.004, "or", rec.n_channels)
    counts, decoded = Counts(), []

    def decode(now: float, by_clock: bool) -> None:
        j = binner.open
        decoded.append((j, binner.close(), now, by_clock))

    rules = EventRules(binner, counts, decode, rec.n_channels, MAX_GAP, "test", close_after_s=close_after)
    ticks = iter(np.arange(arrivals[0], arrivals[-1] + 0.05, TICK).tolist())
    tick = next(ticks)
    for stamp, channel, arrival in zip(times.tolist(), channels.tolist(), arrivals.tolist()):
        while tick < arrival:
            rules.tick(tick)
            tick = next(ticks)
        rules.event(channel, None, stamp, arrival)
    for tick in ticks:
        rules.tick(tick)
    return rules, counts, decoded


def offline_equal(rec, decoded):
    offline = bin_spikes(rec, 0.004, "or")
    bins = [j for j, *_ in decoded]
    assert bins == list(range(bins[0], bins[-1] + 1))  # every bin, in order, once
    np.testing.assert_array_equal(np.stack([x for _, x, *_ in decoded]), offline[bins[0] : bins[-1] + 1])


def test_clock_closed_bins_equal_offline_when_no_event_is_late(recording):
    events = spike_events(recording)
    rng = np.random.default_rng(0)
    # every event arrives less than the margin after its time, in the order it was sent
    arrivals = np.maximum.accumulate(events.times + rng.uniform(0, MARGIN * 0.99, events.times.size))
    rules, counts, decoded = play(recording, events.times, events.channels, arrivals)
    offline_equal(recording, decoded)
    by_clock = sum(d[3] for d in decoded)
    assert by_clock > len(decoded) // 4  # the clock, not the next event, closed many bins
    assert counts.stale_events == 0 and counts.gaps == 0 and counts.dropped_bins == 0


def test_event_closed_bins_equal_offline(recording):
    events = spike_events(recording)
    _, counts, decoded = play(recording, events.times, events.channels, events.times + 0.05, close_after=None)
    offline_equal(recording, decoded)
    assert not any(d[3] for d in decoded) and counts.stale_events == 0


def test_a_quiet_stretch_closes_its_bins_on_time(recording):
    events = spike_events(recording)
    c = clock(recording)
    quiet = (c.sample_time(500), c.sample_time(515))  # 60 ms without a spike, short of a gap
    keep = (events.times <= quiet[0]) | (events.times > quiet[1])
    times, channels = events.times[keep], events.channels[keep]
    rules, counts, decoded = play(recording, times, channels, times + 0.0002)
    # bins 501 to 515 are empty; the last may be closed early by the next bin's first event
    inside = [(j, now, by_clock) for j, _, now, by_clock in decoded if 500 < j < 515]
    assert len(inside) == 14
    for j, now, by_clock in inside:
        end = c.sample_time(j)
        assert by_clock and end + MARGIN <= now < end + MARGIN + TICK + 1e-9, (j, now - end)
    assert counts.gaps == 0 and counts.dropped_bins == 0


def test_an_event_after_its_bin_closed_is_stale(recording):
    events = spike_events(recording)
    bins = np.searchsorted(recording.t, events.times)
    counts = bin_spikes(recording, 0.004, "count")
    # the last event of its bin, its channel's only spike there: held up, it delays no other event
    # past its own deadline
    last = (np.diff(bins, append=bins[-1] + 1) > 0) & (counts[bins, events.channels] == 1)
    late = int(np.flatnonzero(last & (events.times > 1.0))[0])
    arrivals = events.times + 0.0002
    arrivals[late] = recording.t[bins[late]] + MARGIN + 2 * TICK
    _, counted, decoded = play(recording, events.times, events.channels, np.maximum.accumulate(arrivals))
    assert counted.stale_events == 1
    row = {j: x for j, x, *_ in decoded}[int(bins[late])]
    assert row[events.channels[late]] == 0
    assert row.sum() == counts[bins[late]].clip(max=1).sum() - 1  # the rest of the bin as offline


def test_a_long_silence_is_a_gap_after_the_clock_closed_what_it_may(recording):
    events = spike_events(recording)
    c = clock(recording)
    keep = (events.times <= c.sample_time(500)) | (events.times > c.sample_time(600))  # 400 ms of silence
    times, channels = events.times[keep], events.channels[keep]
    _, counts, decoded = play(recording, times, channels, times + 0.0002)
    bins = [j for j, *_ in decoded]
    assert counts.gaps == 1
    # the clock closed the bins within MAX_GAP of the last event; the rest of the silence was dropped
    closed = [j for j in bins if 500 < j < 600]
    assert closed == list(range(501, 501 + len(closed))) and 0 < len(closed) <= round(MAX_GAP / 0.004)
    assert len(bins) + counts.dropped_bins == bins[-1] - bins[0] + 1


def test_figures_while_streaming_cover_the_window_and_the_final_ones_the_run():
    """stream.json's figures (bmi_decoder.live.results.stats) over the last window_s seconds
    while streaming, over every bin at the end; counts always over the run."""
    from array import array
    from types import SimpleNamespace

    from bmi_decoder.live import results

    n, bin_s, now = 3000, 0.004, 12.0
    pushed = np.arange(n) * bin_s  # the last push at 11.996 s
    slow = pushed < now - 10.0  # the first 2 s: 10 ms from complete to push; later 100 us
    clock = SimpleNamespace(to_local_array=lambda t: np.asarray(t, dtype=np.float64), correction=0.0)
    live = SimpleNamespace(
        name="test", decoder=SimpleNamespace(name="wiener"), counts=Counts(), rules=None, binner=None, truth=None,
        now=lambda: now, bin_width=bin_s, bins=array("q", range(n)), predictions=array("d", np.zeros(2 * n)),
        pushed=array("d", pushed), latencies=array("d", np.where(slow, 0.01, 1e-4)),
        decode_times=array("d", np.full(n, 5e-6)), stamps=array("d", pushed), arrivals=array("d", pushed + 2e-4),
        link=SimpleNamespace(source_clock=clock, binned=False), closed_by_clock=7, close_after_s=0.001,
        busy_s=0.1, realtime_cpu=None, r2_offline=None, started=0.0, finished=False, note="",
    )  # fmt: skip
    window = results.stats(live, window_s=10.0)
    assert window["window_s"] == 10.0 and window["bins"] == n and window["closed_by_clock"] == 7
    assert window["latency_us"]["max"] == pytest.approx(100.0)  # the slow first 2 s are outside
    assert window["event_delay_us"]["median"] == pytest.approx(200.0)
    run = results.stats(live)
    assert run["window_s"] is None and run["latency_us"]["max"] == pytest.approx(10_000.0)
