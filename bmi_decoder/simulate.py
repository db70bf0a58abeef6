"""Simulated self-paced reaching sessions with the statistics of the O'Doherty recordings.

The real files cannot be downloaded on the build machines (docs/data.md), so the demo, the tests and
the benchmarks run on sessions from this simulator. It matches the measured numbers that a
decoder's difficulty depends on: per-channel rates (mean 13.8 Hz, median 6.6 Hz, max about 50 Hz,
6 of 96 channels silent, 9 under 1 Hz), about 79% empty (20 ms bin, channel) entries, and a
neural lead of roughly 100 to 180 ms over hand velocity.

Two parts: the task (:mod:`bmi_decoder._reaching_task`: targets on an 8 x 8 grid, minimum-jerk
reaches with corrections) and the neurons here. Each unit's log rate is the sum of

- its tuning: a linear function of velocity, speed and position 50 to 200 ms ahead (Moran &
  Schwartz 1999: M1 rates follow velocity with cosine tuning and a lead; the lead differs from
  neuron to neuron), whose preferred direction and gain drift slowly over the session;
- a slow drift of its baseline (recording instability over minutes; Perge et al. 2013,
  "Intra-day signal instabilities affect decoding performance in an intracortical neural
  interface system");
- a shared excitability factor, one seconds-long fluctuation common to all units, each with its
  own loading (Goris, Movshon & Simoncelli 2014, "Partitioning neuronal variability": much of
  cortical variability is a shared, slowly varying gain);
- private fast fluctuations (overdispersion).

Spikes are drawn from that rate with an absolute and a relative refractory period, and some
sorted units fire bursts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from bmi_decoder._reaching_task import DT, simulate_reaching
from bmi_decoder._refractoriness import add_bursts, candidate_scale, refractory_thinning
from bmi_decoder.kinematics import velocity
from bmi_decoder.recording import Recording, SpikeEvents
from snn_core.errors import InputError

# Bumped whenever the same seed would give a different session: cached simulated files carry it
# in their names, so a cache never serves a session from an older simulator.
SIMULATOR_VERSION = 3
# Spike times are multiples of the 30 kHz sampling period of the Blackrock Cerebus system.
SPIKE_CLOCK_HZ = 30_000.0
# Log-rate regressors and the scales that bring each to about unit size during reaches.
TUNING_FEATURES = ("vx", "vy", "speed", "x", "y")
_FEATURE_SCALE = np.array([150.0, 150.0, 150.0, 70.0, 70.0])
# Per-channel mean rates of the active channels follow r(q) = 1.2 + 50.8 q**2.7 over the
# quantiles q: with 6 silent and 3 sub-1 Hz channels per 96 this gives mean 13.5, median 6.8,
# max about 52 Hz, as measured on indy_20160630_01 (docs/data.md); a lognormal with that mean and
# median would put the maximum well above 100 Hz.
_RATE_MIN_HZ, _RATE_MAX_HZ, _RATE_POWER = 1.2, 52.0, 2.7
_DEAD_PER_96, _LOW_PER_96, _UNTUNED_SHARE = 6, 3, 0.15
# Per-unit leads spread around the population's 100 to 180 ms (docs/data.md).
_LAG_RANGE_S = (0.05, 0.20)
# Slow drift within the session: Gaussian knots every 2 minutes, linearly joined, for the log
# baseline, the log tuning gain and the preferred direction (radians).
_DRIFT_KNOT_S, _DRIFT_SD, _GAIN_DRIFT_SD, _DIRECTION_DRIFT_SD = 120.0, 0.25, 0.25, 0.35
# The shared excitability factor: unit-variance noise smoothed over about a second, entering each
# unit's log rate with a loading drawn from _SHARED_LOADING.
_SHARED_SD, _SHARED_TIMESCALE_S, _SHARED_LOADING = 0.5, 1.0, (0.3, 1.0)
# Refractoriness of a sorted unit (one neuron): no spike for 1 to 2 ms, then a recovery of the
# spike probability with a 2 to 5 ms time constant. The hash unit pools several neurons, so it
# only has the detector's dead time: one waveform snippet, 48 samples at 30 kHz = 1.6 ms.
_ABSOLUTE_REFRACTORY_S, _RELATIVE_REFRACTORY_S, _SNIPPET_S = (0.001, 0.002), (0.002, 0.005), 0.0016
# Bursts: a share of the sorted units start a burst of 1 to 3 extra spikes, 2.5 to 6 ms apart,
# after some of their spikes (complex-spike bursts of pyramidal cells).
_BURSTY_SHARE, _BURST_PROBABILITY, _BURST_ISI_S = 0.3, (0.05, 0.2), (0.0025, 0.006)
# Private log-rate fluctuations unrelated to the movement (smooth over tens of ms): real M1
# counts are overdispersed, Fano factors of 1.5 and more (Churchland et al. 2010). With the
# shared factor and the drifts, this sets a ridge Wiener filter (20 ms bins, 10 taps) where
# linear decoders score on real data (docs/data.md; docs/results/simulator_difficulty.md).
_NOISE_SD, _NOISE_TIMESCALE_S = 0.7, 0.05


@dataclass(frozen=True, eq=False)
class SimulatedSession:
    """A simulated session and the ground truth it was drawn from.

    Attributes:
        recording: the session as a reader returns it (in-window spikes only,
            ``spikes_outside_window == len(outside_spikes.times)``).
        outside_spikes: spikes before ``t[0]`` or after ``t[-1]``, sorted by (channel, unit,
            time); ``write_recording(rec, path, outside_spikes=...)`` puts them in the file beside
            the in-window spikes to reproduce the clock-mismatch quirk.
        channel_spike_counts: (n,) in-window spikes per channel, all units.
        unit_spike_counts: (n, u) in-window spikes per (channel, unit).
        unit_rate_hz: (n, u) mean rate each unit was given (0 for an empty slot).
        unit_weights: (n, u, 5) log-rate weights on :data:`TUNING_FEATURES` (each divided by
            its scale: 150 mm/s for velocity and speed, 70 mm for position) at the start of the
            simulated span; 0 when untuned. They drift: the velocity weights rotate and all
            five scale slowly over the session.
        unit_lag_s: (n, u) how far each unit leads velocity: its rate at time t follows the
            kinematics at t + lag (same sign as ``prepare_session``'s ``lag``).
        unit_shared_loading: (n, u) weight of :attr:`shared_factor` in each unit's log rate
            (0 for an empty slot).
        unit_refractory_s: (n, u) absolute refractory period (dead time) of each unit.
        unit_burst_probability: (n, u) chance that a spike starts a burst (0: not bursty).
        shared_factor: (T,) the shared excitability factor on the behaviour clock ``t``,
            unit variance over the simulated span; it enters the log rates times
            ``0.5 * unit_shared_loading``.
        dead_channels: indices of channels without any spike.
        untuned_channels: indices of active channels whose units ignore the movement.
    """

    recording: Recording
    outside_spikes: SpikeEvents
    channel_spike_counts: np.ndarray
    unit_spike_counts: np.ndarray
    unit_rate_hz: np.ndarray
    unit_weights: np.ndarray
    unit_lag_s: np.ndarray
    unit_shared_loading: np.ndarray
    unit_refractory_s: np.ndarray
    unit_burst_probability: np.ndarray
    shared_factor: np.ndarray
    dead_channels: np.ndarray
    untuned_channels: np.ndarray


def channel_names(channels: int) -> tuple[str, ...]:
    """Zenodo channel names: "M1 001" ... "M1 096", then "S1 001" ... on 192-channel arrays."""
    return tuple(f"{'M1' if c < 96 else 'S1'} {c % 96 + 1:03d}" for c in range(channels))


def _channel_rates(channels: int, rng: np.random.Generator) -> np.ndarray:
    n_dead = round(channels * _DEAD_PER_96 / 96)
    n_low = round(channels * _LOW_PER_96 / 96)
    n_active = channels - n_dead - n_low
    q = (np.arange(n_active) + 0.5) / n_active
    active = (_RATE_MIN_HZ + (_RATE_MAX_HZ - _RATE_MIN_HZ) * q**_RATE_POWER) * rng.lognormal(0.0, 0.05, n_active)
    low = rng.uniform(0.2, 0.9, n_low)
    return rng.permutation(np.concatenate([np.zeros(n_dead), low, active]))


def _unit_rates(channel_rate: np.ndarray, units: int, rng: np.random.Generator) -> np.ndarray:
    """Split each channel's rate between the hash unit and 0 to u-1 sorted units."""
    n = channel_rate.size
    # Sub-1 Hz channels carry too few spikes to sort: hash only.
    n_sorted = np.where(channel_rate >= 1.0, rng.binomial(units - 1, 0.45, n), 0)
    hash_share = np.where(n_sorted > 0, rng.uniform(0.2, 0.7, n), 1.0)
    shares = rng.dirichlet(np.full(units - 1, 2.0), n)
    shares = np.where(np.arange(units - 1)[None, :] < n_sorted[:, None], shares, 0.0)
    shares /= np.maximum(shares.sum(axis=1, keepdims=True), 1e-12)
    split = np.concatenate([hash_share[:, None], (1.0 - hash_share[:, None]) * shares], axis=1)
    return channel_rate[:, None] * split


def _unit_tuning(unit_rate: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, u = unit_rate.shape
    active = np.flatnonzero(unit_rate.sum(axis=1) >= 1.0)
    untuned = np.sort(rng.choice(active, round(_UNTUNED_SHARE * active.size), replace=False))
    theta = rng.uniform(0.0, 2.0 * np.pi, (n, u))
    # The hash unit mixes several neurons with different preferred directions: weaker tuning.
    depth = np.where(np.arange(u)[None, :] == 0, rng.uniform(0.15, 0.45, (n, u)), rng.uniform(0.3, 0.9, (n, u)))
    weights = np.stack(
        [
            depth * np.cos(theta),
            depth * np.sin(theta),
            rng.normal(0.3, 0.3, (n, u)),
            rng.normal(0.0, 0.15, (n, u)),
            rng.normal(0.0, 0.15, (n, u)),
        ],
        axis=-1,
    )
    tuned = (unit_rate > 0.0) & ~np.isin(np.arange(n), untuned)[:, None]
    weights *= tuned[..., None]
    lag = np.where(unit_rate > 0.0, rng.uniform(*_LAG_RANGE_S, (n, u)), 0.0)
    return weights, lag, untuned


@dataclass(frozen=True)
class _Firing:
    """Per-unit (n, u) parameters of spike generation beyond the rate."""

    shared_loading: np.ndarray
    absolute_refractory_s: np.ndarray
    relative_refractory_s: np.ndarray
    burst_probability: np.ndarray


def _unit_firing(unit_rate: np.ndarray, rng: np.random.Generator) -> _Firing:
    n, u = unit_rate.shape
    live = unit_rate > 0.0
    single = live & (np.arange(u)[None, :] >= 1)  # sorted units are single neurons
    bursty = single & (rng.random((n, u)) < _BURSTY_SHARE)
    return _Firing(
        shared_loading=np.where(live, rng.uniform(*_SHARED_LOADING, (n, u)), 0.0),
        absolute_refractory_s=np.where(single, rng.uniform(*_ABSOLUTE_REFRACTORY_S, (n, u)), _SNIPPET_S * live),
        relative_refractory_s=np.where(single, rng.uniform(*_RELATIVE_REFRACTORY_S, (n, u)), 0.0),
        burst_probability=np.where(bursty, rng.uniform(*_BURST_PROBABILITY, (n, u)), 0.0),
    )


@dataclass(frozen=True, eq=False)
class UnitPopulation:
    """The neurons an array records from, per (channel, unit) slot (n, u); one monkey's array.

    Attributes:
        rate_hz: mean rate of each unit (0 for an empty slot).
        weights: (n, u, 5) log-rate weights on :data:`TUNING_FEATURES` (0 when untuned).
        lag_s: how far each unit leads velocity.
        firing: refractoriness, bursts and loading on the shared factor.
        untuned_channels: indices of active channels whose units ignore the movement.
    """

    rate_hz: np.ndarray
    weights: np.ndarray
    lag_s: np.ndarray
    firing: _Firing
    untuned_channels: np.ndarray


def draw_population(channels: int, units_per_channel: int, rng: np.random.Generator) -> UnitPopulation:
    """Draw the units of an array: rates, tuning, leads and firing (what one session's seed draws)."""
    unit_rate = _unit_rates(_channel_rates(channels, rng), units_per_channel, rng)
    weights, lag, untuned = _unit_tuning(unit_rate, rng)
    return UnitPopulation(unit_rate, weights, lag, _unit_firing(unit_rate, rng), untuned)


def _slow(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A slow standard-normal path: Gaussian knots every 2 minutes, linearly joined."""
    knots = np.arange(0.0, n_samples * DT / _DRIFT_KNOT_S + 2.0) * _DRIFT_KNOT_S
    return np.interp(np.arange(n_samples) * DT, knots, rng.standard_normal(knots.size))


def _smooth_unit_noise(n_samples: int, timescale_s: float, rng: np.random.Generator) -> np.ndarray:
    noise = gaussian_filter1d(rng.standard_normal(n_samples), timescale_s / DT)
    return noise / max(noise.std(), 1e-12)


def _tuning_drive(features: np.ndarray, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Log-rate drive of the movement, with a preferred direction and a gain that drift."""
    n = len(features)
    angle = _DIRECTION_DRIFT_SD * _slow(n, rng)
    gain = np.exp(_GAIN_DRIFT_SD * _slow(n, rng))
    cos, sin = np.cos(angle), np.sin(angle)
    # The velocity weights rotated by the drifting angle.
    wx = weights[0] * cos - weights[1] * sin
    wy = weights[0] * sin + weights[1] * cos
    return gain * (features[:, 0] * wx + features[:, 1] * wy + features[:, 2:] @ weights[2:])


def _spike_trains(
    te: np.ndarray,
    n_bins: int,
    features: np.ndarray,
    unit_rate: np.ndarray,
    weights: np.ndarray,
    lag: np.ndarray,
    firing: _Firing,
    shared: np.ndarray,
    rng: np.random.Generator,
) -> SpikeEvents:
    """Spikes per unit from a rate constant over each 4 ms step of ``te[:n_bins]``.

    Candidates are drawn by time rescaling: a Poisson number of points spread uniformly over
    the unit's integrated intensity, mapped back through it onto time. Refractory thinning and
    bursts follow, and the intensity is scaled beforehand so that the unit keeps the mean rate
    it was given. The cost grows with the spikes, not with the bins, and the loop runs over
    units (a few hundred), never over spikes.
    """
    times, channels, units = [], [], []
    for c, u in zip(*np.nonzero(unit_rate)):
        shift = int(round(lag[c, u] / DT))
        log_rate = (
            _tuning_drive(features[shift : shift + n_bins], weights[c, u], rng)
            + _DRIFT_SD * _slow(n_bins, rng)
            + _SHARED_SD * firing.shared_loading[c, u] * shared
            + _NOISE_SD * _smooth_unit_noise(n_bins, _NOISE_TIMESCALE_S, rng)
        )
        modulation = np.exp(log_rate - log_rate.max())
        lam = unit_rate[c, u] * DT * modulation / modulation.mean()
        absolute, relative = firing.absolute_refractory_s[c, u], firing.relative_refractory_s[c, u]
        burst = firing.burst_probability[c, u]
        # A burst adds two spikes on average (1 to 3) to the spike that starts it.
        lam = lam * candidate_scale(lam, lam.sum() / (1.0 + 2.0 * burst), absolute, relative)
        intensity = np.cumsum(lam)
        points = np.sort(rng.random(rng.poisson(intensity[-1])) * intensity[-1])
        step = np.minimum(np.searchsorted(intensity, points, side="right"), n_bins - 1)
        t_spk = te[step] + (points - (intensity[step] - lam[step])) / lam[step] * DT
        t_spk = refractory_thinning(t_spk, absolute, relative, rng)
        if burst > 0.0:
            t_spk = add_bursts(t_spk, burst, absolute, _BURST_ISI_S, rng)
        t_spk = np.round(t_spk * SPIKE_CLOCK_HZ) / SPIKE_CLOCK_HZ
        times.append(t_spk)
        channels.append(np.full(t_spk.size, c, dtype=np.int64))
        units.append(np.full(t_spk.size, u, dtype=np.int64))
    return SpikeEvents(np.concatenate(times), np.concatenate(channels), np.concatenate(units))


def _select(spikes: SpikeEvents, keep: np.ndarray) -> SpikeEvents:
    return SpikeEvents(spikes.times[keep], spikes.channels[keep], spikes.units[keep])


def simulate_session(
    seconds: float = 600.0,
    channels: int = 96,
    seed: int = 0,
    finger_columns: int = 3,
    units_per_channel: int = 3,
    population: UnitPopulation | None = None,
) -> SimulatedSession:
    """Simulate one session of self-paced random-target reaching with a Utah array.

    Args:
        seconds: length of the behaviour record (``t[-1] - t[0]`` is one 4 ms step less).
        channels: electrode channels (96: M1 array; 192: M1 + S1).
        seed: seed of the one random generator behind every choice.
        finger_columns: 3 (position) or 6 (position and orientation) finger columns.
        units_per_channel: unit slots per channel in the file (3 or 5, hash unit included).
        population: the units to record from (one monkey over several days,
            :mod:`bmi_decoder.simulate_days`); None draws them from ``seed``. When given, it sets
            ``channels`` and ``units_per_channel``.

    Returns:
        The :class:`SimulatedSession` with its recording and ground truth.

    Raises:
        InputError: an argument out of range.
    """
    for name, ok, expected in (
        ("seconds", seconds >= 1.0, f"at least 1 s, got {seconds!r}"),
        ("channels", channels >= 1, f"at least 1 channel (96 or 192 on the real arrays), got {channels!r}"),
        ("finger_columns", finger_columns in (3, 6), "3 or 6"),
        ("units_per_channel", units_per_channel >= 2, "at least 2 (3 or 5 in the real files)"),
    ):
        if not ok:
            raise InputError("simulate_session", name, expected)
    rng = np.random.default_rng(seed)
    n_samples = int(round(seconds / DT))
    # The spike clock runs a few seconds beyond the behaviour clock at both ends (docs/data.md:
    # thousands of unlabelled spikes before t[0] and after t[-1]).
    n_pre, n_post = (int(s / DT) for s in rng.uniform(2.0, 6.0, 2))
    n_lag = int(np.ceil(_LAG_RANGE_S[1] / DT)) + 1
    t0 = DT * int(rng.integers(25_000, 50_000))  # first behaviour sample at 100 to 200 s
    te = t0 + DT * np.arange(-n_pre, n_samples + n_post + n_lag)
    task = simulate_reaching(te, rng)

    vel = velocity(task.intended_pos, te)
    features = np.column_stack([vel, np.hypot(vel[:, 0], vel[:, 1]), task.intended_pos]) / _FEATURE_SCALE
    if population is None:
        population = draw_population(channels, units_per_channel, rng)
    unit_rate, weights, lag, firing = population.rate_hz, population.weights, population.lag_s, population.firing
    channels, units_per_channel = unit_rate.shape
    n_bins = n_pre + n_samples + n_post
    shared = _smooth_unit_noise(n_bins, _SHARED_TIMESCALE_S, rng)
    spikes = _spike_trains(te, n_bins, features, unit_rate, weights, lag, firing, shared, rng)

    window = slice(n_pre, n_pre + n_samples)
    t = te[window]
    inside = (spikes.times >= t[0]) & (spikes.times <= t[-1])
    kept, outside = _select(spikes, inside), _select(spikes, ~inside)
    unit_counts = np.bincount(kept.channels * units_per_channel + kept.units, minlength=channels * units_per_channel).reshape(
        channels, units_per_channel
    )
    recording = Recording(
        spike_times=kept.times,
        spike_channels=kept.channels,
        spike_units=kept.units,
        t=t,
        cursor_pos=task.cursor_pos[window],
        target_pos=task.target_pos[window],
        finger_pos=task.finger_pos[window, :finger_columns],
        chan_names=channel_names(channels),
        units_per_channel=units_per_channel,
        spikes_outside_window=int(outside.times.size),
        provenance={"source": f"simulated(seed={seed})", "format": "simulated"},
    )
    return SimulatedSession(
        recording=recording,
        outside_spikes=outside,
        channel_spike_counts=unit_counts.sum(axis=1),
        unit_spike_counts=unit_counts,
        unit_rate_hz=unit_rate,
        unit_weights=weights,
        unit_lag_s=lag,
        unit_shared_loading=firing.shared_loading,
        unit_refractory_s=firing.absolute_refractory_s,
        unit_burst_probability=firing.burst_probability,
        shared_factor=shared[window],
        dead_channels=np.flatnonzero(unit_rate.sum(axis=1) == 0.0),
        untuned_channels=population.untuned_channels,
    )
