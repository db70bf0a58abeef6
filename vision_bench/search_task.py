"""What every study of one vision search trains on: :class:`SearchTask`.

A task is built once per search (:func:`load_task`): the frames of the train and test splits, a
validation set carved out of the training split (never the test split), the model and training
settings, and the identity every study of the search is tied to
(:func:`snn_core.search.bind_study`). The device is left out of that identity: workers with and
without a GPU share one study's scores.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from torch.utils.data import Dataset, Subset

from snn_core.topology import SkipTopology
from vision_bench.config import AnalysisConfig
from vision_bench.data import VALIDATION_SHARE, load_frames, validation_split
from vision_bench.models import VisionModelConfig, VisionNetwork, build_vision_model, trunk_topology, variant_topology
from vision_bench.train import TrainConfig, train


@dataclass(frozen=True)
class SearchTask:
    """The data, model and training of a vision search.

    Attributes:
        fit_set, val_set, test_set: what trials fit on, are scored on, and what the start and the
            best topology are finally tested on.
        model: the models' shape (its ``num_classes`` the data set's).
        train: how every trial trains (its seed fixed: a topology's score is deterministic).
        layers: the skip blocks' sizes (the stem is not searched).
        identity: what the studies are tied to: data set, frames, data, model and training settings.
        data: recordings per set (fit, validation, test), classes and frame shape, for the report.
        progress: show per-epoch progress bars.
    """

    fit_set: Dataset
    val_set: Dataset
    test_set: Dataset
    model: VisionModelConfig
    train: TrainConfig
    layers: tuple[int, ...]
    identity: dict
    data: dict
    progress: bool

    def fit(self, blocks: SkipTopology, mode: str = "snn") -> tuple[VisionNetwork, float, float]:
        """Train ``blocks`` (behind the stem) on the fit set: the model, its validation accuracy
        and the seconds it took."""
        topology = trunk_topology(blocks)
        model = build_vision_model(self.model, "none", mode, self.train.seed, topology)
        tic = time.perf_counter()
        history = train(
            model, self.fit_set, self.val_set, self.train, progress=self.progress, log=None, name=f"{mode} {topology}"
        )
        return model, history.history[-1]["val_accuracy"], time.perf_counter() - tic

    def variant_blocks(self, variant: str) -> SkipTopology:
        """The skip blocks of one of the paper's variants (``none``, ``dsc``, ``asc``, ``mixed``)."""
        trunk = variant_topology(self.model.family, variant, len(self.layers), self.model.depth)
        return SkipTopology(trunk.matrices()[1:])


def load_task(dataset: str, root: str | Path, config: AnalysisConfig, progress: bool) -> SearchTask:
    """Read (or take from the cache) the frames and split off the validation set.

    Raises:
        InputError: bad data, or a class with fewer than two training recordings.
    """
    data = config.data
    train_set, test_set = (
        load_frames(dataset, root, split, data.time_bins, data.size, data.split_scheme, data.cache_dir, progress)
        for split in ("train", "test")
    )
    fit_idx, val_idx = validation_split(train_set.labels)
    model = replace(config.model, num_classes=train_set.n_classes)
    training = {k: v for k, v in config.to_dict()["train"].items() if k != "device"}
    identity = {
        "dataset": dataset,
        "frames": f"{train_set.cache_file.stem}+{test_set.cache_file.stem}",
        "validation_share": VALIDATION_SHARE,
        "data": config.to_dict()["data"],
        "model": model.to_dict(),
        "train": training,
    }
    return SearchTask(
        fit_set=Subset(train_set, fit_idx.tolist()),
        val_set=Subset(train_set, val_idx.tolist()),
        test_set=test_set,
        model=model,
        train=config.train,
        layers=(model.depth,) * len(model.widths),
        identity=json.loads(json.dumps(identity)),
        data={
            "fit": len(fit_idx),
            "validation": len(val_idx),
            "test": len(test_set),
            "classes": list(train_set.classes),
            "frame_shape": list(train_set.frame_shape),
        },
        progress=progress,
    )
