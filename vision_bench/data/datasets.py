"""The DVS data sets on disk, read through tonic, with their layout checked first.

tonic's readers download when they think a set is missing: CIFAR10DVS wants its archive
``CIFAR10DVS.zip`` beside at least 1,000 ``.aedat4`` files, DVSGesture its ``.tar.gz`` beside
at least 100 ``.npy`` files. A user who extracted by hand, and every simulated set, would start a
multi-GB download (or, offline, a traceback). So this module checks the layout itself, names the
first thing that is wrong, and then lets tonic list and read the files without ever downloading.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tonic

from snn_core.errors import InputError
from vision_bench.names import DATASETS

SENSOR_SIZE = (128, 128, 2)  # both sets: a 128 x 128 DVS, two polarities (docs/data.md)

CIFAR10DVS_FOLDER = "CIFAR10DVS"
# tonic's label numbers are the alphabetical class order, airplane 0 ... truck 9 (docs/data.md).
CIFAR10DVS_CLASSES = tuple(sorted(tonic.datasets.CIFAR10DVS.classes, key=tonic.datasets.CIFAR10DVS.classes.get))
CIFAR10DVS_FILE = re.compile(r"cifar10_(?P<cls>[a-z]+)_(?P<index>\d+)\.aedat4")
SYNTHETIC_MANIFEST = "synthetic.json"

DVSGESTURE_FOLDER = "DVSGesture"
DVSGESTURE_CLASSES = tuple(tonic.datasets.DVSGesture.classes)
DVSGESTURE_SPLITS = {True: "ibmGestureTrain", False: "ibmGestureTest"}
DVSGESTURE_USER = re.compile(r"user(?P<user>\d+)_(?P<lighting>[^/\\]+)")
DVSGESTURE_FILE = re.compile(r"(?P<label>\d+)\.npy")


class CIFAR10DVS(tonic.datasets.CIFAR10DVS):
    """tonic's CIFAR10-DVS reader over a layout already checked: it never downloads.

    The class keeps tonic's name because tonic takes the data folder from the class name.
    """

    def _check_exists(self) -> bool:
        return True


class DVSGesture(tonic.datasets.DVSGesture):
    """tonic's DVS128 Gesture reader over a layout already checked: it never downloads."""

    def _check_exists(self) -> bool:
        return True


@dataclass(frozen=True, eq=False)
class EventSamples:
    """Every recording of a data set, in tonic's order, and how to read each one.

    Attributes:
        dataset: one of :data:`DATASETS`.
        root: the data root (tonic's ``save_to``).
        classes: class names, in label order.
        files: path of each recording, as tonic lists it (file-system order).
        labels: (n,) int label of each recording, as tonic assigns it.
        official_train: (n,) bool, DVS128 Gesture's own train/test split by subject;
            None for CIFAR10-DVS, which has none.
        readers: the tonic datasets that read the files.
        reader_index: (n, 2) int, which reader and which index within it reads each file.
    """

    dataset: str
    root: Path
    classes: tuple[str, ...]
    files: tuple[str, ...]
    labels: np.ndarray
    official_train: np.ndarray | None
    readers: tuple[tonic.dataset.Dataset, ...]
    reader_index: np.ndarray

    def __len__(self) -> int:
        return len(self.files)

    def read(self, i: int) -> np.ndarray:
        """Events of recording ``i``: a structured array with fields t (us), x, y, p.

        Raises:
            InputError: the file cannot be read (truncated, not AEDAT 4 / npy, no events).
        """
        reader, index = self.reader_index[i]
        try:
            events, _ = self.readers[reader][int(index)]
        # The aedat decoder raises RuntimeError, tonic a bare Exception for a file without an
        # event stream, numpy ValueError / OSError: all mean "this file is not readable".
        except Exception as err:
            raise InputError(self.files[i], "events", f"a readable recording ({type(err).__name__}: {err})") from err
        return events


def open_samples(dataset: str, root: str | Path) -> EventSamples:
    """Check the layout under ``root`` and list its recordings through tonic.

    Args:
        dataset: ``"cifar10dvs"``, ``"dvsgesture"`` or ``"synthetic"`` (the CIFAR10-DVS layout
            written by ``vision-bench synth``).
        root: the folder holding ``CIFAR10DVS/`` or ``DVSGesture/``.

    Raises:
        InputError: unknown data set, missing root, or a layout tonic would not read.
    """
    if dataset not in DATASETS:
        raise InputError("--dataset", "dataset", f"one of {', '.join(DATASETS)}, not {dataset!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(root, "root", "an existing folder holding the data set")
    if dataset == "dvsgesture":
        return _open_dvsgesture(root)
    return _open_cifar10dvs(root, synthetic=dataset == "synthetic")


def _open_cifar10dvs(root: Path, synthetic: bool) -> EventSamples:
    folder = root / CIFAR10DVS_FOLDER
    layout = f"the CIFAR10-DVS layout {CIFAR10DVS_FOLDER}/<class>/cifar10_<class>_<i>.aedat4 under the root"
    if not folder.is_dir():
        raise InputError(folder, "folder", layout)
    manifest = folder / SYNTHETIC_MANIFEST
    if synthetic and not manifest.is_file():
        raise InputError(manifest, "manifest", "a set written by `vision-bench synth` (real data: --dataset cifar10dvs)")
    if not synthetic and manifest.is_file():
        raise InputError(manifest, "manifest", "real CIFAR10-DVS data; this set is simulated (--dataset synthetic)")
    for name in CIFAR10DVS_CLASSES:
        class_dir = folder / name
        if not class_dir.is_dir() or not any(class_dir.glob("*.aedat4")):
            raise InputError(class_dir, "class folder", f"a folder of cifar10_{name}_<i>.aedat4 files")
    # tonic takes every file ending in "aedat4" anywhere below, with its folder name as the class:
    # a stray folder would crash it and a leftover temporary file would become a sample.
    classes = ", ".join(CIFAR10DVS_CLASSES)
    for path, dirs, names in os.walk(folder):
        dirs.sort()
        for name in dirs:
            # a folder is not a recording: tonic would skip it silently, so a class would lack it
            if name.endswith("aedat4"):
                raise InputError(Path(path, name), "recording", "a file, not a folder (an unpacked or copied recording?)")
        if Path(path) == folder:
            for name in [name for name in dirs if name not in CIFAR10DVS_CLASSES]:
                extra = folder / name
                if any(file.endswith("aedat4") for _, _, files in os.walk(extra) for file in files):
                    raise InputError(extra, "class folder", f"only the class folders {classes}")
                # no recordings below it: tonic ignores it, and so does this reader
                print(f"warning: {extra}: not a class folder ({classes}) and holds no recordings; ignored", file=sys.stderr)
                dirs.remove(name)
        for name in names:
            match = CIFAR10DVS_FILE.fullmatch(name)
            if name.endswith("aedat4") and (match is None or match["cls"] != os.path.basename(path)):
                raise InputError(Path(path, name), "file name", f"only {layout} (a leftover temporary file?)")
    reader = CIFAR10DVS(save_to=str(root))
    return EventSamples(
        dataset="synthetic" if synthetic else "cifar10dvs",
        root=root,
        classes=CIFAR10DVS_CLASSES,
        files=tuple(reader.data),
        labels=np.asarray(reader.targets, dtype=np.int64),
        official_train=None,
        readers=(reader,),
        reader_index=np.stack([np.zeros(len(reader), dtype=np.int64), np.arange(len(reader))], axis=1),
    )


def _open_dvsgesture(root: Path) -> EventSamples:
    layout = f"{DVSGESTURE_FOLDER}/<split>/user<NN>_<lighting>/<label>.npy (tonic's extracted archives)"
    readers, files, labels, train, index = [], [], [], [], []
    for r, (is_train, split) in enumerate(DVSGESTURE_SPLITS.items()):
        folder = root / DVSGESTURE_FOLDER / split
        if not folder.is_dir():
            raise InputError(folder, "folder", layout)
        # tonic parses every sub-folder as user<NN>_<lighting> and every .npy stem as a label.
        for path, _, names in os.walk(folder):
            relative = os.path.relpath(path, folder)
            npy = [name for name in names if name.endswith("npy")]
            if relative != "." and DVSGESTURE_USER.fullmatch(relative) is None:
                raise InputError(path, "folder name", layout)
            for name in npy:
                match = DVSGESTURE_FILE.fullmatch(name)
                if match is None or int(match["label"]) >= len(DVSGESTURE_CLASSES):
                    raise InputError(Path(path, name), "file name", f"<label>.npy with label 0 to {len(DVSGESTURE_CLASSES) - 1}")
        reader = DVSGesture(save_to=str(root), train=is_train)
        if len(reader) == 0:
            raise InputError(folder, "recordings", f"at least one {layout}")
        readers.append(reader)
        files.extend(reader.data)
        labels.extend(reader.targets)
        train.extend([is_train] * len(reader))
        index.extend((r, i) for i in range(len(reader)))
    return EventSamples(
        dataset="dvsgesture",
        root=root,
        classes=DVSGESTURE_CLASSES,
        files=tuple(files),
        labels=np.asarray(labels, dtype=np.int64),
        official_train=np.asarray(train),
        readers=tuple(readers),
        reader_index=np.asarray(index, dtype=np.int64),
    )
