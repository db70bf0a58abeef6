"""The training loop of a population model: every member trained as it would be alone.

It is :func:`snn_core.training.train` with a member dimension (:mod:`snn_core.population`):

- the loss is the sum of the members' own losses, so each member's gradient is its own;
- gradient clipping is per member (:func:`~snn_core.population.clip_member_grad_norms`): a global
  norm over the whole population would tie every member's step to the others';
- Adam and the cosine schedule act element by element, so one optimiser over the stacked
  parameters steps each member exactly as its own optimiser would;
- early stopping is per member: a member whose validation score has not improved for
  ``patience`` epochs stops, its curve ends there and it keeps its best weights; the others go
  on. The loop ends when every member has stopped or ``max_epochs`` have run. (A stopped member
  is still computed, since it shares the kernels; its later steps never reach its result.)
- a moving average of the weights (``average_decay``, :mod:`snn_core.weight_average`) is
  element-wise too, so each member's average is the one it would keep alone;
- batches: ``epoch_batches`` receives one generator per member, :func:`~snn_core.training.epoch_rng`
  of that member's seed and the epoch, so a member sees the batch order its seed gives alone.

Progress is saved atomically after every epoch and resumed when the identity matches, as in
:func:`snn_core.training.train`; the file holds tensors and plain values only.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from snn_core.atomic import atomic_path
from snn_core.population import clip_member_grad_norms, member_rows
from snn_core.progress_file import COMMON_KEYS
from snn_core.training import epoch_rng, identity_key, read_progress, warn
from snn_core.weight_average import WeightAverage

FORMAT = "snn_core.population_training/1"
_KEYS = COMMON_KEYS | {"curves", "losses", "seconds"}


@dataclass
class PopulationResult:
    """What :func:`train_population` returns.

    Attributes:
        curves: per member, the validation score after each epoch it ran (up to its stop).
        losses: per epoch, each member's mean training loss.
        best_scores: per member, its best validation score.
        seconds: per epoch, the wall time of training (all members together).
        resumed_from: epochs the progress file held when this call started.
    """

    curves: list[list[float]] = field(default_factory=list)
    losses: list[list[float]] = field(default_factory=list)
    best_scores: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    resumed_from: int = 0


def _keep_rows(best: dict, current: dict, rows: torch.Tensor, members: int) -> None:
    """Copy the member rows ``rows`` (bool, (M,)) of every member-major tensor into ``best``."""
    for name, tensor in current.items():
        target = member_rows(best[name], members)
        if target is None:
            best[name].copy_(tensor)
        else:
            target[rows] = member_rows(tensor, members)[rows]


def train_population(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch_batches: Callable[[list[np.random.Generator]], Iterable],
    loss_fn: Callable[[object], torch.Tensor],
    validate: Callable[[], np.ndarray],
    *,
    members: int,
    seeds: Sequence[int],
    max_epochs: int,
    patience: int | None = None,
    keep_best: bool = True,
    clip_grad_norm: float | None = None,
    average_decay: float | None = None,
    precision: torch.dtype | None = None,
    checkpoint: str | Path | None = None,
    identity: dict | None = None,
    progress: bool = False,
    desc: str = "population",
) -> PopulationResult:
    """Train the ``members`` of ``model`` in place, each as :func:`snn_core.training.train` would
    train it alone (see the module docstring).

    Args:
        model: a population model; every parameter and buffer of a member is member-major.
        optimizer: over ``model``'s parameters (element-wise, e.g. Adam), at the initial rate.
        epoch_batches: given the members' generators for the epoch, yields its batches.
        loss_fn: a batch's per-member losses, shape (M,).
        validate: every member's validation score (higher is better), shape (M,); run in eval
            mode under ``torch.no_grad``.
        members: M.
        seeds: each member's seed (its batch order).
        max_epochs: epochs at most, also the length of the cosine schedule.
        patience: a member stops after this many epochs without a better score (None: never).
        keep_best: end each member with the weights of its best score (else the last weights).
        clip_grad_norm: clip each member's gradient to this L2 norm (None: no clipping).
        average_decay: validate and keep a moving average of the weights with this decay per
            step, as :func:`snn_core.training.train` does (None: the weights as trained).
        precision: run ``loss_fn`` under autocast to this dtype (e.g. ``torch.bfloat16``, which
            CPUs with AMX multiply several times faster than float32; the fused LIF integrates
            in float32 whatever its input); None: float32. Validation always runs in float32.
        checkpoint: progress file, saved atomically after every epoch and resumed from.
        identity: JSON-able description of what is trained; other progress is not resumed.
        progress: a tqdm bar over epochs on a terminal (none in a pipe or log file).
        desc: the bar's label.
    """
    if len(seeds) != members:
        raise ValueError(f"{members} members need {members} seeds, got {len(seeds)}")
    parameters = [p for p in model.parameters() if p.requires_grad]
    device = parameters[0].device
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
    key = identity_key(identity or {})
    path = Path(checkpoint) if checkpoint is not None else None
    state = {
        "epoch": 0,
        "curves": [[] for _ in range(members)],
        "losses": [],
        "best_score": [-float("inf")] * members,
        "waited": [0] * members,
        "seconds": [],
        "best": copy.deepcopy(model.state_dict()) if keep_best else None,
        "average": None,
    }
    saved = read_progress(path, torch.device("cpu"), FORMAT, _KEYS) if path is not None else None
    if saved is not None and saved["identity"] == key:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"])
        state.update({k: saved.get(k, state[k]) for k in state})
    elif saved is not None:
        warn(f"{path}: progress of another population or data, not resumed; training starts afresh and overwrites it")
    average = WeightAverage(parameters, average_decay) if average_decay else None
    if average is not None and state["average"] is not None:
        average.load_state_dict(state["average"])
    resumed_from = state["epoch"]
    with tqdm(total=max_epochs, initial=resumed_from, desc=desc, unit="epoch", disable=None if progress else True) as bar:
        for epoch in range(resumed_from, max_epochs):
            active = [patience is None or w < patience for w in state["waited"]]
            if not any(active):
                break
            start = time.perf_counter()
            model.train()
            total, count = torch.zeros(members), 0
            for batch in epoch_batches([epoch_rng(int(s), epoch) for s in seeds]):
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=precision, enabled=precision is not None):
                    losses = loss_fn(batch)
                losses.float().sum().backward()
                if clip_grad_norm is not None:
                    clip_member_grad_norms(parameters, members, clip_grad_norm)
                optimizer.step()
                if average is not None:
                    average.update()
                total, count = total + losses.detach().float().cpu(), count + 1
            state["seconds"].append(time.perf_counter() - start)
            state["losses"].append((total / max(count, 1)).tolist())
            schedule.step()
            model.eval()
            with torch.no_grad(), average.applied() if average is not None else nullcontext():
                scores = np.asarray(validate(), dtype=float)
                improved = np.zeros(members, dtype=bool)
                for m in np.flatnonzero(active):
                    state["curves"][m].append(float(scores[m]))
                    if scores[m] > state["best_score"][m]:
                        state["best_score"][m], state["waited"][m], improved[m] = float(scores[m]), 0, True
                    else:
                        state["waited"][m] += 1
                if keep_best and improved.any():
                    _keep_rows(state["best"], model.state_dict(), torch.from_numpy(improved), members)
            state["epoch"] = epoch + 1
            state["average"] = average.state_dict() if average is not None else None
            if path is not None:
                _save(path, key, state, model, optimizer, schedule)
            bar.update(1)
            bar.set_postfix(best_median=f"{np.median(state['best_score']):.3f}", active=int(sum(active)))
    if keep_best:
        model.load_state_dict(state["best"])
    elif average is not None:
        average.copy_to_parameters()
    model.eval()
    return PopulationResult(state["curves"], state["losses"], list(state["best_score"]), state["seconds"], resumed_from)


def _save(path: Path, key: str, state: dict, model, optimizer, schedule) -> None:
    saved = {
        **state,
        "format": FORMAT,
        "identity": key,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": schedule.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(saved, tmp)
