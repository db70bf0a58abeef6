"""`Recording`: one reaching session as the readers return it, whatever the file format.

Spikes are held as three flat arrays (time, channel, unit) rather than a per-cell list, so that
binning is one vectorised histogram over all spikes (no Python loop over spikes or cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Recording:
    """A session of self-paced reaching with multichannel spiking activity.

    Attributes:
        spike_times: (N,) float64 seconds, on the behaviour clock, only spikes inside
            ``[t[0], t[-1]]``; sorted by (channel, unit, time).
        spike_channels: (N,) int array, 0-based channel index into ``chan_names``.
        spike_units: (N,) int array; 0 is the unsorted "hash" unit, 1.. are sorted units.
        t: (k,) float64 behaviour time base in seconds (250 Hz on the Zenodo files).
        cursor_pos: (k, 2) cursor position in mm.
        target_pos: (k, 2) target position in mm; constant during a reach.
        finger_pos: (k, 3) or (k, 6) finger position in cm, (z, -x, -y[, azimuth, elevation, roll]).
        chan_names: channel names, e.g. ``("M1 001", ..., "M1 096")``.
        units_per_channel: unit slots per channel in the source file (3 or 5, unit 0 included).
        spikes_outside_window: spikes in the file before ``t[0]`` or after ``t[-1]``, dropped
            because they have no behavioural label (DATA.md: thousands per session).
        provenance: where the recording came from (``source``, ``format``, ...).
    """

    spike_times: np.ndarray
    spike_channels: np.ndarray
    spike_units: np.ndarray
    t: np.ndarray
    cursor_pos: np.ndarray
    target_pos: np.ndarray
    finger_pos: np.ndarray
    chan_names: tuple[str, ...]
    units_per_channel: int
    spikes_outside_window: int = 0
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def n_channels(self) -> int:
        return len(self.chan_names)

    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0])
