"""Many vision models trained as one population: every skip topology and seed of a search at once.

:func:`train_population` trains one :class:`~vision_bench.models.VisionNetwork` per (topology,
seed) member, each equal (to float tolerance) to the model :func:`vision_bench.train.train`
trains alone from the same seed (``tests/vision_bench/test_population.py``): the same initial
weights (built by :func:`~vision_bench.models.build_vision_model` from the member's seed), the
same batch order (the member's seed, epoch by epoch), the same optimiser and schedule, every
epoch run and the last weights kept. The trunk is one
:class:`~snn_core.population.PopulationNetwork` (grouped convolutions, batch norm per member and
channel, the fused LIF over members x neurons); the classifier a :class:`StackedLinear`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from snn_core.device import choose_device
from snn_core.population import PopulationNetwork, StackedLinear
from snn_core.population_training import train_population as fit
from vision_bench.models import VisionModelConfig, VisionNetwork, build_vision_model, trunk_topology
from vision_bench.train import TrainConfig, _epoch_loader, time_major


class PopulationVisionNet(nn.Module):
    """:class:`VisionNetwork`\\ s of one shape stacked: frames (T, batch, M, C, H, W) -> logits
    (batch, M, classes), averaged over T like each member's rate readout."""

    def __init__(self, networks: Sequence[VisionNetwork]) -> None:
        super().__init__()
        self.trunk = PopulationNetwork.from_networks([n.trunk for n in networks])
        first = networks[0]
        self.classifier = StackedLinear(len(networks), first.trunk.out_size, first.num_classes)
        with torch.no_grad():
            for m, net in enumerate(networks):
                self.classifier.weight[m] = net.classifier.weight
                self.classifier.bias[m] = net.classifier.bias

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        features = self.trunk(frames).mean(dim=(-2, -1))  # global average pool: (T, batch, M, C)
        return self.classifier(features).mean(dim=0)

    def member(self, m: int, network: VisionNetwork) -> VisionNetwork:
        """Write member ``m``'s weights into ``network`` (a solo model of its topology)."""
        self.trunk.member(m, network.trunk)
        with torch.no_grad():
            network.classifier.weight.copy_(self.classifier.weight[m])
            network.classifier.bias.copy_(self.classifier.bias[m])
        return network


@dataclass
class PopulationRun:
    """What :func:`train_population` returns: the trained members as solo models, each one's
    validation accuracy after every epoch, and each one's share of the training seconds."""

    models: list[VisionNetwork]
    curves: list[list[float]]
    seconds_per_member: float


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # the optimisers of vision_bench.train, element-wise, so one steps every member as its own would
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay)


def _members_view(batches: list[tuple[torch.Tensor, torch.Tensor]], device: torch.device, count: int):
    """Members' batches as (T, batch, M, C, H, W) frames and (batch, M) labels; a single batch
    (all members of one seed) is expanded to every member, not copied."""
    if len(batches) == 1:
        frames, labels = batches[0]
        # contiguous before expanding, so that merging (T, batch) stays a view
        frames = time_major(frames, device).contiguous().unsqueeze(2)
        return frames.expand(-1, -1, count, *frames.shape[3:]), labels.to(device)[:, None].expand(-1, count)
    frames = torch.stack([time_major(f, device) for f, _ in batches], dim=2)
    return frames, torch.stack([labels for _, labels in batches], dim=1).to(device)


def population_accuracy(model: PopulationVisionNet, data: Dataset, members: int, batch_size: int = 64) -> np.ndarray:
    """Each member's accuracy on ``data`` (as :func:`vision_bench.train.evaluate`)."""
    device = next(model.parameters()).device
    model.eval()
    correct, total = torch.zeros(members, dtype=torch.long), 0
    with torch.no_grad():
        for frames, labels in DataLoader(data, batch_size=batch_size):
            frames = time_major(frames, device).contiguous().unsqueeze(2)
            logits = model(frames.expand(-1, -1, members, *frames.shape[3:]))
            correct += (logits.argmax(dim=2).cpu() == labels[:, None]).sum(dim=0)
            total += len(labels)
    return (correct.double() / total).numpy()


def train_population(
    model_config: VisionModelConfig,
    members: Sequence[tuple[str, int]],
    train_data: Dataset,
    val_data: Dataset,
    config: TrainConfig,
    *,
    precision: torch.dtype | None = None,
    checkpoint: str | None = None,
    progress: bool = False,
) -> PopulationRun:
    """Train one SNN per ``(blocks topology, seed)`` member, as :func:`vision_bench.train.train`
    trains ``build_vision_model(model_config, "none", "snn", seed, trunk_topology(blocks))``
    with ``config`` (its ``seed`` replaced by the member's).

    Args:
        model_config: the models' shape.
        members: (skip blocks' topology, seed) pairs; the stem block is added.
        train_data, val_data: items ``(frames (T, C, H, W), label)``.
        config: the training settings every member shares.
        precision: autocast dtype for the training steps (None: float32).
        checkpoint: progress file, resumed after an interruption.
        progress: a tqdm bar over epochs.
    """
    device = choose_device(config.device, "train.device")
    solo = [build_vision_model(model_config, "none", "snn", seed, trunk_topology(t)) for t, seed in members]
    model = PopulationVisionNet(solo).to(device)
    count, seeds = len(members), [int(seed) for _, seed in members]
    shared = len(set(seeds)) == 1

    def epoch_batches(rngs: list[np.random.Generator]) -> Iterator:
        # members of one seed draw the same order: one loader serves them all
        loaders = [_epoch_loader(train_data, config.batch_size, rng, device) for rng in (rngs[:1] if shared else rngs)]
        for batches in zip(*loaders):
            yield _members_view(list(batches), device, count)

    def loss_fn(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        frames, labels = batch
        logits = model(frames)  # (batch, M, classes)
        losses = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), reduction="none")
        return losses.view(labels.shape).mean(dim=0)

    start = time.perf_counter()
    result = fit(
        model,
        _optimizer(model, config),
        epoch_batches,
        loss_fn,
        lambda: population_accuracy(model, val_data, count, config.batch_size),
        members=count,
        seeds=seeds,
        max_epochs=config.epochs,
        keep_best=False,
        precision=precision,
        checkpoint=checkpoint,
        identity={
            "members": list(map(list, members)),
            "model": model_config.to_dict(),
            "config": {**config.__dict__, "device": None},
        },
        progress=progress,
        desc="vision population",
    )
    seconds = (time.perf_counter() - start) / count
    model.cpu()
    return PopulationRun([model.member(m, net).eval() for m, net in enumerate(solo)], result.curves, seconds)
