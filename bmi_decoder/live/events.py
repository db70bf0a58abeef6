"""A recording as the event stream an acquisition system would send: spikes in time order.

A `Recording` holds spikes sorted by (channel, unit, time), the layout of the files; a live
stream sends them as they happen, in time order. The behaviour clock is summarised by its first
sample and its nominal step, which is all the online binner needs to place the offline bin edges
(:mod:`bmi_decoder.live.binning`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmi_decoder.kinematics import velocity
from bmi_decoder.recording import Recording, SpikeEvents

# The nominal step is the median sample interval rounded to the nanosecond: the Zenodo clocks
# tick every 4 ms, and the median of float differences carries rounding noise of ~1e-15 s.
STEP_DECIMALS = 9


@dataclass(frozen=True)
class Clock:
    """The behaviour clock as a live stream declares it.

    Attributes:
        first: time stamp of the first behaviour sample, s (bin edges are counted from it).
        step: nominal sample interval, s.
        n_samples: behaviour samples in the session.
    """

    first: float
    step: float
    n_samples: int

    def sample_time(self, i: int) -> float:
        """Time stamp of behaviour sample ``i``: ``first + step * i``, the offline clock of a
        regular recording bit for bit (the simulator and the Zenodo files build it that way)."""
        return self.first + self.step * i


def clock(rec: Recording) -> Clock:
    """The behaviour clock of a recording (first sample, nominal step, length)."""
    step = round(float(np.median(np.diff(rec.t))), STEP_DECIMALS)
    return Clock(first=float(rec.t[0]), step=step, n_samples=int(rec.t.size))


def spike_events(rec: Recording) -> SpikeEvents:
    """The recording's spikes in time order (ties keep the file's (channel, unit) order)."""
    order = np.argsort(rec.spike_times, kind="stable")
    return SpikeEvents(rec.spike_times[order], rec.spike_channels[order], rec.spike_units[order])


def kinematics(rec: Recording) -> np.ndarray:
    """(k, 6) float64 per behaviour sample: velocity x, y (mm/s, the decoders' label), cursor
    x, y and target x, y (mm), the rig's second stream."""
    return np.column_stack([velocity(rec.cursor_pos, rec.t), rec.cursor_pos, rec.target_pos])
