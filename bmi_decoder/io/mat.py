"""O'Doherty et al. (Zenodo 583331) sessions as MATLAB v7.3 files: reader and writer.

A v7.3 MAT-file is HDF5 behind a 512-byte user block that holds MATLAB's text header. MATLAB
stores arrays column-major, so h5py sees them transposed: a k x 2 ``cursor_pos`` is (2, k), the
n x u ``spikes`` cell is (u, n). Cells are arrays of object references into ``#refs#``. docs/data.md
lists the layout and the quirks this module handles; each has its own test.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import h5py
import numpy as np

from bmi_decoder.io._assemble import RecordingFile, all_spikes, assemble
from bmi_decoder.recording import Recording, SpikeEvents
from snn_core.atomic import write_bytes_atomic
from snn_core.errors import InputError

FORMAT = "mat-v7.3"
BEHAVIOUR_FIELDS = ("t", "cursor_pos", "target_pos", "finger_pos")
REQUIRED_FIELDS = (*BEHAVIOUR_FIELDS, "chan_names", "spikes")
USERBLOCK_BYTES = 512
WAVEFORM_SAMPLES = 48


def read_mat(path: str | Path) -> Recording:
    """Read a Zenodo-layout v7.3 .mat session into a `Recording` (see :func:`read_mat_file`)."""
    return read_mat_file(path).recording


def read_mat_file(path: str | Path) -> RecordingFile:
    """Read a Zenodo-layout v7.3 .mat session, keeping the spikes outside the behaviour window.

    Args:
        path: the ``.mat`` file.

    Returns:
        The recording and the out-of-window spikes.

    Raises:
        InputError: the file is missing, not HDF5 (e.g. a pre-v7.3 MAT-file), truncated, lacks a
            field, or holds values :func:`assemble` rejects.
    """
    path = Path(path)
    _require_hdf5(path)
    try:
        with h5py.File(path, "r") as f:
            for name in REQUIRED_FIELDS:
                if name not in f:
                    raise InputError(path, name, "a field of the Zenodo O'Doherty layout (missing)")
            behaviour = {name: _matrix(f, name, path) for name in BEHAVIOUR_FIELDS}
            # The channel count comes from chan_names: the spikes cell's shape alone cannot tell a
            # (3, 192) array from a transposed one (docs/data.md).
            chan_names = tuple(_char(f[ref]) for ref in f["chan_names"][()].ravel())
            cells = _channel_major(f["spikes"][()], len(chan_names), path)
            spikes = _spike_trains(f, cells, path)
    except InputError:
        raise
    except (OSError, KeyError, ValueError) as err:
        # h5py reports damaged files and dangling references as these.
        raise InputError(path, "file", f"a complete, readable HDF5 file ({err})") from err
    return assemble(
        path,
        FORMAT,
        spikes=spikes,
        t=behaviour["t"].ravel(),
        cursor_pos=behaviour["cursor_pos"],
        target_pos=behaviour["target_pos"],
        finger_pos=behaviour["finger_pos"],
        chan_names=chan_names,
        units_per_channel=cells.shape[1],
    )


def write_mat(
    recording: Recording, path: str | Path, *, outside_spikes: SpikeEvents | None = None, notes: dict[str, str] | None = None
) -> None:
    """Write a session as a MATLAB v7.3 file in the Zenodo layout, atomically.

    The file holds the recording's spikes plus ``outside_spikes`` (spikes before ``t[0]`` or after
    ``t[-1]``, as real files do); read back, it gives ``recording`` with ``spikes_outside_window``
    equal to ``len(outside_spikes)``. ``wf`` holds one 48-sample template per non-empty cell, not
    one snippet per spike: decoders never read waveforms, and per-spike snippets would multiply
    the file size by about 50.

    Args:
        recording: the session.
        path: the ``.mat`` file to write.
        outside_spikes: spikes outside the behaviour window to store as well.
        notes: extra MATLAB char variables by name, e.g. a simulated session's drift parameters
            as JSON (:func:`read_mat_note` reads one back; the readers of the layout ignore them).
    """
    spikes = all_spikes(recording, outside_spikes)
    n, u = recording.n_channels, recording.units_per_channel
    key = spikes.channels * u + spikes.units
    order = np.lexsort((spikes.times, key))
    times = spikes.times[order]
    bounds = np.searchsorted(key[order], np.arange(n * u + 1))
    template = _waveform_template()
    # HDF5 writing to a full disk crashes the process (SIGSEGV while closing); built in memory,
    # the file reaches the disk in one plain write, which reports ENOSPC as an error.
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", userblock_size=USERBLOCK_BYTES) as f:
        refs = _RefStore(f.create_group("#refs#"))
        for name in BEHAVIOUR_FIELDS:
            # MATLAB k x c arrays are c x k in HDF5's row-major view.
            values = recording.t[:, None] if name == "t" else getattr(recording, name)
            _set_class(f.create_dataset(name, data=np.ascontiguousarray(values.T, dtype=np.float64)), "double")
        names = np.array([[refs.char(name) for name in recording.chan_names]], dtype=h5py.ref_dtype)
        _set_class(f.create_dataset("chan_names", data=names), "cell")
        spike_refs = np.empty((u, n), dtype=h5py.ref_dtype)
        wf_refs = np.empty((u, n), dtype=h5py.ref_dtype)
        for channel in range(n):
            for unit in range(u):
                cell = times[bounds[channel * u + unit] : bounds[channel * u + unit + 1]]
                # A MATLAB column vector (k x 1) is (1, k) in HDF5.
                spike_refs[unit, channel] = refs.double(cell[None, :]) if len(cell) else refs.empty()
                wf_refs[unit, channel] = refs.double(template) if len(cell) else refs.empty()
        _set_class(f.create_dataset("spikes", data=spike_refs), "cell")
        _set_class(f.create_dataset("wf", data=wf_refs), "cell")
        for name, text in (notes or {}).items():
            # a 1 x m MATLAB char row is (m, 1) in HDF5, UTF-16 code units
            note = f.create_dataset(name, data=np.frombuffer(text.encode("utf-16-le"), dtype="<u2").reshape(-1, 1))
            _set_class(note, "char")
            note.attrs.create("MATLAB_int_decode", np.int32(2))
    image = buffer.getbuffer()
    header = _matlab_header()
    image[: len(header)] = header
    write_bytes_atomic(path, image)


def read_mat_note(path: str | Path, name: str) -> str | None:
    """The MATLAB char variable ``name`` of a .mat file written with ``notes``; None if absent."""
    path = Path(path)
    _require_hdf5(path)
    with h5py.File(path, "r") as f:
        return _char(f[name]) if name in f else None


def _require_hdf5(path: Path) -> None:
    if not path.is_file():
        raise InputError(path, "file", "an existing file")
    try:
        with open(path, "rb") as raw:
            head = raw.read(128)
    except OSError as err:
        raise InputError(path, "file", f"a readable file ({err.strerror})") from err
    if not h5py.is_hdf5(path):
        if head.startswith(b"MATLAB 5.0 MAT-file"):
            raise InputError(path, "format", "a MATLAB v7.3 (HDF5) file; this is a v5 MAT-file, re-save it with -v7.3")
        raise InputError(path, "format", "an HDF5 file (MATLAB v7.3 .mat)")


def _matrix(f: h5py.File, name: str, path: Path) -> np.ndarray:
    dataset = f[name]
    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "fiu" or dataset.ndim != 2:
        raise InputError(path, name, "a 2-D numeric MATLAB array")
    return dataset[()].T.astype(np.float64)


def _char(dataset: h5py.Dataset) -> str:
    # MATLAB chars are UTF-16 code units stored as uint16 (MATLAB_int_decode = 2).
    return dataset[()].ravel().astype("<u2").tobytes().decode("utf-16-le")


def _channel_major(refs: np.ndarray, n_channels: int, path: Path) -> np.ndarray:
    """The spikes cell as (channel, unit) references, oriented by the channel count."""
    if refs.ndim != 2 or n_channels not in refs.shape:
        raise InputError(path, "spikes", f"a cell array with one axis of {n_channels} channels (chan_names), got {refs.shape}")
    # h5py shows MATLAB's n x u cell as (u, n); take that reading unless only the other fits.
    return refs.T if refs.shape[1] == n_channels else refs


def _spike_trains(f: h5py.File, cells: np.ndarray, path: Path) -> SpikeEvents:
    """Concatenate the non-empty cells into flat arrays (one Python step per cell, not per spike)."""
    pieces, channels, units, counts = [], [], [], []
    for (channel, unit), ref in np.ndenumerate(cells):
        dataset = f[ref]
        # Empty cells are not null references but point to a real [0, 0] uint64 dataset marked
        # MATLAB_empty; read as data it would put fake spikes on most channels (docs/data.md).
        if "MATLAB_empty" in dataset.attrs:
            continue
        if dataset.dtype.kind != "f":
            raise InputError(path, f"spikes{{{channel + 1},{unit + 1}}}", "spike times as a double array")
        values = dataset[()].ravel()
        pieces.append(values)
        channels.append(channel)
        units.append(unit)
        counts.append(len(values))
    if not pieces:
        return SpikeEvents.empty()
    return SpikeEvents(
        np.concatenate(pieces).astype(np.float64),
        np.repeat(np.array(channels, dtype=np.int64), counts),
        np.repeat(np.array(units, dtype=np.int64), counts),
    )


class _RefStore:
    """Writes cell contents into ``#refs#`` under MATLAB-style letter names and returns references."""

    LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def __init__(self, group: h5py.Group) -> None:
        self.group = group
        self.count = 0

    def _new(self, data: np.ndarray) -> h5py.Dataset:
        index, name = self.count, ""
        while True:
            index, digit = divmod(index, len(self.LETTERS))
            name = self.LETTERS[digit] + name
            if index == 0:
                break
        self.count += 1
        return self.group.create_dataset(name, data=data)

    def double(self, values: np.ndarray) -> h5py.Reference:
        dataset = self._new(np.asarray(values, dtype=np.float64))
        _set_class(dataset, "double")
        return dataset.ref

    def char(self, text: str) -> h5py.Reference:
        # A 1 x m MATLAB char row is (m, 1) in HDF5.
        codes = np.frombuffer(text.encode("utf-16-le"), dtype="<u2").reshape(-1, 1)
        dataset = self._new(codes)
        _set_class(dataset, "char")
        dataset.attrs.create("MATLAB_int_decode", np.int32(2))
        return dataset.ref

    def empty(self) -> h5py.Reference:
        # MATLAB writes an empty array as its dimensions [0, 0] (uint64) flagged MATLAB_empty.
        dataset = self._new(np.zeros(2, dtype=np.uint64))
        _set_class(dataset, "double")
        dataset.attrs.create("MATLAB_empty", np.uint8(1))
        return dataset.ref


def _set_class(dataset: h5py.Dataset, matlab_class: str) -> None:
    dataset.attrs.create("MATLAB_class", np.bytes_(matlab_class))


def _waveform_template() -> np.ndarray:
    """One extracellular spike shape, 48 samples at 30 kHz in uV, as a 1 x 48 MATLAB row."""
    s = np.arange(WAVEFORM_SAMPLES, dtype=np.float64)
    trough = -80.0 * np.exp(-0.5 * ((s - 12) / 2.5) ** 2)
    rebound = 25.0 * np.exp(-0.5 * ((s - 20) / 5.0) ** 2)
    return (trough + rebound)[:, None]


def _matlab_header() -> bytes:
    """The 128 bytes MATLAB puts in the user block: text, subsystem offset, version, endianness."""
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {time.strftime('%a %b %d %H:%M:%S %Y')} HDF5 schema 1.00 ."
    return text.encode("ascii").ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
