"""Simulated CIFAR10-DVS through tonic, DVS128 Gesture's layout, splits, frames and their cache."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from snn_core.errors import InputError
from vision_bench.data import (
    CIFAR10DVS_CLASSES,
    cache_key,
    cache_params,
    frame_transform,
    load_frames,
    open_samples,
    split_indices,
    write_synthetic_cifar10dvs,
)
from vision_bench.data import frames as frames_module

PER_CLASS = 12  # 11 or more per class, so that 9:1 leaves a test recording in each class


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_synthetic_cifar10dvs(tmp_path_factory.mktemp("sim"), per_class=PER_CLASS, seed=1, progress=False)


@pytest.fixture(scope="module")
def gesture_root(tmp_path_factory) -> Path:
    """DVS128 Gesture in tonic's extracted layout: (N, 4) arrays of x, y, p, t in ms."""
    root = tmp_path_factory.mktemp("gesture")
    rng = np.random.default_rng(0)
    users = {"ibmGestureTrain": ["user01_fluorescent", "user02_led"], "ibmGestureTest": ["user24_natural"]}
    for split, folders in users.items():
        for folder in folders:
            for label in range(11):
                n = int(rng.integers(200, 400))
                t_ms = np.sort(rng.integers(0, 6000, size=n))
                events = np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n), t_ms], 1)
                path = root / "DVSGesture" / split / folder / f"{label}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, events.astype(np.int64))
    return root


def test_files_lie_in_the_cifar10dvs_layout(synthetic):
    assert len(synthetic.files) == 10 * PER_CLASS
    for path, label in zip(synthetic.files, synthetic.labels, strict=True):
        name = CIFAR10DVS_CLASSES[label]
        assert path.parent == synthetic.root / "CIFAR10DVS" / name
        assert re.fullmatch(rf"cifar10_{name}_\d+\.aedat4", path.name)
    assert (synthetic.root / "CIFAR10DVS" / "synthetic.json").is_file()
    assert 2_000 < synthetic.event_counts.mean() < 20_000


def test_tonic_reads_what_was_written(synthetic):
    samples = open_samples("synthetic", synthetic.root)
    written = {str(p): (label, n) for p, label, n in zip(synthetic.files, synthetic.labels, synthetic.event_counts)}
    assert sorted(samples.files) == sorted(written)
    for i, path in enumerate(samples.files):
        events = samples.read(i)
        label, n = written[path]
        assert samples.labels[i] == label
        assert len(events) == n
        assert set(events.dtype.names) == {"t", "x", "y", "p"}
        assert events["t"].min() > 1.5e15 and np.all(np.diff(events["t"].astype(np.int64)) >= 0)
        assert events["x"].max() < 128 and events["y"].max() < 128
        assert 0 < events["p"].mean() < 1  # both polarities


def test_a_sample_depends_only_on_seed_class_and_index(synthetic, tmp_path):
    again = write_synthetic_cifar10dvs(tmp_path / "again", per_class=1, seed=1, progress=False)
    other = write_synthetic_cifar10dvs(tmp_path / "other", per_class=1, seed=2, progress=False)
    first = {p.name: n for p, n in zip(synthetic.files, synthetic.event_counts)}
    assert [first[p.name] for p in again.files] == again.event_counts.tolist()
    assert [first[p.name] for p in other.files] != other.event_counts.tolist()
    a = open_samples("synthetic", tmp_path / "again")
    s = open_samples("synthetic", synthetic.root)
    i_a = a.files.index(str(tmp_path / "again/CIFAR10DVS/cat/cifar10_cat_0.aedat4"))
    i_s = s.files.index(str(synthetic.root / "CIFAR10DVS/cat/cifar10_cat_0.aedat4"))
    events_a, events_s = a.read(i_a), s.read(i_s)
    for field in "txyp":
        np.testing.assert_array_equal(events_a[field], events_s[field])


@pytest.mark.parametrize(("scheme", "test_file"), [("9:1", "9"), ("tebn", "11")])
def test_split_is_deterministic_disjoint_and_sorted(synthetic, scheme, test_file):
    samples = open_samples("synthetic", synthetic.root)
    split = split_indices(samples, scheme)
    assert len(np.intersect1d(split["train"], split["test"])) == 0
    assert sorted(np.concatenate([split["train"], split["test"]])) == list(range(len(samples)))
    assert np.bincount(samples.labels[split["test"]]).tolist() == [1] * 10
    # 9:1 sorts names as strings (..., _10, _11, _2, ..., _9), tebn by number (..., _10, _11).
    test_names = {os.path.basename(samples.files[i]).rsplit("_", 1)[1] for i in split["test"]}
    assert test_names == {f"{test_file}.aedat4"}
    # A different file-system order gives the same files in each split.
    order = np.random.default_rng(3).permutation(len(samples))
    shuffled = dataclasses.replace(
        samples,
        files=tuple(samples.files[i] for i in order),
        labels=samples.labels[order],
        reader_index=samples.reader_index[order],
    )
    again = split_indices(shuffled, scheme)
    for part in ("train", "test"):
        assert [shuffled.files[i] for i in again[part]] == [samples.files[i] for i in split[part]]


def test_split_scheme_must_fit_the_data_set(synthetic):
    samples = open_samples("synthetic", synthetic.root)
    with pytest.raises(InputError, match="split_scheme"):
        split_indices(samples, "subjects")


def test_frames_shape_values_and_cache_hit(synthetic, tmp_path):
    first = load_frames("synthetic", synthetic.root, "train", time_bins=4, size=32, cache_dir=tmp_path, progress=False)
    assert not first.from_cache
    assert len(first) == 10 * (PER_CLASS - 1) and first.n_classes == 10
    frames, label = first[0]
    assert frames.shape == (4, 2, 32, 32) and frames.dtype == torch.float32 and label == first.labels[0]
    samples = open_samples("synthetic", synthetic.root)
    i = samples.files.index(first.files[0])
    events = samples.read(i)
    np.testing.assert_array_equal(first.frames[0], frame_transform(4, 32)(events))
    # tonic's n_time_bins drops only the events stamped at the very end of the recording.
    assert 0.95 * len(events) <= frames.sum() <= len(events)
    second = load_frames("synthetic", synthetic.root, "train", time_bins=4, size=32, cache_dir=tmp_path, progress=False)
    assert second.from_cache and second.cache_file == first.cache_file
    np.testing.assert_array_equal(second.frames, first.frames)


@pytest.mark.parametrize("change", [{"time_bins": 5}, {"size": 24}, {"split": "test"}, {"split_scheme": "tebn"}])
def test_a_changed_parameter_misses_the_cache(synthetic, tmp_path, change):
    base = {"split": "train", "time_bins": 4, "size": 32, "split_scheme": "9:1"}
    before = load_frames("synthetic", synthetic.root, cache_dir=tmp_path, progress=False, **base)
    after = load_frames("synthetic", synthetic.root, cache_dir=tmp_path, progress=False, **{**base, **change})
    assert not after.from_cache and after.cache_file != before.cache_file


def test_cache_key_covers_every_parameter(synthetic, tmp_path, monkeypatch):
    samples = open_samples("synthetic", synthetic.root)
    idx = split_indices(samples)
    base = cache_params(samples, idx["train"], "train", "9:1", 4, 32)
    variants = [
        cache_params(samples, idx["test"], "test", "9:1", 4, 32),
        cache_params(samples, idx["train"], "train", "tebn", 4, 32),
        cache_params(samples, idx["train"], "train", "9:1", 5, 32),
        cache_params(samples, idx["train"], "train", "9:1", 4, 48),
        cache_params(samples, idx["train"][:-1], "train", "9:1", 4, 32),
        cache_params(dataclasses.replace(samples, dataset="cifar10dvs"), idx["train"], "train", "9:1", 4, 32),
        cache_params(dataclasses.replace(samples, labels=samples.labels[::-1]), idx["train"], "train", "9:1", 4, 32),
    ]
    variants.append(cache_params(dataclasses.replace(samples, root=tmp_path), idx["train"], "train", "9:1", 4, 32))
    monkeypatch.setattr(frames_module, "FRAMES_VERSION", frames_module.FRAMES_VERSION + 1)
    variants.append(cache_params(samples, idx["train"], "train", "9:1", 4, 32))
    monkeypatch.undo()
    keys = {cache_key(base)} | {cache_key(v) for v in variants}
    assert len(keys) == 1 + len(variants)
    # A rewritten recording (new modification time) changes the key, and so does nothing else.
    assert cache_key(cache_params(samples, idx["train"], "train", "9:1", 4, 32)) == cache_key(base)
    touched = samples.files[idx["train"][0]]
    stat = os.stat(touched)
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert cache_key(cache_params(samples, idx["train"], "train", "9:1", 4, 32)) != cache_key(base)
    finally:
        os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_dvsgesture_reads_through_tonic_with_its_subject_split(gesture_root, tmp_path):
    samples = open_samples("dvsgesture", gesture_root)
    assert len(samples) == 33 and len(samples.classes) == 11
    assert sorted(samples.labels.tolist()) == sorted(list(range(11)) * 3)
    split = split_indices(samples)
    train_files = {samples.files[i] for i in split["train"]}
    assert len(train_files) == 22 and all("ibmGestureTrain" in f for f in train_files)
    assert all("ibmGestureTest" in samples.files[i] for i in split["test"])
    i = samples.files.index(str(gesture_root / "DVSGesture/ibmGestureTest/user24_natural/3.npy"))
    raw = np.load(samples.files[i])
    events = samples.read(i)
    assert samples.labels[i] == 3 and len(events) == len(raw)
    np.testing.assert_array_equal(events["t"], raw[:, 3] * 1000)  # tonic turns ms into us
    test = load_frames("dvsgesture", gesture_root, "test", time_bins=3, size=16, cache_dir=tmp_path, progress=False)
    assert len(test) == 11 and test.frame_shape == (3, 2, 16, 16)
    with pytest.raises(InputError, match="split_scheme"):
        load_frames("dvsgesture", gesture_root, "test", split_scheme="9:1", cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"split": "val"}, "split"), ({"time_bins": 0}, "time_bins"), ({"size": 200}, "size")],
)
def test_load_frames_rejects_bad_arguments(synthetic, kwargs, field):
    args = {"split": "train", **kwargs}
    with pytest.raises(InputError, match=field):
        load_frames("synthetic", synthetic.root, progress=False, **args)


def test_an_empty_test_split_is_bad_input(tmp_path):
    written = write_synthetic_cifar10dvs(tmp_path, per_class=2, seed=0, progress=False)
    with pytest.raises(InputError, match="11 or more per class"):
        load_frames("synthetic", written.root, "test", progress=False)


def sweep_direction(images: np.ndarray) -> float:
    """Degrees of the shape's travel: from the ON events' median place early to late."""
    on = images == 255
    early, late = (np.median(np.nonzero(on[steps])[1:], axis=1) for steps in (slice(0, 40), slice(60, 100)))
    dy, dx = late - early
    return float(np.degrees(np.arctan2(dy, dx)) % 360)


def test_the_hard_set_leaves_the_shape_as_the_only_cue():
    from vision_bench.data.synthetic import CLASS_DIRECTIONS_DEG, DIFFICULTIES, simulate_events
    from vision_bench.names import SYNTHETIC_DIFFICULTIES

    assert tuple(DIFFICULTIES) == SYNTHETIC_DIFFICULTIES  # the CLI offers exactly the generator's sets

    label = 3
    expected = CLASS_DIRECTIONS_DEG[CIFAR10DVS_CLASSES[label]]
    for name, cue in (("easy", True), ("hard", False)):
        angles = [
            sweep_direction(simulate_events(label, np.random.default_rng([0, label, i]), DIFFICULTIES[name])) for i in range(8)
        ]
        off = [abs((a - expected + 180) % 360 - 180) for a in angles]
        # easy: every sweep within a few degrees of its class's direction; hard: anywhere
        assert (max(off) < 25) == cue, (name, angles)


def test_the_manifest_names_the_difficulty_and_a_bad_one_is_refused(tmp_path):
    import json

    written = write_synthetic_cifar10dvs(tmp_path / "hard", per_class=1, seed=0, progress=False, difficulty="hard")
    assert json.loads((written.root / "CIFAR10DVS" / "synthetic.json").read_text())["difficulty"] == "hard"
    with pytest.raises(InputError) as info:
        write_synthetic_cifar10dvs(tmp_path / "bad", per_class=1, progress=False, difficulty="medium")
    assert info.value.field == "difficulty"
