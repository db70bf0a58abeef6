from __future__ import annotations

import numpy as np
import pytest

from bmi_decoder._reaching_task import GRID_MM
from bmi_decoder.kinematics import reach_starts, velocity
from bmi_decoder.preprocess import PreparedSession, bin_spikes, prepare_session
from bmi_decoder.simulate import SimulatedSession, simulate_session
from snn_core.errors import InputError


@pytest.fixture(scope="module")
def sim() -> SimulatedSession:
    return simulate_session(300.0, seed=0)


def _history(X: np.ndarray, groups: int = 5, width: int = 5) -> np.ndarray:
    """Causal Wiener-filter inputs: spike sums over `groups` consecutive `width`-bin windows."""
    csum = np.vstack([np.zeros((1, X.shape[1]), np.float32), np.cumsum(X, axis=0, dtype=np.float32)])
    end = np.arange(1, len(X) + 1)
    cols = [csum[np.clip(end - g * width, 0, None)] - csum[np.clip(end - (g + 1) * width, 0, None)] for g in range(groups)]
    return np.hstack(cols + [np.ones((len(X), 1), np.float32)])


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(1.0 - ((y - pred) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)))


def _wiener_r2(prep: PreparedSession, groups: int = 5, width: int = 5) -> float:
    """Ridge Wiener filter (default: 25 bins of history), ridge strength chosen on val."""
    H = _history(prep.features, groups, width)
    # Every 4th training row: neighbouring 4 ms rows are nearly duplicates.
    Xtr, ytr = H[prep.train][::4].astype(np.float64), prep.velocity[prep.train][::4].astype(np.float64)
    gram, cross = Xtr.T @ Xtr, Xtr.T @ ytr
    fits = [np.linalg.solve(gram + a * np.eye(len(gram)), cross) for a in (10.0, 100.0, 1000.0)]
    best = max(fits, key=lambda W: _r2(prep.velocity[prep.val], H[prep.val] @ W))
    return _r2(prep.velocity[prep.test], H[prep.test] @ best)


def test_channel_rates_match_the_measured_session(sim: SimulatedSession) -> None:
    # docs/data.md, indy_20160630_01: mean 13.8, median 6.6, max 51.7 Hz; 6 silent, 9 under 1 Hz.
    rates = sim.channel_spike_counts / sim.recording.duration_s
    assert 12.0 < rates.mean() < 15.5
    assert 5.5 < np.median(rates) < 8.0
    assert 45.0 < rates.max() < 60.0
    assert (rates == 0).sum() == 6 and 8 <= (rates < 1.0).sum() <= 10
    np.testing.assert_array_equal(np.flatnonzero(rates == 0), sim.dead_channels)


def test_most_20ms_bins_are_empty(sim: SimulatedSession) -> None:
    zero = (bin_spikes(sim.recording, 0.02, "count") == 0).mean()
    assert 0.76 < zero < 0.82  # docs/data.md: 79%


def test_ground_truth_counts_and_clock_mismatch(sim: SimulatedSession) -> None:
    rec, out = sim.recording, sim.outside_spikes
    np.testing.assert_array_equal(sim.channel_spike_counts, np.bincount(rec.spike_channels, minlength=96))
    np.testing.assert_array_equal(sim.unit_spike_counts.sum(axis=1), sim.channel_spike_counts)
    assert ((rec.spike_times >= rec.t[0]) & (rec.spike_times <= rec.t[-1])).all()
    assert ((out.times < rec.t[0]) | (out.times > rec.t[-1])).all()
    assert rec.spikes_outside_window == out.times.size > 1000  # "thousands" (docs/data.md)
    order = np.lexsort((rec.spike_times, rec.spike_units, rec.spike_channels))
    np.testing.assert_array_equal(order, np.arange(rec.spike_times.size))
    # Spike times sit on the 30 kHz acquisition clock.
    np.testing.assert_allclose(rec.spike_times * 30_000, np.round(rec.spike_times * 30_000), atol=1e-4)


def test_hash_and_sorted_units(sim: SimulatedSession) -> None:
    counts = sim.unit_spike_counts
    active = np.setdiff1d(np.arange(96), sim.dead_channels)
    assert (counts[active, 0] > 0).all()  # every live channel has threshold crossings
    with_sorted = (counts[:, 1:] > 0).any(axis=1).sum()
    assert 40 < with_sorted < 85
    assert sim.unit_lag_s[counts > 0].min() >= 0.1 and sim.unit_lag_s.max() <= 0.18
    assert 10 <= sim.untuned_channels.size <= 15
    assert not sim.unit_weights[sim.untuned_channels].any()


def test_behaviour_looks_like_the_task(sim: SimulatedSession) -> None:
    rec = sim.recording
    np.testing.assert_allclose(np.diff(rec.t), 0.004, atol=1e-9)
    assert rec.t[0] > 100.0 and rec.chan_names[0] == "M1 001" and rec.chan_names[-1] == "M1 096"
    assert np.isin(rec.target_pos, GRID_MM).all()
    starts = reach_starts(rec.target_pos)
    assert 1.0 < rec.duration_s / starts.size < 2.0  # about 20,000 reaches in 37 sessions
    speed = np.hypot(*velocity(rec.cursor_pos, rec.t).T)
    assert 150.0 < np.percentile(speed, 95) < 450.0 and np.median(speed) < 60.0
    assert np.abs(rec.cursor_pos).max() < 100.0
    # The cursor ends each reach inside the target window, just before the next target appears.
    ends = starts[1:] - 1
    assert (np.linalg.norm(rec.cursor_pos[ends] - rec.target_pos[ends], axis=1) < 10.0).mean() > 0.95


def test_ridge_wiener_filter_is_neither_trivial_nor_hopeless(sim: SimulatedSession) -> None:
    assert 0.35 < _wiener_r2(prepare_session(sim.recording)) < 0.8


def test_neural_activity_leads_velocity(sim: SimulatedSession) -> None:
    # One 20 ms bin alone decodes the velocity 140 ms later (the simulated lead is 100-180 ms)
    # better than the velocity of its own time, and that better than the velocity 140 ms before.
    r2 = [_wiener_r2(prepare_session(sim.recording, 0.02, lag=lag), 1, 1) for lag in (0.14, 0.0, -0.14)]
    assert r2[0] > r2[1] + 0.05 and r2[1] > r2[2] + 0.05


def test_same_seed_same_session_other_seed_other_session() -> None:
    a, b, c = (simulate_session(20.0, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.recording.spike_times, b.recording.spike_times)
    np.testing.assert_array_equal(a.recording.cursor_pos, b.recording.cursor_pos)
    assert a.recording.spike_times.size != c.recording.spike_times.size


def test_192_channels_five_units_six_finger_columns() -> None:
    sim = simulate_session(20.0, channels=192, seed=1, finger_columns=6, units_per_channel=5)
    rec = sim.recording
    assert rec.n_channels == 192 and rec.chan_names[96] == "S1 001" and rec.chan_names[-1] == "S1 096"
    assert rec.finger_pos.shape == (5000, 6) and sim.unit_spike_counts.shape == (192, 5)
    assert sim.dead_channels.size == 12 and rec.spike_units.max() <= 4


@pytest.mark.parametrize("kwargs", [{"seconds": 0.5}, {"channels": 0}, {"finger_columns": 4}, {"units_per_channel": 1}])
def test_out_of_range_arguments_are_input_errors(kwargs: dict) -> None:
    with pytest.raises(InputError):
        simulate_session(**kwargs)
