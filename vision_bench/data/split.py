"""Reproducible train/test splits: deterministic, disjoint, independent of file-system order.

CIFAR10-DVS comes without a split and tonic lists files in file-system order (docs/data.md), so both
schemes here sort first:

- ``"9:1"``: SpikingJelly's split, the common one: per class, file names sorted as strings
  (``cifar10_cat_0, cifar10_cat_1, cifar10_cat_10, ...``, the order of its sorted folder
  listing), the first ceil(90%) for training and the rest for testing.
- ``"tebn"``: the 900/100 split of TEBN (Duan et al. 2022) and the papers that follow it: per
  class, files in the order of their number (``cifar10_cat_0`` ... ``_899`` train, ``_900`` ...
  ``_999`` test), again ceil(90%) / rest for sets that are not 1,000 per class.

DVS128 Gesture has its own split by subject (``"subjects"``), the only one this module offers
for it: mixing subjects would leak a person's gestures into the test set.
"""

from __future__ import annotations

import os

import numpy as np

from snn_core.errors import InputError
from vision_bench.data.datasets import CIFAR10DVS_FILE, EventSamples
from vision_bench.names import SPLIT_SCHEMES, VALIDATION_SHARE

TRAIN_SHARE = 0.9
SPLITS = ("train", "test")


def default_scheme(dataset: str) -> str:
    """The split scheme used when none is given: the first listed for the data set."""
    return SPLIT_SCHEMES[dataset][0]


def split_indices(samples: EventSamples, scheme: str | None = None) -> dict[str, np.ndarray]:
    """Indices into ``samples`` of the training and the test recordings.

    Args:
        samples: the recordings, as :func:`~vision_bench.data.datasets.open_samples` lists them.
        scheme: one of ``SPLIT_SCHEMES[samples.dataset]``; None for the data set's default.

    Returns:
        ``{"train": idx, "test": idx}``, each sorted by class, then by the scheme's file order.

    Raises:
        InputError: a scheme the data set does not offer.
    """
    scheme = default_scheme(samples.dataset) if scheme is None else scheme
    if scheme not in SPLIT_SCHEMES[samples.dataset]:
        expected = ", ".join(SPLIT_SCHEMES[samples.dataset])
        raise InputError("--split-scheme", "split_scheme", f"one of {expected} for {samples.dataset}, not {scheme!r}")
    if scheme == "subjects":
        names = np.array([os.path.relpath(f, samples.root) for f in samples.files])
        order = np.lexsort((names, samples.labels))
        return {
            "train": order[samples.official_train[order]],
            "test": order[~samples.official_train[order]],
        }
    names = [os.path.basename(f) for f in samples.files]
    if scheme == "9:1":
        key = np.array(names)
    else:
        key = np.array([int(CIFAR10DVS_FILE.fullmatch(name)["index"]) for name in names])
    order = np.lexsort((key, samples.labels))
    labels = samples.labels[order]
    # Rank of each recording within its class, in the scheme's order.
    first_of_class = np.searchsorted(labels, labels, side="left")
    rank = np.arange(len(order)) - first_of_class
    class_size = np.bincount(labels, minlength=len(samples.classes))[labels]
    # ceil, as SpikingJelly; the epsilon keeps 0.9 x 1000 at 900 despite binary rounding.
    n_train = np.ceil(class_size * TRAIN_SHARE - 1e-9).astype(np.int64)
    in_train = rank < n_train
    return {"train": order[in_train], "test": order[~in_train]}


def validation_split(labels: np.ndarray, share: float = VALIDATION_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Indices (fit, validation) into a training split: the last ``share`` of each class.

    The split's own order is kept within a class (files sorted by the split scheme, subjects
    for DVS128 Gesture), so the choice is deterministic; each class gives at least one.

    Raises:
        InputError: a class with fewer than two training recordings (nothing left to fit on).
    """
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    ranked = labels[order]
    rank = np.arange(len(order)) - np.searchsorted(ranked, ranked, side="left")
    size = np.bincount(labels)[ranked]
    if size.min() < 2:
        raise InputError("training split", "recordings per class", "at least 2, to carve out a validation set")
    in_val = rank >= size - np.maximum(1, np.round(size * share))
    return np.sort(order[~in_val]), np.sort(order[in_val])
