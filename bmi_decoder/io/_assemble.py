"""From the arrays a reader found to a checked `Recording`: validation and the behaviour window.

Both readers (.mat and NWB) hand their raw arrays to :func:`assemble`, so the checks and the
window convention are the same whatever the format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmi_decoder.recording import Recording, SpikeEvents
from snn_core.errors import InputError


@dataclass(frozen=True, eq=False)
class RecordingFile:
    """What a recording file holds: the `Recording` and the spikes it dropped.

    Attributes:
        recording: the session, spikes restricted to the behaviour window.
        outside_spikes: the file's spikes before ``t[0]`` or after ``t[-1]``; kept so that a
            conversion (.mat to NWB) loses nothing and ``info`` can count every non-empty cell.
    """

    recording: Recording
    outside_spikes: SpikeEvents


def assemble(
    source: str | Path,
    file_format: str,
    *,
    spikes: SpikeEvents,
    t: np.ndarray,
    cursor_pos: np.ndarray,
    target_pos: np.ndarray,
    finger_pos: np.ndarray,
    chan_names: tuple[str, ...],
    units_per_channel: int,
) -> RecordingFile:
    """Check a session's arrays and split its spikes at the behaviour window ``[t[0], t[-1]]``.

    Args:
        source: the file the arrays came from (named in errors and in the provenance).
        file_format: short format name for the provenance, e.g. ``"mat-v7.3"``.
        spikes: every spike in the file, in any order.
        t: (k,) behaviour time base in seconds.
        cursor_pos, target_pos: (k, 2) positions in mm.
        finger_pos: (k, 3) or (k, 6) finger position (cm) and orientation.
        chan_names: one name per channel.
        units_per_channel: unit slots per channel (unit 0 included).

    Returns:
        The recording (spikes sorted by channel, unit, time) and the spikes outside the window.

    Raises:
        InputError: a non-increasing or non-finite time base, positions that are not finite or do
            not match the time base, spikes on unknown channels or units, or no spike in the window.
    """
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1 or len(t) < 2:
        raise InputError(source, "t", f"a time base of at least 2 samples, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise InputError(source, "t", "finite times (found NaN or infinity)")
    steps = np.diff(t)
    if not np.all(steps > 0):
        first = int(np.argmax(steps <= 0))
        raise InputError(source, "t", f"strictly increasing times, but t[{first + 1}] <= t[{first}]")
    positions = {
        "cursor_pos": (np.asarray(cursor_pos, dtype=np.float64), (2,)),
        "target_pos": (np.asarray(target_pos, dtype=np.float64), (2,)),
        "finger_pos": (np.asarray(finger_pos, dtype=np.float64), (3, 6)),
    }
    for name, (values, widths) in positions.items():
        if values.ndim != 2 or values.shape[0] != len(t) or values.shape[1] not in widths:
            wanted = " or ".join(f"({len(t)}, {w})" for w in widths)
            raise InputError(source, name, f"shape {wanted} to match t, got {values.shape}")
        if not np.all(np.isfinite(values)):
            rows = int(np.count_nonzero(~np.isfinite(values).all(axis=1)))
            raise InputError(source, name, f"finite positions, but {rows} samples hold NaN or infinity")
    n_channels = len(chan_names)
    if n_channels == 0:
        raise InputError(source, "chan_names", "at least one channel")

    times = np.asarray(spikes.times, dtype=np.float64)
    channels = np.asarray(spikes.channels, dtype=np.int64)
    units = np.asarray(spikes.units, dtype=np.int64)
    if len(channels) and (channels.min() < 0 or channels.max() >= n_channels):
        raise InputError(source, "spikes", f"channel indices within the {n_channels} channels of chan_names")
    if len(units) and (units.min() < 0 or units.max() >= units_per_channel):
        raise InputError(source, "spikes", f"unit indices below {units_per_channel}")
    if not np.all(np.isfinite(times)):
        raise InputError(source, "spikes", "finite spike times")

    # The spike clock runs before and after the behaviour clock (docs/data.md); those spikes have no
    # label, so they leave the recording, and the count says how many did.
    inside = (times >= t[0]) & (times <= t[-1])
    if not inside.any():
        where = "in the file" if len(times) == 0 else f"between t[0] = {t[0]:.3f} s and t[-1] = {t[-1]:.3f} s"
        raise InputError(source, "spikes", f"at least one spike {where}")
    order = np.lexsort((times[inside], units[inside], channels[inside]))
    recording = Recording(
        spike_times=times[inside][order],
        spike_channels=channels[inside][order],
        spike_units=units[inside][order],
        t=t,
        cursor_pos=positions["cursor_pos"][0],
        target_pos=positions["target_pos"][0],
        finger_pos=positions["finger_pos"][0],
        chan_names=tuple(chan_names),
        units_per_channel=int(units_per_channel),
        spikes_outside_window=int(np.count_nonzero(~inside)),
        provenance={"source": str(source), "format": file_format},
    )
    outside = SpikeEvents(times[~inside], channels[~inside], units[~inside])
    return RecordingFile(recording, outside)


def all_spikes(recording: Recording, outside_spikes: SpikeEvents | None) -> SpikeEvents:
    """The recording's spikes plus the given out-of-window ones, as a writer puts them in a file.

    ``outside_spikes`` may be any object with ``times``, ``channels`` and ``units`` arrays (the
    simulator's ground truth has its own such class).

    Raises:
        ValueError: if a spike of ``outside_spikes`` lies inside the behaviour window (a reader
            would then keep it and the file would not read back as ``recording``).
    """
    if outside_spikes is None or len(outside_spikes.times) == 0:
        return SpikeEvents(recording.spike_times, recording.spike_channels, recording.spike_units)
    out_times = np.asarray(outside_spikes.times, dtype=np.float64)
    if np.any((out_times >= recording.t[0]) & (out_times <= recording.t[-1])):
        raise ValueError("outside_spikes holds spikes inside the behaviour window [t[0], t[-1]]")
    return SpikeEvents(
        np.concatenate([recording.spike_times, out_times]),
        np.concatenate([recording.spike_channels, outside_spikes.channels]).astype(np.int64),
        np.concatenate([recording.spike_units, outside_spikes.units]).astype(np.int64),
    )
