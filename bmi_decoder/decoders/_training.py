"""What the torch decoders share: seeding, label scaling, and Adam with early stopping on R2.

Early stopping follows the NeuroBench protocol's use of the validation split: after each epoch
the network decodes the validation segment from the reset state, exactly as it will decode the
test segment, and the weights with the best validation R2 are kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from tqdm.auto import tqdm

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
    epoch_batches: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    validation_r2: Callable[[], float],
    decoder: Decoder,
) -> list[float]:
    """Train ``network`` with Adam until validation R2 stops improving; keep the best weights.

    Args:
        network: the module to train, in place.
        epoch_batches: called once per epoch, yields (input, target) mini-batches.
        loss_fn: ``loss_fn(network_output_for_input, target)``.
        validation_r2: R2 on the validation segment with the network as it stands.
        decoder: supplies ``lr``, ``max_epochs``, ``patience`` and ``progress``.

    Returns:
        validation R2 after each epoch run.
    """
    optimiser = torch.optim.Adam(network.parameters(), lr=decoder.lr)
    best_r2, best_state, waited, history = -np.inf, copy.deepcopy(network.state_dict()), 0, []
    epochs = tqdm(range(decoder.max_epochs), desc=f"fit {decoder.name}", unit="epoch", disable=not decoder.progress)
    for _ in epochs:
        network.train()
        for inputs, targets in epoch_batches():
            optimiser.zero_grad()
            loss = loss_fn(network(inputs), targets)
            loss.backward()
            optimiser.step()
        network.eval()
        with torch.no_grad():
            r2 = validation_r2()
        history.append(r2)
        epochs.set_postfix(val_r2=f"{r2:.3f}")
        if r2 > best_r2:
            best_r2, best_state, waited = r2, copy.deepcopy(network.state_dict()), 0
        else:
            waited += 1
            if waited >= decoder.patience:
                break
    network.load_state_dict(best_state)
    network.eval()
    return history
