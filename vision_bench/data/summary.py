"""What ``vision-bench info`` reports about a data set on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from vision_bench.data.datasets import open_samples
from vision_bench.data.split import split_indices


def summarize(dataset: str, root: str | Path, split_scheme: str | None = None, progress: bool = True) -> dict:
    """Classes, recordings per class, split sizes and mean events per recording.

    Every recording is read, so a truncated or corrupt file is found here rather than hours
    into a training run.

    Args:
        dataset: ``"cifar10dvs"``, ``"dvsgesture"`` or ``"synthetic"``.
        root: data root holding ``CIFAR10DVS/`` or ``DVSGesture/``.
        split_scheme: see :mod:`vision_bench.data.split`; None for the data set's default.
        progress: show a progress bar while reading.

    Returns:
        ``{"classes": [names], "samples_per_class": {name: n}, "train": n, "test": n,
        "mean_events": float}``.

    Raises:
        InputError: a missing or malformed data set, an unreadable recording.
    """
    samples = open_samples(dataset, root)
    split = split_indices(samples, split_scheme)
    counts = np.bincount(samples.labels, minlength=len(samples.classes))
    # Bar only on a terminal, and erased when closed: an error stays the one line on stderr.
    with tqdm(range(len(samples)), desc="reading", unit="rec", disable=None if progress else True, leave=False) as bar:
        events = [len(samples.read(i)) for i in bar]
    return {
        "classes": list(samples.classes),
        "samples_per_class": {name: int(n) for name, n in zip(samples.classes, counts, strict=True)},
        "train": int(len(split["train"])),
        "test": int(len(split["test"])),
        "mean_events": float(np.mean(events)),
    }
