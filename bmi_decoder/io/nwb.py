"""Reaching sessions as NWB files: this project's export, and the DANDI / Neural Latents layout.

Both layouts put spikes in the Units table (``spike_times``, ``electrodes``) and positions in a
``behavior`` processing module. This project's export adds a ``unit_number`` column (0 is the
unsorted hash unit, as in the .mat cells) and keeps every (channel, unit) slot, empty ones
included, so ``units_per_channel`` survives the trip. DANDI 000129 (NLB MC_RTT) files put the
series (``cursor_pos``, ``target_pos``, ``finger_pos``) directly in the module and have no unit
numbers: their units are numbered 1, 2, ... per electrode in table order, i.e. read as sorted
units, since those files carry no hash unit.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import h5py
import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from hdmf.common import DynamicTable, DynamicTableRegion, ElementIdentifiers, VectorData, VectorIndex
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.behavior import Position
from pynwb.file import Subject
from pynwb.misc import Units

from bmi_decoder.io._assemble import RecordingFile, all_spikes, assemble
from bmi_decoder.recording import Recording, SpikeEvents
from snn_core.atomic import write_bytes_atomic
from snn_core.errors import InputError

FORMAT = "nwb"
# Metres per unit of the lengths this project keeps: cursor and target in mm, finger in cm.
MM, CM = 0.001, 0.01
METRES_PER_UNIT = {"m": 1.0, "meter": 1.0, "meters": 1.0, "cm": CM, "centimeters": CM, "mm": MM, "millimeters": MM}
AREAS = {"M1": "primary motor cortex (M1)", "S1": "primary somatosensory cortex (S1)"}


def read_nwb(path: str | Path) -> Recording:
    """Read an NWB reaching session into a `Recording` (see :func:`read_nwb_file`)."""
    return read_nwb_file(path).recording


def read_nwb_file(path: str | Path) -> RecordingFile:
    """Read an NWB reaching session (this project's export or DANDI / NLB layout).

    Raises:
        InputError: the file is missing, not HDF5, truncated, not NWB, lacks the Units table, an
            electrode per unit, the ``behavior`` module or one of its position series, or holds
            values :func:`assemble` rejects.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file", "an existing file")
    if not h5py.is_hdf5(path):
        raise InputError(path, "format", "an NWB (HDF5) file")
    try:
        with ExitStack() as stack:
            try:
                nwbfile = stack.enter_context(NWBHDF5IO(str(path), "r")).read()
            except Exception as err:
                # pynwb / hdmf build the object tree from a damaged or incomplete file with whatever
                # exception the missing piece causes (AttributeError, ConstructError, ...).
                raise InputError(path, "file", f"a complete, readable NWB file ({type(err).__name__}: {err})") from err
            chan_names = _channel_names(nwbfile, path)
            spikes, units_per_channel = _spikes(nwbfile, path)
            t, positions = _behaviour(nwbfile, path)
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as err:
        # h5py reports damaged files as OSError; pynwb a non-NWB HDF5 file as TypeError.
        raise InputError(path, "file", f"a complete, readable NWB file ({type(err).__name__}: {err})") from err
    return assemble(path, FORMAT, spikes=spikes, t=t, chan_names=chan_names, units_per_channel=units_per_channel, **positions)


def write_nwb(recording: Recording, path: str | Path, *, outside_spikes: SpikeEvents | None = None) -> None:
    """Write a session as NWB (Units, electrodes, behaviour positions), atomically.

    Lengths are stored in metres through each series' ``conversion`` factor, as NWB asks; the
    factor is chosen so that reading back gives the original millimetres and centimetres bit for
    bit. Spike times are gzip-compressed. ``outside_spikes`` go into the Units table as well.

    Args:
        recording: the session.
        path: the ``.nwb`` file to write.
        outside_spikes: spikes outside the behaviour window to store as well.
    """
    spikes = all_spikes(recording, outside_spikes)
    nwbfile = NWBFile(
        session_description="Self-paced reaching to random targets on an 8 x 8 grid (O'Doherty et al. layout).",
        identifier=_identifier(recording),
        session_start_time=_session_start(recording),
        experiment_description="Utah-array spiking activity with cursor, target and finger positions.",
        # Neither the .mat files nor a simulation record age or sex: "U" is NWB's unknown sex and
        # "P0D/" the open age range ("0 days or older") that NWB offers for an unknown age.
        subject=Subject(
            subject_id=_subject_id(recording),
            species="Macaca mulatta",
            sex="U",
            age="P0D/",
            description="Rhesus macaque with Utah arrays in sensorimotor cortex (or its simulation).",
        ),
        keywords=["motor cortex", "brain-machine interface", "reaching", "Utah array", "spike trains"],
    )
    _add_electrodes(nwbfile, recording.chan_names)
    nwbfile.units = _units_table(spikes, recording.n_channels, recording.units_per_channel, nwbfile.electrodes)
    behaviour = nwbfile.create_processing_module("behavior", "Cursor, target and finger positions on the behaviour clock.")
    clock = _clock(recording.t)
    position = Position(name="Position")
    position.create_spatial_series(
        name="cursor_pos",
        data=recording.cursor_pos,
        reference_frame="workspace coordinates of the source file",
        conversion=MM,
        description="Cursor position (mm in the source).",
        **clock,
    )
    position.create_spatial_series(
        name="target_pos",
        data=recording.target_pos,
        reference_frame="workspace coordinates of the source file",
        conversion=MM,
        description="Target position; constant during a reach (mm in the source).",
        **clock,
    )
    position.create_spatial_series(
        name="finger_pos",
        data=recording.finger_pos[:, :3],
        reference_frame="hand-tracker coordinates (z, -x, -y) of the source file",
        conversion=CM,
        description="Working fingertip position (cm in the source).",
        **clock,
    )
    behaviour.add(position)
    if recording.finger_pos.shape[1] == 6:
        # SpatialSeries holds at most 3 columns; the 6-column sessions add fingertip orientation,
        # whose unit the Zenodo record does not state, so none is claimed here either.
        behaviour.add(
            TimeSeries(
                name="finger_orientation",
                data=recording.finger_pos[:, 3:],
                unit="as in the source file",
                description="Fingertip azimuth, elevation, roll as in the source file's finger_pos columns 4-6.",
                **clock,
            )
        )
    # HDF5 writing to a full disk crashes the process (SIGSEGV while closing); built in memory,
    # the file reaches the disk in one plain write, which reports ENOSPC as an error.
    buffer = BytesIO()
    with h5py.File(buffer, "w") as f, NWBHDF5IO(file=f, mode="w") as nwb_io:
        nwb_io.write(nwbfile)
    write_bytes_atomic(path, buffer.getbuffer())


def _add_electrodes(nwbfile: NWBFile, chan_names: tuple[str, ...]) -> None:
    device = nwbfile.create_device(name="Utah array", description="96-channel Utah array(s), Blackrock Microsystems")
    nwbfile.add_electrode_column(name="channel_name", description="channel name in the source file, e.g. 'M1 001'")
    groups = {}
    for name in chan_names:
        area = name.split()[0] if name.split() else "unknown"
        if area not in groups:
            groups[area] = nwbfile.create_electrode_group(
                name=f"{area} array",
                description=f"Utah array in {area}",
                location=AREAS.get(area, area),
                device=device,
            )
        nwbfile.add_electrode(group=groups[area], location=groups[area].location, channel_name=name)


def _units_table(spikes: SpikeEvents, n_channels: int, units_per_channel: int, electrodes: DynamicTable) -> Units:
    """One row per (channel, unit) slot, built from whole columns (add_unit per row is much slower)."""
    slots = n_channels * units_per_channel
    key = spikes.channels * units_per_channel + spikes.units
    order = np.lexsort((spikes.times, key))
    ends = np.searchsorted(key[order], np.arange(1, slots + 1))
    spike_times = VectorData(
        name="spike_times",
        description="spike times in seconds",
        data=H5DataIO(np.ascontiguousarray(spikes.times[order]), compression="gzip"),
    )
    electrode = DynamicTableRegion(
        name="electrodes",
        description="the channel of each unit",
        data=np.repeat(np.arange(n_channels), units_per_channel),
        table=electrodes,
    )
    unit_number = VectorData(
        name="unit_number",
        description="unit within the channel; 0 is the unsorted hash unit",
        data=np.tile(np.arange(units_per_channel), n_channels),
    )
    return Units(
        name="units",
        description="spikes of every (channel, unit) cell of the source, empty cells included",
        id=ElementIdentifiers(name="id", data=np.arange(slots)),
        columns=[
            spike_times,
            VectorIndex(name="spike_times_index", data=ends, target=spike_times),
            electrode,
            VectorIndex(name="electrodes_index", data=np.arange(1, slots + 1), target=electrode),
            unit_number,
        ],
        # The Blackrock system behind these recordings samples at 30 kHz: spike times resolve 1/30 ms.
        resolution=1 / 30000,
    )


def _channel_names(nwbfile: NWBFile, path: Path) -> tuple[str, ...]:
    table = nwbfile.electrodes
    if table is None or len(table) == 0:
        raise InputError(path, "electrodes", "an electrodes table with one row per channel")
    if "channel_name" in table.colnames:
        return tuple(str(name) for name in table["channel_name"].data[:])
    if "label" in table.colnames:
        return tuple(str(name) for name in table["label"].data[:])
    locations = table["location"].data[:]
    return tuple(f"{location} {index + 1:03d}" for index, location in enumerate(locations))


def _spikes(nwbfile: NWBFile, path: Path) -> tuple[SpikeEvents, int]:
    """All spikes as flat arrays, read from the ragged columns without a loop over units."""
    units = nwbfile.units
    if units is None or "spike_times" not in units.colnames:
        raise InputError(path, "units", "a Units table with spike_times")
    if "electrodes" not in units.colnames:
        raise InputError(path, "units/electrodes", "the electrode of each unit")
    times = np.asarray(units["spike_times"].target.data[:], dtype=np.float64)
    ends = np.asarray(units["spike_times"].data[:], dtype=np.int64)
    counts = np.diff(ends, prepend=0)
    # a ragged column's index holds where each unit's spikes end: rising, and ending at the data's end
    if np.any(counts < 0) or (len(ends) and ends[-1] != len(times)):
        raise InputError(
            path, "units/spike_times_index", f"non-decreasing ends of each unit's spikes, the last = {len(times)} spikes"
        )
    electrodes = units["electrodes"]
    if isinstance(electrodes, VectorIndex):
        electrode_ends = np.asarray(electrodes.data[:], dtype=np.int64)
        electrode_rows = np.asarray(electrodes.target.data[:], dtype=np.int64)
        if np.any(np.diff(electrode_ends, prepend=0) < 1):
            raise InputError(path, "units/electrodes", "at least one electrode for every unit")
        # A unit on several electrodes (not in these data sets) is placed on its first one.
        channel_of_unit = electrode_rows[np.concatenate([[0], electrode_ends[:-1]])]
    else:
        channel_of_unit = np.asarray(electrodes.data[:], dtype=np.int64)
    if "unit_number" in units.colnames:
        unit_of_unit = np.asarray(units["unit_number"].data[:], dtype=np.int64)
    else:
        unit_of_unit = _number_within_channel(channel_of_unit)
    units_per_channel = int(unit_of_unit.max()) + 1 if len(unit_of_unit) else 1
    spikes = SpikeEvents(times, np.repeat(channel_of_unit, counts), np.repeat(unit_of_unit, counts))
    return spikes, units_per_channel


def _number_within_channel(channel_of_unit: np.ndarray) -> np.ndarray:
    """1, 2, ... for the units of each channel in table order (sorted units; no hash unit 0)."""
    order = np.argsort(channel_of_unit, kind="stable")
    sorted_channels = channel_of_unit[order]
    first = np.searchsorted(sorted_channels, sorted_channels, side="left")
    numbers = np.empty_like(order)
    numbers[order] = np.arange(len(order)) - first + 1
    return numbers


def _behaviour(nwbfile: NWBFile, path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if "behavior" not in nwbfile.processing:
        raise InputError(path, "processing/behavior", "a behavior processing module with the position series")
    series = {}
    for interface in nwbfile.processing["behavior"].data_interfaces.values():
        if isinstance(interface, Position):
            series.update(interface.spatial_series)
        elif isinstance(interface, TimeSeries):
            series[interface.name] = interface
    for name in ("cursor_pos", "target_pos", "finger_pos"):
        if name not in series:
            raise InputError(path, f"behavior/{name}", "a position series (in the module or its Position container)")
    cursor = series["cursor_pos"]
    t = _timestamps(cursor)
    positions = {
        "cursor_pos": _values(series["cursor_pos"], MM, path),
        "target_pos": _values(series["target_pos"], MM, path),
        "finger_pos": _values(series["finger_pos"], CM, path),
    }
    if "finger_orientation" in series:
        orientation = np.asarray(series["finger_orientation"].data[:], dtype=np.float64)
        positions["finger_pos"] = np.hstack([positions["finger_pos"], orientation.reshape(len(orientation), -1)])
    return t, positions


def _clock(t: np.ndarray) -> dict:
    """``starting_time`` and ``rate`` if they give back ``t`` bit for bit, else ``timestamps``.

    NWB best practice (and nwbinspector) wants a regular clock as a rate; the rate is only used
    when it loses nothing, since the behaviour window decides which spikes a reader keeps.
    """
    rate = (len(t) - 1) / (t[-1] - t[0])
    for candidate in (round(rate), round(rate, 3), round(rate, 6), rate):
        if candidate > 0 and np.array_equal(_regular_times(float(t[0]), float(candidate), len(t)), t):
            return {"starting_time": float(t[0]), "rate": float(candidate)}
    return {"timestamps": t}


def _regular_times(starting_time: float, rate: float, count: int) -> np.ndarray:
    # Multiplying by the period (1 / 250 is the double nearest 0.004) reproduces the usual
    # construction t0 + dt * arange(k) bit for bit; dividing by the rate would not.
    return starting_time + np.arange(count) * (1.0 / rate)


def _timestamps(series: TimeSeries) -> np.ndarray:
    if series.timestamps is not None:
        stamps = series.timestamps
        return np.asarray(_timestamps(stamps) if isinstance(stamps, TimeSeries) else stamps[:], dtype=np.float64)
    return _regular_times(series.starting_time, series.rate, len(series.data))


def _values(series: TimeSeries, metres_per_target_unit: float, path: Path) -> np.ndarray:
    """The series in this project's unit (mm or cm), exact when the file used that unit."""
    unit = str(series.unit).strip().lower()
    if unit not in METRES_PER_UNIT:
        raise InputError(path, f"behavior/{series.name}", f"a length unit ({', '.join(METRES_PER_UNIT)}), got {series.unit!r}")
    # Divide the factors first: conversion 0.001 (metres per stored unit) over 0.001 (metres per
    # mm) is exactly 1.0, so a file written in mm reads back bit for bit.
    factor = series.conversion * METRES_PER_UNIT[unit] / metres_per_target_unit
    data = np.asarray(series.data[:], dtype=np.float64)
    values = data if factor == 1.0 else data * factor
    return values.reshape(len(values), -1)


def _identifier(recording: Recording) -> str:
    # Derived from the content, so that the same session always gets the same identifier.
    digest = hashlib.sha1(recording.t.tobytes() + recording.spike_times.tobytes()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def _session_start(recording: Recording) -> datetime:
    # Zenodo names carry the date (indy_20160630_01); otherwise use the time of writing.
    match = re.search(r"(20\d{2})(\d{2})(\d{2})", recording.provenance.get("source", ""))
    if match:
        return datetime(*map(int, match.groups()), tzinfo=UTC)
    return datetime.now(UTC).replace(microsecond=0)


def _subject_id(recording: Recording) -> str:
    name = Path(recording.provenance.get("source", "")).name.lower()
    for monkey in ("indy", "loco"):
        if name.startswith(monkey):
            return monkey.capitalize()
    return "simulated"
