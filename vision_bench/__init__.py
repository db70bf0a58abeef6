"""DVS vision benchmark of skip-connected SNNs: CIFAR10-DVS, DVS128 Gesture, a simulated set.

Load a data set as frames and build the models the benchmark compares::

    from vision_bench import VisionModelConfig, build_vision_model, load_frames

The public names below are imported from their submodules on first use (see
:mod:`snn_core._lazy`): ``import vision_bench`` imports neither torch nor tonic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snn_core._lazy import lazy_exports

if TYPE_CHECKING:
    from vision_bench.data import (
        EventSamples,
        FrameDataset,
        SyntheticSet,
        load_frames,
        open_samples,
        split_indices,
        summarize,
        write_synthetic_cifar10dvs,
    )
    from vision_bench.models import VisionModelConfig, build_vision_model, variant_topology
    from vision_bench.train import TrainConfig, TrainResult

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "data": (
            "EventSamples",
            "FrameDataset",
            "SyntheticSet",
            "open_samples",
            "load_frames",
            "split_indices",
            "summarize",
            "write_synthetic_cifar10dvs",
        ),
        "models": ("VisionModelConfig", "build_vision_model", "variant_topology"),
        "train": ("TrainConfig", "TrainResult"),
    },
)
