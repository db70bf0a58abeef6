"""One training loop for every trainable model: the BMI decoders and the vision networks.

What it gives every caller:

- **Determinism.** Each epoch draws its batch order from a NumPy generator seeded by
  ``(seed, epoch)``, so a resumed run sees exactly the batches an uninterrupted one would; torch's
  generator states are saved with the progress and restored on resume (dropout), inside
  :func:`torch.random.fork_rng` so that the caller's generators are left alone.
- **A cosine learning-rate schedule** over ``max_epochs`` (Loshchilov & Hutter 2017): late epochs
  take small steps, which steadies the validation score that early stopping reads.
- **Early stopping** on a validation score (higher is better) with ``patience``, keeping the best
  weights; or, with ``patience=None`` and ``keep_best=False``, every epoch and the last weights.
- **Mixed precision** on CUDA only: bfloat16 autocast needs no gradient scaler (it has float32's
  exponent range), float16 autocast gets a :class:`torch.amp.GradScaler`.
- **Atomic, resumable checkpoints that cannot run code** (:mod:`snn_core.progress_file`). The
  progress file holds only tensors, state dicts and plain numbers, strings, lists and dicts, and is
  read with ``torch.load(weights_only=True)``: a pickle planted at its path is refused, never
  executed. It is keyed by an *identity* (a JSON-able dict: the model's settings and a digest of its
  data); a file of another identity is not resumed, and a corrupt or foreign file is renamed
  ``*.corrupt`` (or ``*.corrupt.N``, never replacing an earlier one) with a one-line warning
  instead of stopping the run.
- **Per-epoch listeners** (:func:`epoch_listener`): code that trains through layers which do not
  pass callbacks down (a decoder's ``fit``) still sees every epoch's record, e.g. a search that
  reports validation scores to Optuna's pruner and stops a poor trial by raising.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from snn_core.errors import InputError
from snn_core.progress_file import RunState, identity_key, read_progress, restore, save, warn
from snn_core.weight_average import WeightAverage

Batch = Any
EpochBatches = Callable[[np.random.Generator], Iterable[Batch]]
# The listener of the :func:`train` calls in the current context (:func:`epoch_listener`).
_EPOCH_LISTENER: ContextVar[Callable[[dict], None] | None] = ContextVar("epoch_listener", default=None)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        history: one record per epoch, from the first (records read from a progress file
            included): ``epoch`` (1-based), ``loss`` (mean over batches), ``score`` (validation),
            ``lr``, ``seconds`` (training time of the epoch) and what ``epoch_stats`` added.
        resumed_from: the epochs the progress file held when this call started (0: a fresh run).
        best_score: the best validation score seen.
    """

    history: list[dict] = field(default_factory=list)
    resumed_from: int = 0
    best_score: float = -math.inf


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Run torch code with its global generators seeded, leaving the caller's generators alone.

    Weight initialisation draws from the CPU generator, dropout from the generator of the device
    it runs on; forking both makes a run deterministic given ``seed`` without side effects.
    """
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@contextmanager
def epoch_listener(callback: Callable[[dict], None]) -> Iterator[None]:
    """Call ``callback(record)`` after every epoch of every :func:`train` run inside the block.

    ``record`` is the epoch's history record (``epoch``, ``score``, ...), passed once the epoch's
    progress is saved. An exception the callback raises (e.g. :class:`optuna.TrialPruned`) stops
    the training and leaves the block; the weights are then those of the last epoch.
    """
    token = _EPOCH_LISTENER.set(callback)
    try:
        yield
    finally:
        _EPOCH_LISTENER.reset(token)


def report_epoch(record: dict) -> None:
    """Hand ``record`` to the :func:`epoch_listener` of the context, as :func:`train` does after an
    epoch; nothing happens outside one. For an objective that replays a stored training curve
    (a table of every topology's per-epoch scores) instead of training, so that a search prunes
    it exactly as it would prune the training."""
    listener = _EPOCH_LISTENER.get()
    if listener is not None:
        listener(record)


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of one epoch's batch order (``epoch`` 0-based): a function of both alone,
    so that an epoch run after a resume draws what it would have drawn without the interruption."""
    return np.random.default_rng([seed, epoch])


def data_digest(*arrays: np.ndarray | torch.Tensor | None) -> str:
    """sha256 of arrays' dtypes, shapes and bytes: names training data in a run's identity.

    Computed once per run; a few tens of MB hash in well under a second.
    """
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none;")
            continue
        if isinstance(array, torch.Tensor):
            array = array.detach().cpu().numpy()
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _run_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    batches: Iterable[Batch],
    loss_fn: Callable[[Batch], torch.Tensor],
    device: torch.device,
    precision: torch.dtype | None,
    clip_grad_norm: float | None = None,
    average: WeightAverage | None = None,
) -> float:
    """One pass of optimiser steps (each folded into ``average``); returns the mean batch loss."""
    model.train()
    total, count = torch.zeros((), device=device), 0
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=precision, enabled=precision is not None):
            loss = loss_fn(batch)
        # a disabled scaler passes the loss and the step straight through
        scaler.scale(loss).backward()
        if clip_grad_norm is not None:
            # on the true gradients: a float16 scaler's factor must come off first
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        if average is not None:
            average.update()
        total, count = total + loss.detach().float(), count + 1  # summed on device: no sync per batch
    return float(total) / max(count, 1)


def train(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch_batches: EpochBatches,
    loss_fn: Callable[[Batch], torch.Tensor],
    validate: Callable[[], float],
    *,
    max_epochs: int,
    seed: int,
    patience: int | None = None,
    keep_best: bool = True,
    precision: torch.dtype | None = None,
    clip_grad_norm: float | None = None,
    average_decay: float | None = None,
    checkpoint: str | Path | None = None,
    identity: dict | None = None,
    extra: dict | None = None,
    strict: bool = False,
    restart_hint: str = "delete it to start over",
    supersedes: Iterable[dict] = (),
    epoch_stats: Callable[[dict], dict] | None = None,
    on_epoch: Callable[[list[dict]], None] | None = None,
    progress: bool = False,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` in place on the device it is on, resuming from ``checkpoint`` if it holds
    progress of the same ``identity``.

    Args:
        model: the module to train; its parameters' device is where batches must be.
        optimizer: over ``model``'s parameters, at its initial learning rate.
        epoch_batches: called once per epoch with that epoch's generator (:func:`epoch_rng`);
            yields the epoch's batches.
        loss_fn: a batch's loss (it runs ``model``), computed under autocast when enabled.
        validate: the validation score (higher is better) of the model as it stands; run in eval
            mode under ``torch.no_grad``.
        max_epochs: epochs in all, also the length of the cosine schedule.
        seed: seeds each epoch's batch order with the epoch.
        patience: stop after this many epochs without a better score (None: run every epoch).
        keep_best: end with the weights of the best score (else the last weights).
        precision: ``torch.bfloat16`` or ``torch.float16`` to train under autocast on CUDA
            (float16 with a gradient scaler); ignored on other devices. None: float32.
        clip_grad_norm: rescale each batch's gradient to at most this global L2 norm (Pascanu
            et al. 2013: backpropagation through time can meet a rare, huge gradient that one
            step turns into diverged weights). None: no clipping.
        average_decay: keep an exponential moving average of the weights with this decay per
            step (:mod:`snn_core.weight_average`); validation then scores the averaged weights,
            and they are the ones kept (or, without ``keep_best``, ended with). None: no average.
        checkpoint: progress file saved atomically after every epoch (None: none).
        identity: JSON-able description of what is trained (settings, data digest); progress of
            another identity is not resumed.
        extra: JSON-able entries saved beside the progress (e.g. what rebuilds the model).
        strict: refuse progress of another identity (InputError) instead of starting afresh
            with a warning, for checkpoints that are also the trained model's only copy, or that
            a user must not lose by mistake.
        restart_hint: how to start over, ending the ``strict`` refusal (e.g. a command's option).
        supersedes: identities of earlier stages of the same job that share ``checkpoint`` (a
            fit that trains several candidates in turn): progress of one of them is the job's
            own, overwritten from the first epoch without a refusal or a warning.
        epoch_stats: given an epoch's record (before it is saved), returns entries to add to it.
        on_epoch: called with the history after every epoch, once saved (the latest record last);
            then the :func:`epoch_listener` of the context, if any, with the latest record.
        progress: show a tqdm bar over epochs on a terminal (none in a pipe or log file).
        desc: label of the bar.

    Returns:
        The history, the epoch resumed from and the best score.

    Raises:
        InputError: with ``strict``, the checkpoint holds progress of another identity.
    """
    device = next(model.parameters()).device
    precision = precision if device.type == "cuda" else None
    scaler = torch.amp.GradScaler(device.type, enabled=precision == torch.float16)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
    path = Path(checkpoint) if checkpoint is not None else None
    key = identity_key(identity or {})
    listener = _EPOCH_LISTENER.get()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        # the weights before training are the "best" until an epoch scores (NaN never does)
        state = RunState(best=copy.deepcopy(model.state_dict()) if keep_best else None)
        saved = read_progress(path, device) if path is not None else None
        if saved is not None and saved["identity"] == key:
            state = restore(saved, model, optimizer, schedule, scaler, device)
        elif saved is not None and saved["identity"] in {identity_key(stage) for stage in supersedes}:
            pass  # the previous stage's progress: this stage starts afresh and overwrites it
        elif saved is not None and strict:
            raise InputError(
                path, "spec/config", f"a checkpoint of this same model, data and training configuration ({restart_hint})"
            )
        elif saved is not None:
            warn(f"{path}: progress of other settings or data, not resumed; training starts afresh and overwrites it")
        average = WeightAverage(model.parameters(), average_decay) if average_decay else None
        if average is not None and state.average is not None:
            average.load_state_dict(state.average)
        resumed_from = state.epoch
        with tqdm(total=max_epochs, initial=state.epoch, desc=desc, unit="epoch", disable=None if progress else True) as bar:
            for epoch in range(state.epoch, max_epochs):
                if patience is not None and state.waited >= patience:
                    break
                lr = optimizer.param_groups[0]["lr"]
                start = time.perf_counter()
                batches = epoch_batches(epoch_rng(seed, epoch))
                loss = _run_epoch(model, optimizer, scaler, batches, loss_fn, device, precision, clip_grad_norm, average)
                seconds = time.perf_counter() - start
                schedule.step()
                model.eval()
                # validation, the epoch's statistics and the weights kept: all of the average
                with torch.no_grad(), average.applied() if average is not None else nullcontext():
                    score = float(validate())
                    improved = score > state.best_score
                    if improved and keep_best:
                        state.best = copy.deepcopy(model.state_dict())
                    record = {"epoch": epoch + 1, "loss": loss, "score": score, "lr": lr, "seconds": seconds}
                    if epoch_stats is not None:
                        record.update(epoch_stats(record))
                state.history.append(record)
                state.best_score, state.waited = (score, 0) if improved else (state.best_score, state.waited + 1)
                state.epoch = epoch + 1
                state.average = average.state_dict() if average is not None else None
                if path is not None:
                    save(path, key, state, model, optimizer, schedule, scaler, device, extra or {})
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", score=f"{score:.3f}")
                if on_epoch is not None:
                    on_epoch(state.history)
                if listener is not None:
                    listener(record)
    if keep_best and state.best is not None:
        model.load_state_dict(state.best)
    elif average is not None:
        average.copy_to_parameters()
    model.eval()
    return TrainResult(state.history, resumed_from, state.best_score)
