"""What the torch decoders share: seeding, label scaling, and Adam with early stopping on R2.

Early stopping follows the NeuroBench protocol's use of the validation split: after each epoch
the network decodes the validation segment from the reset state, exactly as it will decode the
test segment, and the weights with the best validation R2 are kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from snn_core.atomic import atomic_path

from ._base import Decoder, is_real, require, require_int


@contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Run torch code with its global generator seeded, leaving the caller's generator alone.

    Weight initialisation and dropout draw from torch's global generator; forking it makes a
    fit deterministic given ``seed`` without side effects on other code.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def check_training_params(decoder: Decoder) -> None:
    """Validate the parameters every torch decoder has."""
    require_int(decoder, "max_epochs", 1)
    require_int(decoder, "patience", 1)
    require_int(decoder, "batch_size", 1)
    require_int(decoder, "seed", 0)
    require(decoder, is_real(decoder.lr) and decoder.lr > 0, "lr", "a number > 0")


class LabelScaler:
    """Standardises velocity per axis for training (mm/s spans hundreds; losses like unit scale)."""

    def __init__(self, y: np.ndarray) -> None:
        self.mean = y.mean(axis=0)
        self.scale = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)

    def encode(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.mean) / self.scale).astype(np.float32)

    def decode(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64) * self.scale + self.mean


def train_early_stopping(
    network: torch.nn.Module,
    epoch_batches: Callable[[np.random.Generator], Iterable[tuple[torch.Tensor, torch.Tensor]]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    validation_r2: Callable[[], float],
    decoder: Decoder,
) -> list[float]:
    """Train ``network`` with Adam until validation R2 stops improving; keep the best weights.

    The learning rate follows a cosine schedule over ``max_epochs`` (Loshchilov & Hutter 2017):
    late epochs take small steps, which steadies the validation R2 that early stopping reads.
    When ``decoder.progress_file`` is set, the whole training state is saved there (atomically)
    after every epoch, and a fit interrupted by a crash or Ctrl-C resumes from the last epoch
    saved, with the same result as an uninterrupted fit: each epoch draws its batches from a
    generator seeded by (seed, epoch), and torch's generator state is saved too.

    Args:
        network: the module to train, in place.
        epoch_batches: called once per epoch with that epoch's generator; yields (input, target)
            mini-batches.
        loss_fn: ``loss_fn(network_output_for_input, target)``.
        validation_r2: R2 on the validation segment with the network as it stands.
        decoder: supplies ``lr``, ``max_epochs``, ``patience``, ``seed``, ``progress`` and
            ``progress_file``.

    Returns:
        validation R2 after each epoch run.
    """
    optimiser = torch.optim.Adam(network.parameters(), lr=decoder.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=decoder.max_epochs)
    state = {"epoch": 0, "best_r2": -np.inf, "best": copy.deepcopy(network.state_dict()), "waited": 0, "history": []}
    progress_file = Path(decoder.progress_file) if decoder.progress_file else None
    fingerprint = repr(sorted((k, v) for k, v in decoder.get_params().items() if k not in ("progress", "progress_file")))
    if progress_file is not None and progress_file.exists():
        saved = torch.load(progress_file, weights_only=False)
        if saved.get("fingerprint") == fingerprint:
            state = saved["state"]
            network.load_state_dict(saved["network"])
            optimiser.load_state_dict(saved["optimiser"])
            schedule.load_state_dict(saved["schedule"])
            torch.set_rng_state(saved["torch_rng"])
    epochs = tqdm(
        range(state["epoch"], decoder.max_epochs), desc=f"fit {decoder.name}", unit="epoch",
        disable=not decoder.progress, initial=state["epoch"], total=decoder.max_epochs,
    )
    for epoch in epochs:
        if state["waited"] >= decoder.patience:
            break
        network.train()
        for inputs, targets in epoch_batches(np.random.default_rng([decoder.seed, epoch])):
            optimiser.zero_grad()
            loss = loss_fn(network(inputs), targets)
            loss.backward()
            optimiser.step()
        schedule.step()
        network.eval()
        with torch.no_grad():
            r2 = validation_r2()
        state["history"].append(r2)
        epochs.set_postfix(val_r2=f"{r2:.3f}")
        if r2 > state["best_r2"]:
            state.update(best_r2=r2, best=copy.deepcopy(network.state_dict()), waited=0)
        else:
            state["waited"] += 1
        state["epoch"] = epoch + 1
        if progress_file is not None:
            saved = {
                "fingerprint": fingerprint, "state": state, "network": network.state_dict(),
                "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(), "torch_rng": torch.get_rng_state(),
            }
            with atomic_path(progress_file) as tmp:
                torch.save(saved, tmp)
    network.load_state_dict(state["best"])
    network.eval()
    return state["history"]
