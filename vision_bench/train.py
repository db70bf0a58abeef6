"""Training by surrogate-gradient BPTT, with checkpoints that survive an interruption.

The loss is cross-entropy on the time-averaged output (the rate readout of
:class:`~vision_bench.models.VisionNetwork`); gradients flow back through the T steps, and through
each spike by the LIF neuron's arctan surrogate (snnTorch's default; Neftci et al. 2019). The
learning rate follows a cosine schedule over the epochs (Loshchilov and Hutter 2017). On CUDA
the forward pass runs under float16 autocast with a gradient scaler.

After every epoch the model, optimiser, scheduler, scaler and history are saved atomically in
one checkpoint that also holds the :class:`NetworkSpec` and the configuration, so that the same
call after an interruption resumes at the next epoch, and the model can be rebuilt from the file
alone. Each epoch's batch order is drawn from ``(seed, epoch)``, so a resumed run ends with the
same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from snn_core.atomic import atomic_path, write_text_atomic
from snn_core.device import DEVICE_NAMES, choose_device, is_device_name
from snn_core.errors import InputError
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


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        history: one record per epoch (epoch, loss, train/test accuracy, lr, samples/s, seconds).
        resumed_from: the epoch the checkpoint held when training started (0: a fresh run).
        samples_per_s: training samples per second over the epochs run by this call (None when
            the checkpoint already held every epoch).
    """

    history: list[dict] = field(default_factory=list)
    resumed_from: int = 0
    samples_per_s: float | None = None

    @property
    def test_accuracy(self) -> float:
        return self.history[-1]["test_accuracy"]


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


def _train_epoch(
    model: VisionNetwork,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    bar: tqdm,
) -> tuple[float, float]:
    """One pass over ``loader``; returns (mean loss, training accuracy)."""
    model.train()
    loss_sum = correct = total = 0.0
    for frames, labels in loader:
        labels = labels.to(device)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            logits = model(time_major(frames, device))
            loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        batch_loss = loss.item()
        loss_sum += batch_loss * len(labels)
        correct += int((logits.detach().argmax(dim=1) == labels).sum())
        total += len(labels)
        bar.update(len(labels))
        bar.set_postfix(loss=f"{batch_loss:.3f}")
    return loss_sum / total, correct / total


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
    test_data: Dataset,
    config: TrainConfig,
    checkpoint: str | Path | None = None,
    log_path: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    name: str = "train",
    data_id: str = "",
) -> TrainResult:
    """Train ``model`` in place, resuming from ``checkpoint`` when it exists.

    Args:
        model: the network; it is moved to the chosen device.
        train_data, test_data: items ``(frames (T, C, H, W) float32, label int)``.
        config: the training settings; a checkpoint written under other settings, or for a
            different network, is refused rather than silently mixed.
        checkpoint: file saved after every epoch and resumed from (None: no checkpoint).
        log_path: JSON-lines file of the per-epoch records, rewritten atomically every epoch.
        progress: show a tqdm bar per epoch.
        log: receives the one-line summary of every epoch (None: silent).
        name: label of the progress bar and log lines.
        data_id: names the training data (e.g. the frame caches' keys); a checkpoint made on
            other data is refused like one made under another configuration.

    Returns:
        The per-epoch history (including epochs read from the checkpoint).
    """
    device = choose_device(config.device, "train.device")
    model.to(device)
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
    identity = {
        "spec": model.spec.to_dict(), "mode": model.mode, "num_classes": model.num_classes,
        "config": _settings(asdict(config)), "data_id": data_id,
    }
    result = TrainResult()
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, device)
        saved = {key: state.get(key) for key in identity}
        saved["config"] = _settings(saved["config"] or {})  # checkpoints written before the device was left out
        if saved != identity:
            raise InputError(checkpoint, "spec/config", "a checkpoint of this same model, data and training configuration (delete it to start over)")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        result.history, result.resumed_from = list(state["history"]), int(state["epoch"])
    samples = seconds = 0.0
    for epoch in range(result.resumed_from + 1, config.epochs + 1):
        order = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        loader = DataLoader(train_data, batch_size=config.batch_size, shuffle=True, generator=order, pin_memory=device.type == "cuda")
        lr = optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        with tqdm(total=len(train_data), desc=f"{name} {epoch}/{config.epochs}", unit="sample", disable=not progress, leave=False) as bar:
            loss, train_accuracy = _train_epoch(model, loader, optimizer, scaler, device, bar)
        elapsed = time.perf_counter() - start
        scheduler.step()
        samples, seconds = samples + len(train_data), seconds + elapsed
        record = {
            "epoch": epoch,
            "loss": loss,
            "train_accuracy": train_accuracy,
            "test_accuracy": evaluate(model, test_data, config.batch_size, device),
            "lr": lr,
            "samples_per_s": len(train_data) / elapsed,
            "seconds": elapsed,
            "device": device.type,
        }
        result.history.append(record)
        if checkpoint is not None:
            state = {**identity, "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "history": result.history}
            with atomic_path(checkpoint) as tmp:
                torch.save(state, tmp)
        if log_path is not None:
            write_text_atomic(log_path, "".join(json.dumps(r) + "\n" for r in result.history))
        if log is not None:
            log(
                f"{name} epoch {epoch}/{config.epochs}: loss {loss:.4f}, train acc {train_accuracy:.3f}, "
                f"test acc {record['test_accuracy']:.3f}, lr {lr:.2e}, {record['samples_per_s']:.1f} samples/s on {device.type}"
            )
    result.samples_per_s = samples / seconds if seconds else None
    return result
