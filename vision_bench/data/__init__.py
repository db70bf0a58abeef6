"""DVS data for the vision benchmark: CIFAR10-DVS, DVS128 Gesture and a simulated set.

tonic reads the files (the simulated set in CIFAR10-DVS's own layout, through the same code
path); :func:`load_frames` is what a trainer calls: split, frames (T, 2, H, W), disk cache.
"""

from vision_bench.data.datasets import (
    CIFAR10DVS_CLASSES,
    DATASETS,
    DVSGESTURE_CLASSES,
    SENSOR_SIZE,
    EventSamples,
    open_samples,
)
from vision_bench.data.frames import FrameDataset, cache_key, cache_params, frame_transform, load_frames
from vision_bench.data.split import SPLIT_SCHEMES, VALIDATION_SHARE, default_scheme, split_indices, validation_split
from vision_bench.data.summary import summarize
from vision_bench.data.synthetic import SyntheticSet, write_synthetic_cifar10dvs

__all__ = [
    "CIFAR10DVS_CLASSES",
    "DATASETS",
    "DVSGESTURE_CLASSES",
    "SENSOR_SIZE",
    "SPLIT_SCHEMES",
    "VALIDATION_SHARE",
    "EventSamples",
    "FrameDataset",
    "SyntheticSet",
    "cache_key",
    "cache_params",
    "default_scheme",
    "frame_transform",
    "load_frames",
    "open_samples",
    "split_indices",
    "summarize",
    "validation_split",
    "write_synthetic_cifar10dvs",
]
