"""The progress file of :func:`snn_core.training.train`: atomic, resumable, and unable to run code.

After every epoch the whole run (model, optimiser, schedule, gradient scaler, torch's generator
states, the history and the best weights) is written atomically (:func:`save`), so an interrupted
run resumes where it stopped (:func:`restore`). The file holds only tensors, state dicts and plain
values and is read with ``torch.load(weights_only=True)`` (:func:`read_progress`): a pickle planted
at its path is refused, never executed. It is keyed by an identity (:func:`identity_key`); a
corrupt or foreign file is set aside as ``*.corrupt`` (:func:`set_aside`) with a one-line warning.
"""

from __future__ import annotations

import io
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from snn_core.atomic import keep_aside, write_bytes_atomic

# Bumped when the layout of a progress file changes: files of another format are set aside.
FORMAT = "snn_core.training/1"
# What every progress file holds (also :mod:`snn_core.population_training`'s), then this loop's own.
COMMON_KEYS = frozenset(
    {"format", "identity", "epoch", "model", "optimizer", "scheduler", "best_score", "waited", "best", "torch_rng"}
)
_STATE_KEYS = COMMON_KEYS | {"scaler", "history", "cuda_rng"}


@dataclass
class RunState:
    """Everything about a run that is not the model, optimiser, schedule or scaler."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    waited: int = 0
    best: dict | None = None
    average: dict | None = None  # snn_core.weight_average.WeightAverage.state_dict()


def identity_key(identity: dict) -> str:
    """The canonical text of an identity: key order and tuple-vs-list do not matter."""
    return json.dumps(identity, sort_keys=True, default=repr)


def warn(message: str) -> None:
    """One warning line on stderr (progress bars and reports own stdout)."""
    print(f"warning: {message}", file=sys.stderr)


def set_aside(path: Path, reason: str) -> Path:
    """Rename an unusable progress file to ``*.corrupt`` or ``*.corrupt.N`` (kept for inspection)."""
    aside = keep_aside(path, ".corrupt")
    warn(f"{path}: unusable progress file ({reason}); moved to {aside.name}, training starts afresh")
    return aside


def read_progress(path: Path, device: torch.device, fmt: str = FORMAT, keys: frozenset[str] = _STATE_KEYS) -> dict | None:
    """The progress saved at ``path``, or None when there is none or it was set aside.

    ``weights_only=True`` restricts unpickling to tensors and plain containers, so a file crafted
    to run code raises instead of running it; one not of format ``fmt`` with ``keys`` is set aside.
    """
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # truncation, a foreign pickle and a refused global raise different types
        first_line = (str(err).strip().splitlines() or [""])[0][:160]
        set_aside(path, f"{type(err).__name__}: {first_line}")
        return None
    if not isinstance(saved, dict) or saved.get("format") != fmt or not keys <= saved.keys():
        set_aside(path, f"not a {fmt} progress file")
        return None
    return saved


def restore(
    saved: dict,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    device: torch.device,
) -> RunState:
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["scheduler"])
    scaler.load_state_dict(saved["scaler"])
    # generator states must be CPU ByteTensors; map_location may have moved them
    torch.set_rng_state(saved["torch_rng"].cpu())
    if device.type == "cuda" and saved["cuda_rng"] is not None:
        torch.cuda.set_rng_state(saved["cuda_rng"].cpu(), device)
    history, best_score = list(saved["history"]), float(saved["best_score"])
    return RunState(int(saved["epoch"]), history, best_score, int(saved["waited"]), saved["best"], saved.get("average"))


def save(
    path: Path,
    key: str,
    state: RunState,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    extra: dict,
) -> None:
    saved = {
        **extra,
        "format": FORMAT,
        "identity": key,
        "epoch": state.epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": schedule.state_dict(),
        "scaler": scaler.state_dict(),
        "history": state.history,
        "best_score": state.best_score,
        "waited": state.waited,
        "best": state.best,
        "average": state.average,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }
    buffer = io.BytesIO()  # torch's zip writer reports a full disk as "unexpected pos"; this write, ENOSPC
    torch.save(saved, buffer)
    write_bytes_atomic(path, buffer.getbuffer())  # a crash mid-write leaves the previous epoch's file
