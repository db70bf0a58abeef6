"""A simulated CIFAR10-DVS: moving shapes as real ``.aedat4`` files in the real folder layout.

The real set cannot be downloaded on the build machines (docs/data.md), so tests and the demo read
this one through exactly the same tonic code path. Each class is one shape sweeping across the
128 x 128 sensor in its own direction; a DVS pixel fires an ON event when the bright shape
covers it and an OFF event when it leaves, plus background-activity noise. Timestamps are
absolute microseconds near 1.6e15, as in the real files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from snn_core.atomic import atomic_path, require_space, write_text_atomic
from snn_core.errors import InputError
from vision_bench.data.datasets import CIFAR10DVS_CLASSES, CIFAR10DVS_FOLDER, SENSOR_SIZE, SYNTHETIC_MANIFEST
from vision_bench.names import SYNTHETIC_STEP_US, SYNTHETIC_STEPS

GENERATOR_VERSION = 1
T0_US = 1_600_000_000_000_000  # absolute clock of the real files (docs/data.md: t about 1.6e15 us)

Mask = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _disc(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return dx**2 + dy**2 <= r**2


def _square(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return np.maximum(abs(dx), abs(dy)) <= 0.8 * r


def _triangle(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return (abs(dy) <= 0.8 * r) & (abs(dx) <= 0.5 * (dy + 0.8 * r))


def _plus(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return ((abs(dx) <= r / 3) & (abs(dy) <= r)) | ((abs(dy) <= r / 3) & (abs(dx) <= r))


def _ring(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    d2 = dx**2 + dy**2
    return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)


def _diamond(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return abs(dx) + abs(dy) <= r


def _hbar(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return (abs(dx) <= r) & (abs(dy) <= r / 4)


def _vbar(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return (abs(dy) <= r) & (abs(dx) <= r / 4)


def _cross(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return (abs(abs(dx) - abs(dy)) <= r / 4) & (np.maximum(abs(dx), abs(dy)) <= 0.8 * r)


def _frame(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    edge = np.maximum(abs(dx), abs(dy))
    return (edge <= 0.8 * r) & (edge >= 0.5 * r)


# Class c gets a shape of its own and, in the "easy" set, a direction of its own (36 degrees apart).
CLASS_SHAPES: dict[str, Mask] = dict(
    zip(
        CIFAR10DVS_CLASSES,
        (_disc, _square, _triangle, _plus, _ring, _diamond, _hbar, _vbar, _cross, _frame),
        strict=True,
    )
)
CLASS_DIRECTIONS_DEG = {name: 36.0 * c for c, name in enumerate(CIFAR10DVS_CLASSES)}


@dataclass(frozen=True)
class Difficulty:
    """How hard the simulated set is to classify.

    Attributes:
        direction_cue: each class sweeps in its own direction (+-10 degrees), a second cue beside
            the shape; otherwise every recording's direction is drawn uniformly.
        radius: range of the shape's radius, sensor pixels.
        noise_rate: range of background-activity events per pixel and step.
    """

    direction_cue: bool
    radius: tuple[float, float]
    noise_rate: tuple[float, float]


DIFFICULTIES: dict[str, Difficulty] = {  # keyed as vision_bench.names.SYNTHETIC_DIFFICULTIES
    # two cues, large shapes, little noise: a small network separates all ten within a few
    # epochs, as the demo needs
    "easy": Difficulty(True, (12.0, 18.0), (2e-4, 6e-4)),
    # the shape alone, smaller, in several times the noise: at the topology table's budget every
    # topology scored 100% on "easy", so the table could not rank them (issue 19)
    "hard": Difficulty(False, (9.0, 14.0), (1e-3, 2.5e-3)),
}


@dataclass(frozen=True)
class SyntheticSet:
    """What :func:`write_synthetic_cifar10dvs` wrote.

    Attributes:
        root: the data root (tonic's ``save_to``); files lie under ``root/CIFAR10DVS/<class>/``.
        files: every file written, class by class, index by index.
        labels: (n,) int label of each file (alphabetical class order, tonic's).
        event_counts: (n,) int number of events in each file.
    """

    root: Path
    files: tuple[Path, ...]
    labels: np.ndarray
    event_counts: np.ndarray


def simulate_events(label: int, rng: np.random.Generator, difficulty: Difficulty = DIFFICULTIES["easy"]) -> np.ndarray:
    """Simulate one recording of class ``label`` as DVS change images.

    Args:
        label: class index, 0 to 9.
        rng: the sample's random generator (size, speed, path and noise are drawn from it).
        difficulty: the cues and noise (:data:`DIFFICULTIES`).

    Returns:
        (SYNTHETIC_STEPS, 128, 128) uint8: 255 where an ON event fires, 0 for OFF, 128 for none; the
        form ``dv_processing.data.generate.imageToEvents`` turns into events.
    """
    name = CIFAR10DVS_CLASSES[label]
    width, height, _ = SENSOR_SIZE
    radius = rng.uniform(*difficulty.radius)
    speed = rng.uniform(0.6, 0.9)  # pixels per step: the shape crosses 60-90 pixels in 1.2 s
    if difficulty.direction_cue:
        theta = np.deg2rad(CLASS_DIRECTIONS_DEG[name] + rng.uniform(-10.0, 10.0))
    else:
        theta = np.deg2rad(rng.uniform(0.0, 360.0))
    middle = np.array([width / 2, height / 2]) + rng.uniform(-8.0, 8.0, size=2)
    travel = (np.arange(SYNTHETIC_STEPS + 1, dtype=np.float32) - SYNTHETIC_STEPS / 2) * speed
    cx = (middle[0] + travel * np.cos(theta))[:, None, None]
    cy = (middle[1] + travel * np.sin(theta))[:, None, None]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    masks = CLASS_SHAPES[name](xx[None] - cx, yy[None] - cy, radius)
    change = masks[1:].astype(np.int8) - masks[:-1].astype(np.int8)
    images = np.full(change.shape, 128, dtype=np.uint8)
    # Background activity first, so that a real edge event overrides noise on the same pixel.
    noise_rate = rng.uniform(*difficulty.noise_rate)  # easy: about 300-1,000 per recording
    flat = images.reshape(-1)
    where = rng.integers(0, flat.size, size=rng.poisson(noise_rate * flat.size))
    flat[where] = np.where(rng.random(where.size) < 0.5, 255, 0)
    images[change > 0] = 255
    images[change < 0] = 0
    return images


def _write_aedat4(path: Path, images: np.ndarray, t0_us: int) -> int:
    import dv_processing as dv

    store = dv.EventStore()
    for step, image in enumerate(images):
        store.add(dv.data.generate.imageToEvents(t0_us + step * SYNTHETIC_STEP_US, image, 255, 0))
    config = dv.io.MonoCameraWriter.EventOnlyConfig("skipsnn-simulated-DVS128", SENSOR_SIZE[:2])
    # The writer aborts the process on a full disk: refuse first what it could not write. An
    # event takes at most 16 bytes before compression, plus headers.
    require_space(path, 16 * int(store.size()) + (64 << 10))
    with atomic_path(path) as tmp:
        writer = dv.io.MonoCameraWriter(str(tmp), config)
        writer.writeEvents(store)
        del writer  # the writer flushes and closes the file only when destroyed
    return int(store.size())


def write_synthetic_cifar10dvs(
    root: str | Path, per_class: int = 20, seed: int = 0, progress: bool = True, difficulty: str = "easy"
) -> SyntheticSet:
    """Write the simulated set as ``root/CIFAR10DVS/<class>/cifar10_<class>_<i>.aedat4``.

    Files are written with ``dv_processing.io.MonoCameraWriter`` (AEDAT 4.0, LZ4), each through a
    temporary file and a rename. Sample i of a class depends only on (seed, class, i), so a
    larger ``per_class`` adds files and leaves the others as they were.

    Args:
        root: data root, as passed to ``tonic.datasets.CIFAR10DVS(save_to=root)``.
        per_class: recordings per class.
        seed: seed of every random choice.
        progress: show a progress bar.
        difficulty: a name in :data:`DIFFICULTIES`.

    Returns:
        The files written with their labels and event counts.

    Raises:
        InputError: ``per_class`` below 1, or an unknown ``difficulty``.
    """
    if per_class < 1:
        raise InputError("--per-class", "per_class", f"a positive number of recordings, not {per_class}")
    if difficulty not in DIFFICULTIES:
        raise InputError("--difficulty", "difficulty", f"one of {', '.join(DIFFICULTIES)}, not {difficulty!r}")
    root = Path(root)
    folder = root / CIFAR10DVS_FOLDER
    files, labels, counts = [], [], []
    jobs = [(label, i) for label in range(len(CIFAR10DVS_CLASSES)) for i in range(per_class)]
    # Bar only on a terminal, and erased when closed: an error stays the one line on stderr.
    with tqdm(jobs, desc="synth", unit="file", disable=None if progress else True, leave=False) as bar:
        for label, i in bar:
            name = CIFAR10DVS_CLASSES[label]
            rng = np.random.default_rng([seed, label, i])
            t0_us = T0_US + int(rng.integers(0, 10**11))  # different absolute start per file, as recorded
            path = folder / name / f"cifar10_{name}_{i}.aedat4"
            counts.append(_write_aedat4(path, simulate_events(label, rng, DIFFICULTIES[difficulty]), t0_us))
            files.append(path)
            labels.append(label)
    written = SyntheticSet(root, tuple(files), np.array(labels), np.array(counts))
    manifest = {
        "generator": "skipsnn simulated CIFAR10-DVS",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "per_class": per_class,
        "difficulty": difficulty,
        "classes": list(CIFAR10DVS_CLASSES),
        "mean_events": float(written.event_counts.mean()),
    }
    write_text_atomic(folder / SYNTHETIC_MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return written
