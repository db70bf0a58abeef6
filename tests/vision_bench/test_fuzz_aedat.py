"""Property-based fuzzing of the ``.aedat4`` loading path: events or an `InputError`.

The set is written by the project's own simulator (one recording per class); each example
truncates or overwrites bytes of one recording and reads it through
:meth:`vision_bench.data.datasets.EventSamples.read`, the function every consumer of the data
goes through. Any exception other than `InputError` (e.g. a panic of the Rust AEDAT decoder)
fails. Derandomized, so CI sees the same examples.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snn_core.errors import InputError
from vision_bench.data.datasets import open_samples
from vision_bench.data.synthetic import write_synthetic_cifar10dvs


@pytest.fixture(scope="module")
def valid_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dvs")
    write_synthetic_cifar10dvs(root, per_class=1, seed=0, progress=False)
    return root


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    truncate=st.none() | st.floats(0.0, 1.0),
    overwrite=st.lists(st.tuples(st.floats(0.0, 1.0), st.binary(min_size=1, max_size=32)), max_size=3),
)
def test_a_mutated_aedat4_recording_reads_or_raises_input_error(valid_root: Path, tmp_path: Path, truncate, overwrite) -> None:
    root = tmp_path / "set"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(valid_root, root)
    samples = open_samples("synthetic", root)
    path = Path(samples.files[0])
    raw = bytearray(path.read_bytes())
    for where, data in overwrite:
        at = int(where * (len(raw) - 1))
        raw[at : at + len(data)] = data
    if truncate is not None:
        del raw[int(truncate * len(raw)) :]
    path.write_bytes(bytes(raw))
    try:
        events = samples.read(0)
    except InputError as err:
        assert str(path) in str(err)
        return
    # Overwritten event bytes can decode to other (even unordered) events: only the type is promised.
    assert isinstance(events, np.ndarray) and set("txyp") <= set(events.dtype.names)
