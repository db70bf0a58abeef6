"""`Recording`: one reaching session as the readers return it, whatever the file format.

Spikes are held as three flat arrays (time, channel, unit) rather than a per-cell list, so that
binning is one vectorised histogram over all spikes (no Python loop over spikes or cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class SpikeEvents:
    """Spike events as three flat, equally long arrays (one entry per spike).

    Used for the spikes a file holds outside the behaviour window: a ``Recording`` drops them,
    but a writer needs them to reproduce a file faithfully (docs/data.md: thousands per session).

    Attributes:
        times: (N,) float64 seconds.
        channels: (N,) int, 0-based channel index.
        units: (N,) int, unit index within the channel (0 is the hash unit).
    """

    times: np.ndarray
    channels: np.ndarray
    units: np.ndarray

    @classmethod
    def empty(cls) -> SpikeEvents:
        return cls(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.times)


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
            because they have no behavioural label (docs/data.md: thousands per session).
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

    def mismatches(self, other: Recording) -> list[str]:
        """Names of the fields whose values differ from ``other``'s (provenance is not compared).

        Arrays are compared exactly (a reader must give back what a writer was given, bit for bit),
        so an empty list means the two recordings are the same session.
        """
        arrays = ("spike_times", "spike_channels", "spike_units", "t", "cursor_pos", "target_pos", "finger_pos")
        differ = [name for name in arrays if not np.array_equal(getattr(self, name), getattr(other, name))]
        if tuple(self.chan_names) != tuple(other.chan_names):
            differ.append("chan_names")
        for name in ("units_per_channel", "spikes_outside_window"):
            if getattr(self, name) != getattr(other, name):
                differ.append(name)
        return differ
