"""Reach kinematics derived from the behaviour arrays of a `Recording`.

Both definitions follow the NeuroBench primate-reaching protocol (docs/data.md): the label is cursor
velocity, the time gradient of ``cursor_pos`` by central differences, and a reach is a segment
between changes of ``target_pos`` (a new target appears when the previous one is acquired).
"""

from __future__ import annotations

import numpy as np


def velocity(cursor_pos: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Cursor velocity in mm/s by central differences over the behaviour time base.

    ``np.gradient`` with the sample times (not a fixed step) keeps the result right where the
    clock is not perfectly uniform; the two end samples use one-sided differences.

    Args:
        cursor_pos: (k, 2) cursor position in mm.
        t: (k,) sample times in seconds, strictly increasing.

    Returns:
        (k, 2) float64 velocity in mm/s.
    """
    return np.gradient(np.asarray(cursor_pos, dtype=np.float64), np.asarray(t, dtype=np.float64), axis=0)


def reach_starts(target_pos: np.ndarray) -> np.ndarray:
    """Sample indices where a reach starts: 0 and every sample where ``target_pos`` changes.

    Args:
        target_pos: (k, 2) target position, constant during a reach.

    Returns:
        (R,) int64 increasing indices; ``reach_starts(...)[0] == 0``.
    """
    target_pos = np.asarray(target_pos)
    changed = np.any(target_pos[1:] != target_pos[:-1], axis=1)
    return np.concatenate(([0], np.flatnonzero(changed) + 1)).astype(np.int64)


def reach_index(target_pos: np.ndarray) -> np.ndarray:
    """The reach each sample belongs to, counted from 0 at the first sample.

    Args:
        target_pos: (k, 2) target position.

    Returns:
        (k,) int64 non-decreasing reach numbers.
    """
    target_pos = np.asarray(target_pos)
    changed = np.any(target_pos[1:] != target_pos[:-1], axis=1)
    return np.concatenate(([0], np.cumsum(changed))).astype(np.int64)
