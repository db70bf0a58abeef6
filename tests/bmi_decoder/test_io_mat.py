"""The Zenodo .mat (v7.3) reader and writer: round trips, the on-disk layout, and each quirk in docs/data.md."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from bmi_decoder.io import read_mat, read_mat_file, write_mat
from bmi_decoder.recording import Recording, SpikeEvents
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError


def tiny_recording(n_channels: int, units: int, finger_columns: int = 3, seed: int = 0) -> Recording:
    """A short session with spikes on every (channel, unit) cell whose index is even."""
    rng = np.random.default_rng(seed)
    k = 500
    t = 148.98 + 0.004 * np.arange(k)
    cells = [(c, u) for c in range(n_channels) for u in range(units) if (c * units + u) % 2 == 0]
    times, channels, unit_ids = [], [], []
    for c, u in cells:
        spikes = np.sort(rng.uniform(t[0], t[-1], 10 + c))
        times.append(spikes)
        channels.append(np.full(spikes.size, c))
        unit_ids.append(np.full(spikes.size, u))
    return Recording(
        spike_times=np.concatenate(times),
        spike_channels=np.concatenate(channels),
        spike_units=np.concatenate(unit_ids),
        t=t,
        cursor_pos=rng.normal(0, 40, (k, 2)),
        target_pos=np.repeat(rng.normal(0, 40, (5, 2)), k // 5, axis=0),
        finger_pos=rng.normal(0, 5, (k, finger_columns)),
        chan_names=tuple(f"M1 {c + 1:03d}" for c in range(n_channels)),
        units_per_channel=units,
    )


@pytest.mark.parametrize(("channels", "units", "fingers"), [(96, 3, 3), (192, 5, 6)])
def test_simulated_session_reads_back_identical(tmp_path, channels, units, fingers):
    session = simulate_session(seconds=20, channels=channels, seed=4, finger_columns=fingers, units_per_channel=units)
    path = tmp_path / "session.mat"
    write_mat(session.recording, path, outside_spikes=session.outside_spikes)
    stored = read_mat_file(path)
    assert stored.recording.mismatches(session.recording) == []
    counts = np.bincount(stored.recording.spike_channels, minlength=channels)
    np.testing.assert_array_equal(counts, session.channel_spike_counts)
    assert stored.recording.spikes_outside_window == len(session.outside_spikes.times) > 0
    assert stored.recording.provenance == {"source": str(path), "format": "mat-v7.3"}


def test_file_has_the_matlab_v73_layout(tmp_path):
    rec = tiny_recording(4, 3, finger_columns=6)
    path = tmp_path / "layout.mat"
    write_mat(rec, path)
    header = path.read_bytes()[:128]
    assert header.startswith(b"MATLAB 7.3 MAT-file")
    assert header[124:128] == b"\x00\x02IM"
    k = len(rec.t)
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512
        shapes = {name: f[name].shape for name in ("t", "cursor_pos", "target_pos", "finger_pos", "chan_names", "spikes", "wf")}
        assert shapes == {
            "t": (1, k),
            "cursor_pos": (2, k),
            "target_pos": (2, k),
            "finger_pos": (6, k),
            "chan_names": (1, 4),
            "spikes": (3, 4),
            "wf": (3, 4),
        }
        assert f["t"].attrs["MATLAB_class"] == b"double"
        assert f["spikes"].attrs["MATLAB_class"] == b"cell"
        name = f[f["chan_names"][0, 2]]
        assert name.dtype == np.uint16 and name.attrs["MATLAB_class"] == b"char"
        assert name.attrs["MATLAB_int_decode"] == 2
        assert name[()].ravel().tobytes().decode("utf-16-le") == "M1 003"
        filled, empty = f[f["spikes"][0, 0]], f[f["spikes"][1, 0]]  # cells 0 and 1 of channel 0
        assert filled.shape == (1, 10)
        assert "MATLAB_empty" in empty.attrs and empty.dtype == np.uint64
        np.testing.assert_array_equal(empty[()], [0, 0])
        assert f[f["wf"][0, 0]].shape == (48, 1)
        assert "MATLAB_empty" in f[f["wf"][1, 0]].attrs


def test_empty_cells_are_recognised_by_their_attribute_not_the_reference(tmp_path):
    # Every odd cell is a MATLAB_empty [0, 0] dataset behind a valid reference: reading it as
    # data would add spikes at 0 s, before t[0] = 148.98 s, i.e. "outside" spikes and units.
    rec = tiny_recording(6, 3)
    path = tmp_path / "empties.mat"
    write_mat(rec, path)
    with h5py.File(path, "r") as f:
        assert all(bool(ref) for ref in f["spikes"][()].ravel())
    stored = read_mat_file(path)
    assert stored.recording.spikes_outside_window == 0
    assert len(stored.outside_spikes.times) == 0
    assert stored.recording.mismatches(rec) == []


@pytest.mark.parametrize(("n_channels", "units"), [(3, 5), (5, 5), (5, 3)])
def test_channel_count_comes_from_chan_names(tmp_path, n_channels, units):
    # (5, 3) and (3, 5) spikes cells are each other's transpose; (5, 5) is square.
    rec = tiny_recording(n_channels, units)
    path = tmp_path / "shape.mat"
    write_mat(rec, path)
    read = read_mat(path)
    assert read.n_channels == n_channels and read.units_per_channel == units
    assert read.mismatches(rec) == []


def test_spikes_cell_stored_channel_major_is_reoriented_by_chan_names(tmp_path):
    rec = tiny_recording(4, 3)
    path = tmp_path / "transposed.mat"
    write_mat(rec, path)
    with h5py.File(path, "r+") as f:
        refs = f["spikes"][()]
        del f["spikes"]
        f.create_dataset("spikes", data=refs.T, dtype=h5py.ref_dtype).attrs["MATLAB_class"] = np.bytes_("cell")
    assert read_mat(path).mismatches(rec) == []


def test_spikes_outside_the_behaviour_window_are_dropped_and_counted(tmp_path):
    rec = tiny_recording(4, 3)
    t0, t1 = rec.t[0], rec.t[-1]
    outside = SpikeEvents(np.array([3.0, t0 - 1e-6, t1 + 1e-6, t1 + 50.0]), np.array([0, 1, 3, 2]), np.array([0, 2, 1, 0]))
    edges = Recording(
        spike_times=np.concatenate([rec.spike_times, [t0, t1]]),
        spike_channels=np.concatenate([rec.spike_channels, [3, 3]]),
        spike_units=np.concatenate([rec.spike_units, [2, 2]]),
        **{
            name: getattr(rec, name)
            for name in ("t", "cursor_pos", "target_pos", "finger_pos", "chan_names", "units_per_channel")
        },
    )
    path = tmp_path / "window.mat"
    write_mat(edges, path, outside_spikes=outside)
    stored = read_mat_file(path)
    assert stored.recording.spikes_outside_window == 4
    # The window is closed: spikes exactly at t[0] and t[-1] have labels and stay.
    assert {t0, t1} <= set(stored.recording.spike_times[stored.recording.spike_channels == 3])
    assert sorted(stored.outside_spikes.times) == sorted(outside.times)
    order = np.lexsort((edges.spike_times, edges.spike_units, edges.spike_channels))
    np.testing.assert_array_equal(stored.recording.spike_times, edges.spike_times[order])


def test_writer_refuses_outside_spikes_inside_the_window(tmp_path):
    rec = tiny_recording(2, 3)
    inside = SpikeEvents(np.array([rec.t[10]]), np.array([0]), np.array([0]))
    with pytest.raises(ValueError, match="inside the behaviour window"):
        write_mat(rec, tmp_path / "bad.mat", outside_spikes=inside)


def test_v5_mat_file_is_named_as_such(tmp_path):
    path = tmp_path / "old.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file, Platform: GLNXA64".ljust(128, b" ") + bytes(64))
    with pytest.raises(InputError, match="v5 MAT-file"):
        read_mat(path)
