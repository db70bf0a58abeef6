"""The self-paced random-target reaching task of O'Doherty et al., as a simulated movement.

Targets come from an 8 x 8 grid; a new one appears as soon as the previous one is acquired
(docs/data.md). Each reach is a reaction time, a primary minimum-jerk submovement (Flash & Hogan 1985:
bell-shaped speed profile) with a slightly curved path and an endpoint error that grows with
distance, a corrective submovement when that error leaves the cursor outside the target window,
then a hold. Every reach's random draws are made at once, and the whole trajectory is evaluated
in one pass over the samples (no loop over reaches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

DT = 0.004  # behaviour clock of the Zenodo files: 250 Hz
GRID_MM = np.linspace(-70.0, 70.0, 8)  # target centres; targets span about +-80 mm
TARGET_RADIUS_MM = 7.5
# Lower bound on one reach's length (reaction 0.15 + movement 0.2 + hold 0.2 s): enough reaches
# are drawn to cover any span.
_MIN_REACH_S = 0.55
_CURSOR_NOISE_MM, _CURSOR_NOISE_S = 0.5, 0.04


@dataclass(frozen=True, eq=False)
class ReachingTask:
    """Behaviour on the sample grid it was evaluated on.

    Attributes:
        intended_pos: (K, 2) mm, the planned smooth trajectory that motor cortex encodes.
        cursor_pos: (K, 2) mm, the intended trajectory plus small smooth motor noise.
        target_pos: (K, 2) mm, the current target, changing at each acquisition.
        finger_pos: (K, 6) cm and degrees, (z, -x, -y, azimuth, elevation, roll).
        reach_onsets: (R,) s, when each target appeared.
    """

    intended_pos: np.ndarray
    cursor_pos: np.ndarray
    target_pos: np.ndarray
    finger_pos: np.ndarray
    reach_onsets: np.ndarray


def _minimum_jerk(tau: np.ndarray) -> np.ndarray:
    return tau**3 * (10.0 - 15.0 * tau + 6.0 * tau**2)


def _inside_window(err: np.ndarray, radius: float) -> np.ndarray:
    norm = np.linalg.norm(err, axis=1, keepdims=True)
    return err * np.minimum(1.0, radius / np.maximum(norm, 1e-12))


def _smooth_noise(n: int, dims: int, sigma_samples: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-filtered white noise scaled to unit standard deviation."""
    noise = gaussian_filter1d(rng.standard_normal((n, dims)), sigma_samples, axis=0, mode="nearest")
    return noise / noise.std(axis=0)


def simulate_reaching(te: np.ndarray, rng: np.random.Generator) -> ReachingTask:
    """Simulate the task on the increasing sample times ``te`` (s); the first target appears at te[0]."""
    n = int(np.ceil((te[-1] - te[0]) / _MIN_REACH_S)) + 2
    # Adding 1..63 modulo 64 draws each next target uniformly among the 63 others.
    cell = np.cumsum(rng.integers(1, 64, n + 1)) % 64
    targets = np.column_stack([GRID_MM[cell % 8], GRID_MM[cell // 8]])
    # Where each reach comes to rest: inside the target window.
    rest = targets + _inside_window(rng.normal(0.0, 2.0, (n + 1, 2)), 0.8 * TARGET_RADIUS_MM)
    start, goal, final = rest[:-1], targets[1:], rest[1:]
    dist = np.linalg.norm(goal - start, axis=1)

    reaction = 0.15 + rng.gamma(4.0, 0.025, n)
    primary_s = np.maximum(0.2, (0.25 + 0.0045 * dist) * rng.lognormal(0.0, 0.15, n))
    # Endpoint scatter grows with distance (signal-dependent noise, Harris & Wolpert 1998).
    landing = goal + rng.normal(0.0, 1.0, (n, 2)) * (0.05 * dist + 1.0)[:, None]
    missed = np.linalg.norm(landing - goal, axis=1) > TARGET_RADIUS_MM
    landing = np.where(missed[:, None], landing, final)
    pause = np.where(missed, 0.1 + rng.gamma(2.0, 0.05, n), 0.0)
    correction_s = np.where(missed, (0.2 + 0.004 * np.linalg.norm(final - landing, axis=1)) * rng.lognormal(0.0, 0.15, n), 1e-6)
    hold = rng.uniform(0.2, 0.45, n)
    length = reaction + primary_s + pause + correction_s + hold
    onsets = te[0] + np.concatenate(([0.0], np.cumsum(length)[:-1]))

    # Two submovements per reach (a hit's correction does not move), interleaved in time.
    seg_start = np.column_stack([onsets + reaction, onsets + reaction + primary_s + pause]).ravel()
    seg_len = np.column_stack([primary_s, correction_s]).ravel()
    seg_from = np.stack([start, landing], axis=1).reshape(-1, 2)
    seg_to = np.stack([landing, final], axis=1).reshape(-1, 2)
    direction = (goal - start) / np.maximum(dist, 1e-12)[:, None]
    bow = rng.normal(0.0, 0.08, n) * dist
    seg_bow = np.stack([bow[:, None] * np.column_stack([-direction[:, 1], direction[:, 0]]), np.zeros((n, 2))], axis=1)
    seg_bow = seg_bow.reshape(-1, 2)

    seg = np.maximum(np.searchsorted(seg_start, te, side="right") - 1, 0)
    s = _minimum_jerk(np.clip((te - seg_start[seg]) / seg_len[seg], 0.0, 1.0))[:, None]
    intended = seg_from[seg] + (seg_to[seg] - seg_from[seg]) * s + seg_bow[seg] * (4.0 * s * (1.0 - s))
    cursor = intended + _CURSOR_NOISE_MM * _smooth_noise(te.size, 2, _CURSOR_NOISE_S / DT, rng)
    target = goal[np.searchsorted(onsets, te, side="right") - 1]

    # The cursor follows the fingertip (cm); its z and orientation wander slowly (knots 1 s apart).
    knots = np.arange(te[0], te[-1] + 2.0)
    slow = np.column_stack([np.interp(te, knots, rng.standard_normal(knots.size)) for _ in range(4)])
    finger = np.column_stack(
        [
            3.0 + 0.3 * slow[:, 0],
            -(cursor[:, 0] / 10.0 + 2.0),
            -(cursor[:, 1] / 10.0 - 5.0),
            10.0 + 3.0 * slow[:, 1],
            -20.0 + 3.0 * slow[:, 2],
            5.0 + 3.0 * slow[:, 3],
        ]
    )
    return ReachingTask(intended, cursor, target, finger, onsets[onsets <= te[-1]])
