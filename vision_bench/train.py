"""Training by surrogate-gradient BPTT, with checkpoints that survive an interruption.

The loss is cross-entropy on the time-averaged output (the rate readout of
:class:`~vision_bench.models.VisionNetwork`); gradients flow back through the T steps, and through
each spike by the LIF neuron's arctan surrogate (snnTorch's default; Neftci et al. 2019). The
learning rate follows a cosine schedule over the epochs (Loshchilov and Hutter 2017). On CUDA
the forward pass runs under float16 autocast with a gradient scaler.

The loop is :func:`snn_core.training.train`, shared with the BMI decoders. After every epoch the
model, optimiser, scheduler, scaler and history are saved atomically in one checkpoint that also
holds the :class:`NetworkSpec` and the configuration, so that the same call after an interruption
resumes at the next epoch, and the model can be rebuilt from the file alone. The checkpoint holds
only tensors and plain values and is read with ``weights_only=True``, so it cannot run code. Each
epoch's batch order is drawn from ``(seed, epoch)``, so a resumed run ends with the same weights
as an uninterrupted one.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from snn_core.atomic import write_text_atomic
from snn_core.device import DEVICE_NAMES, choose_device, is_device_name
from snn_core.errors import InputError
from snn_core.training import train as fit
from vision_bench.models import VisionNetwork

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained.

    Args:
        epochs: passes over the training set.
        batch_size: samples per step.
        lr: initial learning rate, annealed to 0 by the cosine schedule.
        optimizer: ``"adam"`` or ``"sgd"`` (with Nesterov momentum 0.9).
        weight_decay: L2 penalty.
        seed: seed of the batch order.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
            (:mod:`snn_core.device`). Not part of a checkpoint's identity: a run interrupted on
            one device resumes on another.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not is_device_name(self.device):
            raise ValueError(f"device must be {DEVICE_NAMES}, got {self.device!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("epochs and batch_size must be positive, lr positive, weight_decay non-negative")


# Part of every checkpoint's identity; bumped when what a checkpoint holds changes meaning, so an
# older run's checkpoint is refused instead of resumed. 2: the per-epoch score on val_data is
# recorded as val_accuracy (version 1 called it test_accuracy).
CHECKPOINT_VERSION = 2


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        history: one record per epoch (epoch, loss, train and validation accuracy, lr, samples/s, seconds).
        resumed_from: the epoch the checkpoint held when training started (0: a fresh run).
        samples_per_s: training samples per second over the epochs run by this call (None when
            the checkpoint already held every epoch).
    """

    history: list[dict] = field(default_factory=list)
    resumed_from: int = 0
    samples_per_s: float | None = None

    @property
    def val_accuracy(self) -> float:
        """Accuracy on ``val_data`` after the last epoch."""
        return self.history[-1]["val_accuracy"]


def _settings(config: dict) -> dict:
    """The training settings a checkpoint is tied to: all but the device, which changes where the
    numbers are computed, not what is trained."""
    return {key: value for key, value in config.items() if key != "device"}


def time_major(frames: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch as data sets give it, (batch, T, C, H, W), as networks run it: (T, batch, C, H, W)."""
    return frames.to(device, torch.float32, non_blocking=True).transpose(0, 1)


def evaluate(model: VisionNetwork, data: Dataset, batch_size: int = 64, device: torch.device | None = None) -> float:
    """Accuracy of ``model`` on ``data`` (items ``(frames (T, C, H, W), label)``), in eval mode."""
    device = device or next(model.parameters()).device
    model.eval()
    correct = total = 0
    with torch.no_grad(), torch.autocast(device.type, enabled=device.type == "cuda"):
        for frames, labels in DataLoader(data, batch_size=batch_size):
            predicted = model(time_major(frames, device)).argmax(dim=1).cpu()
            correct += int((predicted == labels).sum())
            total += len(labels)
    return correct / total


def _optimizer(model: VisionNetwork, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay)


def _epoch_loader(data: Dataset, batch_size: int, rng: np.random.Generator, device: torch.device) -> DataLoader:
    """One epoch's shuffled loader; its order is a function of the epoch's generator alone."""
    order = torch.Generator().manual_seed(int(rng.integers(2**62)))
    return DataLoader(data, batch_size=batch_size, shuffle=True, generator=order, pin_memory=device.type == "cuda")


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """Read a checkpoint written by :func:`train`.

    Raises:
        InputError: the file is missing or not a checkpoint of this project.
    """
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise InputError(path, "checkpoint", f"a readable training checkpoint ({type(err).__name__}: {err})") from err
    missing = {"epoch", "model", "spec", "config"} - set(state) if isinstance(state, dict) else {"all keys"}
    if missing:
        raise InputError(path, ", ".join(sorted(missing)), "a training checkpoint written by vision_bench.train")
    return state


def train(
    model: VisionNetwork,
    train_data: Dataset,
    val_data: Dataset,
    config: TrainConfig,
    checkpoint: str | Path | None = None,
    log_path: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    name: str = "train",
    data_id: str = "",
) -> TrainResult:
    """Train ``model`` in place for ``config.epochs`` epochs, resuming from ``checkpoint`` when it
    exists; the loop is :func:`snn_core.training.train`. Every epoch runs (no early stopping) and
    the model ends with the last epoch's weights.

    Args:
        model: the network; it is moved to the chosen device.
        train_data, val_data: items ``(frames (T, C, H, W) float32, label int)``; ``val_data`` is
            scored after every epoch (recorded as ``val_accuracy``).
        config: the training settings; a checkpoint written under other settings, or for a
            different network, is refused rather than silently mixed.
        checkpoint: file saved after every epoch and resumed from (None: no checkpoint). One that
            cannot be read is set aside as ``*.corrupt`` with a warning and training starts afresh.
        log_path: JSON-lines file of the per-epoch records, rewritten atomically every epoch.
        progress: show a tqdm bar over epochs.
        log: receives the one-line summary of every epoch (None: silent).
        name: label of the progress bar and log lines.
        data_id: names the training data (e.g. the frame caches' keys); a checkpoint made on
            other data is refused like one made under another configuration.

    Returns:
        The per-epoch history (including epochs read from the checkpoint).

    Raises:
        InputError: ``checkpoint`` holds another model's, configuration's or data's training.
    """
    device = choose_device(config.device, "train.device")
    model.to(device)
    identity = {
        "version": CHECKPOINT_VERSION,
        "spec": model.spec.to_dict(),
        "mode": model.mode,
        "num_classes": model.num_classes,
        "config": _settings(asdict(config)),
        "data_id": data_id,
    }
    counts = {"loss": 0.0, "correct": 0, "total": 0}

    def batches(rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        counts.update(loss=0.0, correct=0, total=0)
        for frames, labels in _epoch_loader(train_data, config.batch_size, rng, device):
            yield time_major(frames, device), labels.to(device)

    def loss_fn(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        frames, labels = batch
        logits = model(frames)
        loss = F.cross_entropy(logits.float(), labels)
        # per-sample sums (the last batch may be short); .item() syncs, once per batch as before
        counts["loss"] += loss.item() * len(labels)
        counts["correct"] += int((logits.detach().argmax(dim=1) == labels).sum())
        counts["total"] += len(labels)
        return loss

    def epoch_stats(record: dict) -> dict:
        return {
            "loss": counts["loss"] / counts["total"],
            "train_accuracy": counts["correct"] / counts["total"],
            "val_accuracy": record["score"],
            "samples_per_s": counts["total"] / record["seconds"],
            "device": device.type,
        }

    def on_epoch(history: list[dict]) -> None:
        record = history[-1]
        if log_path is not None:
            write_text_atomic(log_path, "".join(json.dumps(r) + "\n" for r in history))
        if log is not None:
            log(
                f"{name} epoch {record['epoch']}/{config.epochs}: loss {record['loss']:.4f}, train acc {record['train_accuracy']:.3f}, "
                f"val acc {record['val_accuracy']:.3f}, lr {record['lr']:.2e}, {record['samples_per_s']:.1f} samples/s on {device.type}"
            )

    fitted = fit(
        model,
        _optimizer(model, config),
        batches,
        loss_fn,
        lambda: evaluate(model, val_data, config.batch_size, device),
        max_epochs=config.epochs,
        seed=config.seed,
        patience=None,
        keep_best=False,
        precision=torch.float16,
        checkpoint=checkpoint,
        identity=identity,
        extra=identity,
        strict=True,
        epoch_stats=epoch_stats,
        on_epoch=on_epoch,
        progress=progress,
        desc=name,
    )
    ran = fitted.history[fitted.resumed_from :]
    seconds = sum(r["seconds"] for r in ran)
    return TrainResult(fitted.history, fitted.resumed_from, len(train_data) * len(ran) / seconds if seconds else None)
