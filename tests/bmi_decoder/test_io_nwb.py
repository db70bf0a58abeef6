"""The NWB reader and writer: round trips, nwbinspector, and the DANDI / Neural Latents layout."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from nwbinspector import Importance, inspect_nwbfile
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.behavior import Position

from bmi_decoder.io import read_nwb, read_nwb_file, read_recording, write_nwb, write_recording
from bmi_decoder.recording import Recording
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError


@pytest.fixture(scope="module")
def session():
    return simulate_session(seconds=20, channels=96, seed=7, finger_columns=6, units_per_channel=5)


def test_simulated_session_reads_back_identical(tmp_path, session):
    path = tmp_path / "session.nwb"
    write_nwb(session.recording, path, outside_spikes=session.outside_spikes)
    stored = read_nwb_file(path)
    assert stored.recording.mismatches(session.recording) == []
    counts = np.bincount(stored.recording.spike_channels, minlength=96)
    np.testing.assert_array_equal(counts, session.channel_spike_counts)
    assert len(stored.outside_spikes.times) == len(session.outside_spikes.times) > 0


def test_mat_and_nwb_give_the_same_recording(tmp_path):
    session = simulate_session(seconds=20, channels=192, seed=8)
    for suffix in ("mat", "nwb"):
        write_recording(session.recording, tmp_path / f"s.{suffix}", outside_spikes=session.outside_spikes)
    assert read_recording(tmp_path / "s.mat").mismatches(read_recording(tmp_path / "s.nwb")) == []


def test_export_passes_nwbinspector(tmp_path, session):
    path = tmp_path / "session.nwb"
    write_nwb(session.recording, path, outside_spikes=session.outside_spikes)
    messages = list(inspect_nwbfile(nwbfile_path=path))
    serious = [
        f"{m.importance.name} {m.check_function_name}: {m.message}"
        for m in messages
        if m.importance != Importance.BEST_PRACTICE_SUGGESTION
    ]
    assert serious == []


def test_irregular_clock_is_kept_exactly_as_timestamps(tmp_path, session):
    rec = session.recording
    jitter = np.random.default_rng(0).uniform(0, 1e-4, len(rec.t))
    jitter[[0, -1]] = 0.0  # same window, same spikes
    jittered = rec.t + jitter
    changed = Recording(**{**{f: getattr(rec, f) for f in rec.__dataclass_fields__}, "t": jittered})
    path = tmp_path / "jitter.nwb"
    write_nwb(changed, path, outside_spikes=session.outside_spikes)
    with NWBHDF5IO(str(path), "r") as io:
        assert io.read().processing["behavior"]["Position"]["cursor_pos"].timestamps is not None
    assert read_nwb(path).mismatches(changed) == []


def _dandi_file(path, *, in_position_container: bool, cursor_unit: str = "mm", conversion: float = 1.0) -> dict:
    """An NWB file in the DANDI 000129 (NLB MC_RTT) layout: units with electrodes, no unit numbers."""
    nwbfile = NWBFile("random target task", "dandi-like", datetime(2016, 6, 30, tzinfo=UTC))
    device = nwbfile.create_device("array")
    group = nwbfile.create_electrode_group("M1", "Utah array", "M1", device)
    for _ in range(3):
        nwbfile.add_electrode(group=group, location="M1")
    rng = np.random.default_rng(1)
    t0, rate, k = 100.0, 1000.0, 3000
    # Units listed in a mixed electrode order: 2 units on electrode 0, 1 on electrode 2.
    spikes = {
        (0, 1): np.sort(rng.uniform(99.0, 103.5, 40)),
        (2, 1): np.sort(rng.uniform(t0, 102.0, 30)),
        (0, 2): np.sort(rng.uniform(t0, 102.0, 20)),
    }
    for (electrode, _), times in spikes.items():
        nwbfile.add_unit(spike_times=times, electrodes=[electrode])
    behaviour = nwbfile.create_processing_module("behavior", "behaviour")
    cursor = rng.normal(0, 50, (k, 2)) / (1000.0 if cursor_unit == "m" else 1.0)
    target = np.repeat(rng.normal(0, 50, (3, 2)), k // 3, axis=0)
    finger = rng.normal(0, 5, (k, 3))
    series = [
        TimeSeries(name="cursor_pos", data=cursor, unit=cursor_unit, conversion=conversion, starting_time=t0, rate=rate),
        TimeSeries(name="target_pos", data=target, unit="mm", starting_time=t0, rate=rate),
        TimeSeries(name="finger_pos", data=finger, unit="cm", starting_time=t0, rate=rate),
    ]
    if in_position_container:
        position = Position(name="Position")
        for s in series:
            position.create_spatial_series(
                name=s.name,
                data=s.data,
                unit=s.unit,
                conversion=s.conversion,
                starting_time=t0,
                rate=rate,
                reference_frame="screen",
            )
        behaviour.add(position)
    else:
        for s in series:
            behaviour.add(s)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return {"spikes": spikes, "cursor": cursor, "target": target, "finger": finger, "t": t0 + np.arange(k) / rate}


@pytest.mark.parametrize("in_position_container", [False, True])
def test_reads_the_dandi_nlb_layout(tmp_path, in_position_container):
    path = tmp_path / "sub-Indy_ecephys.nwb"
    truth = _dandi_file(path, in_position_container=in_position_container)
    stored = read_nwb_file(path)
    rec = stored.recording
    assert rec.chan_names == ("M1 001", "M1 002", "M1 003")
    # No hash unit in these files: units are numbered 1, 2, ... per electrode in table order.
    assert rec.units_per_channel == 3
    np.testing.assert_allclose(rec.t, truth["t"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(rec.cursor_pos, truth["cursor"])
    np.testing.assert_array_equal(rec.target_pos, truth["target"])
    np.testing.assert_array_equal(rec.finger_pos, truth["finger"])
    for (electrode, unit), times in truth["spikes"].items():
        mine = (rec.spike_channels == electrode) & (rec.spike_units == unit)
        inside = times[(times >= rec.t[0]) & (times <= rec.t[-1])]
        np.testing.assert_array_equal(rec.spike_times[mine], inside)
    assert (
        rec.spikes_outside_window
        == sum(int(np.count_nonzero((s < rec.t[0]) | (s > rec.t[-1]))) for s in truth["spikes"].values())
        > 0
    )


def test_lengths_in_metres_are_converted_to_mm(tmp_path):
    path = tmp_path / "metres.nwb"
    truth = _dandi_file(path, in_position_container=False, cursor_unit="m")
    np.testing.assert_allclose(read_nwb(path).cursor_pos, truth["cursor"] * 1000.0, rtol=1e-12)


def test_unknown_length_unit_is_refused(tmp_path):
    path = tmp_path / "pixels.nwb"
    _dandi_file(path, in_position_container=False, cursor_unit="pixels")
    with pytest.raises(InputError, match="behavior/cursor_pos"):
        read_nwb(path)


def test_missing_behaviour_module_is_refused(tmp_path):
    nwbfile = NWBFile("no behaviour", "x", datetime(2016, 6, 30, tzinfo=UTC))
    device = nwbfile.create_device("array")
    nwbfile.add_electrode(group=nwbfile.create_electrode_group("M1", "a", "M1", device), location="M1")
    nwbfile.add_unit(spike_times=[1.0, 2.0], electrodes=[0])
    path = tmp_path / "nobehaviour.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    with pytest.raises(InputError, match="processing/behavior"):
        read_nwb(path)


@pytest.mark.parametrize("last_end", [10**9, -1])
def test_spike_index_beyond_the_spikes_is_refused(tmp_path, session, last_end):
    import h5py

    path = tmp_path / "session.nwb"
    write_nwb(session.recording, path, outside_spikes=session.outside_spikes)
    with h5py.File(path, "r+") as f:
        index = f["units/spike_times_index"]
        ends = index[:].astype(np.int64)
        ends[-1] = last_end if last_end >= 0 else ends[-2] - 1  # past the data, or falling
        attrs = dict(index.attrs)  # the VectorIndex type and its target, which HDMF reads
        del f["units/spike_times_index"]
        f.create_dataset("units/spike_times_index", data=ends).attrs.update(attrs)
    with pytest.raises(InputError, match="spike_times_index: expected non-decreasing ends"):
        read_nwb(path)
