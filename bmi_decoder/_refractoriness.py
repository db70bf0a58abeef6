"""Spike generation beyond the rate: refractory thinning of Poisson candidates, and bursts.

Used by :mod:`bmi_decoder.simulate`: a sorted unit is one neuron, silent for its absolute
refractory period after a spike and recovering over its relative one; some fire complex-spike
bursts. Candidates are scaled beforehand so that a unit keeps the mean rate it was given.
"""

from __future__ import annotations

import numpy as np

from bmi_decoder._reaching_task import DT


def candidate_scale(lam: np.ndarray, target: float, absolute: float, relative: float) -> float:
    """Factor c on the per-step candidate counts ``lam`` so that, after refractory thinning,
    ``target`` spikes remain in expectation.

    A Poisson candidate at rate r survives the thinning of :func:`refractory_thinning` with
    probability ``exp(-r a) / (1 + r tau)`` (its distance to the previous candidate is
    exponential): the integral of ``r exp(-r s) (1 - exp(-(s - a) / tau))`` over s > a.
    Fixed-point iteration: the kept count grows sublinearly in c, so it converges.
    """
    c = 1.0
    for _ in range(8):
        r = c * lam / DT
        kept = float((lam * c * np.exp(-r * absolute) / (1.0 + r * relative)).sum())
        c *= target / max(kept, 1e-12)
    return c


def refractory_thinning(times: np.ndarray, absolute: float, relative: float, rng: np.random.Generator) -> np.ndarray:
    """Keep a candidate spike with probability 0 within ``absolute`` of the previous candidate,
    then ``1 - exp(-(isi - absolute) / relative)``: no two kept spikes closer than ``absolute``."""
    isi = np.diff(times, prepend=-np.inf)
    recovered = isi - absolute
    if relative > 0.0:
        keep_probability = np.where(recovered >= 0.0, -np.expm1(-np.maximum(recovered, 0.0) / relative), 0.0)
    else:
        keep_probability = (recovered >= 0.0).astype(np.float64)
    return times[rng.random(times.size) < keep_probability]


def add_bursts(
    times: np.ndarray, probability: float, absolute: float, isi_s: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """After each spike, with ``probability``, 1 to 3 more spikes at intervals drawn from ``isi_s``."""
    starts = times[rng.random(times.size) < probability]
    extra = rng.integers(1, 4, starts.size)
    gaps = rng.uniform(*isi_s, int(extra.sum()))
    first = np.cumsum(extra) - extra
    offsets = np.cumsum(gaps)
    offsets -= np.repeat(offsets[first] - gaps[first], extra) if gaps.size else 0.0
    merged = np.sort(np.concatenate([times, np.repeat(starts, extra) + offsets]))
    # A burst spike may land on the next regular spike: the dead time still holds.
    return merged[np.diff(merged, prepend=-np.inf) >= absolute]
