"""Event recordings to frame tensors (T, 2, H, W), cached on disk under a key of every parameter.

Frames follow the usual CIFAR10-DVS recipe (TET: 48 x 48, T = 10): tonic's ``Downsample`` maps
the 128 x 128 sensor onto ``size`` x ``size`` pixels, then ``ToFrame(n_time_bins=T)`` counts the
events of each polarity in T equal stretches of the recording. Values are event counts.

The cache holds one ``.npy`` array per (data set, split, parameters) and a ``.json`` written
after it that records the parameters, files and labels. Its file name carries a SHA-256 of the
data set, the root, the split, T, the size, every file (path, size, modification time) and the
format version, so a changed parameter or a rewritten file gives a new key, never a stale cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from tonic.transforms import Compose, Downsample, ToFrame
from torch.utils.data import Dataset
from tqdm import tqdm

from snn_core.atomic import atomic_path, reserve_space, write_text_atomic
from snn_core.errors import InputError
from vision_bench.data.datasets import SENSOR_SIZE, EventSamples, open_samples
from vision_bench.data.split import SPLITS, default_scheme, split_indices

FRAMES_VERSION = 1  # bump when the frame recipe changes: old caches then miss
CACHE_FOLDER = "frames_cache"


def frame_transform(time_bins: int, size: int) -> Compose:
    """tonic transform from 128 x 128 events to (time_bins, 2, size, size) int16 counts."""
    return Compose(
        [
            Downsample(sensor_size=SENSOR_SIZE, target_size=(size, size)),
            ToFrame(sensor_size=(size, size, SENSOR_SIZE[2]), n_time_bins=time_bins),
        ]
    )


class FrameDataset(Dataset):
    """Frames of one split, read from the cache (memory-mapped).

    Attributes:
        frames: (n, T, 2, H, W) int16 event counts.
        labels: (n,) int64 labels.
        classes: class names in label order.
        files: source recording of each sample.
        cache_file: the ``.npy`` the frames come from.
        from_cache: whether the frames were already cached (False: computed by this load).
    """

    def __init__(
        self,
        frames: np.ndarray,
        labels: np.ndarray,
        classes: tuple[str, ...],
        files: tuple[str, ...],
        cache_file: Path,
        from_cache: bool,
    ) -> None:
        self.frames = frames
        self.labels = labels
        self.classes = classes
        self.files = files
        self.cache_file = cache_file
        self.from_cache = from_cache

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def frame_shape(self) -> tuple[int, int, int, int]:
        """(T, 2, H, W) of one sample."""
        return tuple(self.frames.shape[1:])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(np.asarray(self.frames[i], dtype=np.float32)), int(self.labels[i])


def cache_params(samples: EventSamples, indices: np.ndarray, split: str, scheme: str, time_bins: int, size: int) -> dict:
    """Everything that shapes the frames of a split: the cache key is a hash of this."""
    files = []
    for i in indices:
        stat = os.stat(samples.files[i])
        files.append([os.path.relpath(samples.files[i], samples.root), stat.st_size, stat.st_mtime_ns])
    return {
        "version": FRAMES_VERSION,
        "dataset": samples.dataset,
        "root": str(samples.root.resolve()),
        "split": split,
        "split_scheme": scheme,
        "time_bins": time_bins,
        "size": size,
        "files": files,
        "labels": samples.labels[indices].tolist(),
    }


def cache_key(params: dict) -> str:
    """SHA-256 (hex) of the parameters, independent of key order."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _check_arguments(dataset: str, split: str, time_bins: int, size: int) -> None:
    if split not in SPLITS:
        raise InputError("load_frames", "split", f"one of {', '.join(SPLITS)}, not {split!r}")
    if not isinstance(time_bins, int) or time_bins < 1:
        raise InputError("load_frames", "time_bins", f"a positive integer, not {time_bins!r}")
    if not isinstance(size, int) or not 1 <= size <= SENSOR_SIZE[0]:
        raise InputError("load_frames", "size", f"an integer from 1 to {SENSOR_SIZE[0]}, not {size!r}")


def _read_cache(frames_file: Path, meta_file: Path, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cached frames if complete and made under ``key``, else None (recompute)."""
    # The .json is written after the .npy: its presence with our key means the frames are complete.
    try:
        if json.loads(meta_file.read_text()).get("key") != key:
            return None
        frames = np.load(frames_file, mmap_mode="r")
    except (OSError, ValueError):  # absent, or not what we wrote: a miss, not an error
        return None
    return frames if frames.shape == shape else None


def load_frames(
    dataset: str,
    root: str | Path,
    split: str,
    time_bins: int = 10,
    size: int = 48,
    split_scheme: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> FrameDataset:
    """Frames of one split of a data set, computed once and then read from the cache.

    Args:
        dataset: ``"cifar10dvs"``, ``"dvsgesture"`` or ``"synthetic"``.
        root: data root holding ``CIFAR10DVS/`` or ``DVSGesture/``.
        split: ``"train"`` or ``"test"``.
        time_bins: T, frames per recording.
        size: output height and width in pixels.
        split_scheme: see :mod:`vision_bench.data.split`; None for the data set's default
            (``"9:1"`` for CIFAR10-DVS and the simulated set, ``"subjects"`` for DVS128 Gesture).
        cache_dir: cache folder; default ``root/frames_cache``.
        progress: show a progress bar while computing frames.

    Returns:
        The split's frames, labels and classes.

    Raises:
        InputError: bad arguments, a missing or malformed data set, an unreadable recording.
    """
    _check_arguments(dataset, split, time_bins, size)
    samples = open_samples(dataset, root)
    scheme = default_scheme(samples.dataset) if split_scheme is None else split_scheme
    indices = split_indices(samples, scheme)[split]
    if len(indices) == 0:
        # ceil(90%) of a class of 10 or fewer is all of it: the 9:1 test split needs 11 per class.
        raise InputError(samples.root, split, f"recordings in the {split} split of {scheme} (11 or more per class)")
    params = cache_params(samples, indices, split, scheme, time_bins, size)
    key = cache_key(params)
    cache_dir = samples.root / CACHE_FOLDER if cache_dir is None else Path(cache_dir)
    stem = f"{samples.dataset}-{split}-T{time_bins}-{size}px-{key[:16]}"
    frames_file, meta_file = cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"
    shape = (len(indices), time_bins, SENSOR_SIZE[2], size, size)
    labels = samples.labels[indices]
    files = tuple(samples.files[i] for i in indices)

    frames = _read_cache(frames_file, meta_file, key, shape)
    if frames is not None:
        return FrameDataset(frames, labels, samples.classes, files, frames_file, from_cache=True)

    transform = frame_transform(time_bins, size)
    with atomic_path(frames_file) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int16, shape=shape)
        reserve_space(tmp)  # a memory map over a full disk is a SIGBUS, not an error: claim the room first
        desc = f"frames {samples.dataset} {split}"
        # Bars only on a terminal, and erased when closed: an error stays the one line on stderr.
        with tqdm(indices, desc=desc, unit="rec", disable=None if progress else True, leave=False) as bar:
            for row, i in enumerate(bar):
                out[row] = transform(samples.read(int(i)))
        out.flush()
        del out
    write_text_atomic(meta_file, json.dumps({"key": key, **params}) + "\n")
    frames = np.load(frames_file, mmap_mode="r")
    return FrameDataset(frames, labels, samples.classes, files, frames_file, from_cache=False)
