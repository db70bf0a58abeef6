"""The true kinematics a live consumer scores its decoded velocity against (``r2_online``, the view).

Two sources:

- :class:`RigKinematics`: the 6-channel ``NAME-kinematics`` stream of ``bmi-decoder rig``, one
  sample per behaviour step on the spike stream's own clock. A bin's label is the last sample of
  bin ``j + lag``, exactly as offline.
- :class:`ForeignKinematics`: any rig's 2-channel cursor stream (``stream --kinematics NAME``),
  position or velocity, on its own clock and rate. Position becomes velocity by central
  differences over the samples' time stamps (:func:`bmi_decoder.kinematics.velocity`, as
  offline); a bin's label is that velocity at the end of bin ``j + lag``, linearly interpolated
  between the two samples around it, both clocks mapped to the local one.
"""

from __future__ import annotations

import numpy as np

from bmi_decoder.kinematics import velocity
from bmi_decoder.live.events import Clock


class RigKinematics:
    """The rig's kinematics, indexed by behaviour sample (``vx, vy, x, y, target_x, target_y``)."""

    def __init__(self, clock: Clock, k: int, shift: int) -> None:
        self.clock, self.k, self.shift = clock, k, shift
        self.kin = np.full((clock.n_samples, 6), np.nan)

    def pull(self, inlet) -> None:
        rows, stamps = inlet.pull_chunk(timeout=0.0)
        if stamps:
            index = np.rint((np.asarray(stamps) - self.clock.first) / self.clock.step).astype(np.int64)
            ok = (index >= 0) & (index < len(self.kin))
            self.kin[index[ok]] = np.asarray(rows, dtype=np.float64)[ok]

    def rows(self, bins: np.ndarray) -> np.ndarray:
        """(n, 6) truth of each bin's label sample, NaN where it has not arrived."""
        rows = (np.asarray(bins, dtype=np.int64) + self.shift) * self.k + self.k - 1
        out = np.full((len(rows), 6), np.nan)
        inside = (rows >= 0) & (rows < len(self.kin))
        out[inside] = self.kin[rows[inside]]
        return out


class ForeignKinematics:
    """A 2-channel cursor stream of position or velocity, on the local clock after correction.

    Args:
        kind: ``"position"`` or ``"velocity"``.
        label_times: maps bin indices to the local time of their label (the end of bin ``j + lag``).
        correction: the kinematics inlet's ``time_correction``.
    """

    def __init__(self, kind: str, label_times, correction: float) -> None:
        self.kind, self.label_times, self.correction = kind, label_times, correction
        self.stamps: list[float] = []
        self.values: list[list[float]] = []

    def pull(self, inlet) -> None:
        rows, stamps = inlet.pull_chunk(timeout=0.0)
        self.values.extend(rows)
        self.stamps.extend(stamps)

    def rows(self, bins: np.ndarray) -> np.ndarray:
        """(n, 6): interpolated velocity and, for a position stream, cursor position; NaN outside
        the samples received so far. No target: a cursor stream has none."""
        n = min(len(self.stamps), len(self.values))  # the loop may be appending
        out = np.full((len(bins), 6), np.nan)
        if n < 3 or not len(bins):
            return out
        t = np.asarray(self.stamps[:n]) + self.correction
        values = np.asarray(self.values[:n], dtype=np.float64)
        vel = velocity(values, t) if self.kind == "position" else values
        at = self.label_times(np.asarray(bins))
        # the last sample's central difference waits for the next one
        inside = (at >= t[0]) & (at <= t[-2 if self.kind == "position" else -1])
        for axis in range(2):
            out[inside, axis] = np.interp(at[inside], t, vel[:, axis])
            if self.kind == "position":
                out[inside, 2 + axis] = np.interp(at[inside], t, values[:, axis])
        return out
