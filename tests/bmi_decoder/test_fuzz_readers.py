"""Property-based fuzzing of the recording readers: a valid `RecordingFile` or an `InputError`.

Each example starts from a small valid file written by the project's own writer and applies a
few structured mutations at the HDF5 level (a dataset dropped, retyped, reshaped, shuffled, filled
with NaN or infinity, its indices pushed out of range) or at the byte level (truncation, random
bytes). Any exception other than `InputError` fails. Derandomized, so CI sees the same examples.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from bmi_decoder.io import RecordingFile, read_mat_file, read_nwb_file, write_recording
from bmi_decoder.simulate import simulate_session
from snn_core.errors import InputError

FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DATASET_OPS = ("drop", "nan", "inf", "negative", "huge", "text", "int8", "shorter", "flat", "shuffle", "out_of_range")
BYTE_OPS = ("truncate", "random_bytes")

mutations = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(DATASET_OPS), st.integers(0, 10**6), st.integers(0, 2**32 - 1)),
        st.tuples(st.sampled_from(BYTE_OPS), st.floats(0.0, 1.0), st.integers(0, 2**32 - 1)),
    ),
    min_size=1,
    max_size=3,
)


@pytest.fixture(scope="module", params=["mat", "nwb"])
def valid_file(request, tmp_path_factory) -> Path:
    """A 3-second, 4-channel session in the format under test."""
    session = simulate_session(seconds=3.0, channels=4, seed=1, units_per_channel=2)
    path = tmp_path_factory.mktemp("fuzz") / f"valid.{request.param}"
    write_recording(session.recording, path, outside_spikes=session.outside_spikes)
    return path


def _datasets(path: Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(names)


def _replace(f: h5py.File, name: str, make: Callable[[np.ndarray], np.ndarray]) -> None:
    """Replace dataset ``name`` by ``make(its data)``, keeping its attributes (MATLAB class, NWB type)."""
    old = f[name]
    data, attrs = old[()], dict(old.attrs)
    new_data = make(np.asarray(data))
    del f[name]
    new = f.create_dataset(name, data=new_data)
    for key, value in attrs.items():
        new.attrs[key] = value


def _mutate_dataset(f: h5py.File, op: str, name: str, rng: np.random.Generator) -> None:
    if op == "drop":
        del f[name]
        return
    data = np.asarray(f[name][()])
    numeric = data.dtype.kind in "fiu"
    if op in ("nan", "inf", "negative", "huge") and numeric and data.size:
        value = {"nan": np.nan, "inf": np.inf, "negative": -1.0, "huge": 1e300}[op]
        _replace(f, name, lambda d: np.where(rng.random(d.shape) < 0.3, value, d.astype(np.float64)))
    elif op == "text":
        _replace(f, name, lambda d: np.array(b"not a number"))
    elif op == "int8" and numeric:
        _replace(f, name, lambda d: d.astype(np.int8))
    elif op == "shorter" and data.ndim and data.shape[-1] > 0:
        _replace(f, name, lambda d: d[..., : d.shape[-1] // 2])
    elif op == "flat" and data.ndim != 1:
        _replace(f, name, lambda d: d.ravel())
    elif op == "shuffle" and data.ndim and data.size > 1:
        _replace(f, name, lambda d: rng.permutation(d.ravel()).reshape(d.shape))
    elif op == "out_of_range" and data.dtype.kind in "iu" and data.size:
        _replace(f, name, lambda d: d + rng.integers(-(10**6), 10**6, size=d.shape).astype(d.dtype))
    else:
        reject()  # this operation does not apply to this dataset


def _mutate_bytes(path: Path, op: str, where: float, rng: np.random.Generator) -> None:
    raw = bytearray(path.read_bytes())
    at = int(where * (len(raw) - 1))
    if op == "truncate":
        del raw[at:]
    else:
        length = min(int(rng.integers(1, 64)), len(raw) - at)
        raw[at : at + length] = rng.integers(0, 256, size=length, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(raw))


def _read(path: Path) -> RecordingFile:
    return read_mat_file(path) if path.suffix == ".mat" else read_nwb_file(path)


@FUZZ
@given(ops=mutations)
def test_a_mutated_recording_reads_or_raises_input_error(valid_file: Path, ops) -> None:
    names = _datasets(valid_file)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / valid_file.name
        shutil.copyfile(valid_file, path)
        for op, target, seed in ops:
            rng = np.random.default_rng(seed)
            if op in BYTE_OPS:
                _mutate_bytes(path, op, target, rng)
                continue
            try:
                with h5py.File(path, "r+") as f:
                    name = names[target % len(names)]
                    if name not in f:
                        reject()  # dropped by an earlier mutation
                    _mutate_dataset(f, op, name, rng)
            except (OSError, KeyError, ValueError, TypeError):
                reject()  # an earlier byte mutation broke the file for h5py's writer too
        try:
            result = _read(path)
        except InputError as err:
            assert str(path) in str(err)
            return
        rec = result.recording
        assert len(rec.t) >= 2 and np.all(np.diff(rec.t) > 0)
        assert np.all(np.isfinite(rec.cursor_pos)) and np.all(np.isfinite(rec.spike_times))
        assert rec.n_channels == len(rec.chan_names) > 0
        assert np.all((rec.spike_channels >= 0) & (rec.spike_channels < rec.n_channels))
        assert np.all((rec.spike_units >= 0) & (rec.spike_units < rec.units_per_channel))
