"""What the torch decoders share: device, seeding, label scaling, and Adam with early stopping on R2.

Early stopping follows the NeuroBench protocol's use of the validation split: after each epoch
the network decodes the validation segment from the reset state, exactly as it will decode the
test segment, and the weights with the best validation R2 are kept.

Devices: every torch decoder has a ``device`` parameter (:mod:`snn_core.device`), checked and
resolved at fit time. On CUDA a decoder may train its forward pass under bfloat16 autocast
(``mixed_precision``): bfloat16 has float32's exponent range, so gradients cannot underflow and
no gradient scaler is needed. Validation and ``predict`` always run in float32, so R2 never
depends on autocast.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from snn_core.atomic import atomic_path
from snn_core.device import choose_device

from ._base import Decoder, is_real, require, require_int


# Parameters that do not change what a fit computes (the device only its rounding), so a
# progress file saved under other values of them is resumed.
NOT_FINGERPRINTED = ("progress", "progress_file", "device")


def training_device(decoder: Decoder) -> torch.device:
    """Check ``decoder.device`` (at fit time, scikit-learn's rule) and resolve it on this machine.

    Raises:
        InputError: naming the decoder's ``device`` parameter, for a bad name or a CUDA device
            this machine does not have.
    """
    return choose_device(decoder.device, f"{decoder.name} decoder", "device")


def network_device(network: torch.nn.Module) -> torch.device:
    """The device ``network``'s parameters live on, where its inputs must go."""
    return next(network.parameters()).device


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Run torch code with its global generators seeded, leaving the caller's generators alone.

    Weight initialisation draws from the CPU generator, dropout from the generator of the device
    it runs on; forking both makes a fit deterministic given ``seed`` without side effects on
    other code.
    """
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
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
    mixed_precision: bool = False,
) -> list[float]:
    """Train ``network`` with Adam until validation R2 stops improving; keep the best weights.

    The learning rate follows a cosine schedule over ``max_epochs`` (Loshchilov & Hutter 2017):
    late epochs take small steps, which steadies the validation R2 that early stopping reads.
    When ``decoder.progress_file`` is set, the whole training state is saved there (atomically)
    after every epoch, and a fit interrupted by a crash or Ctrl-C resumes from the last epoch
    saved, with the same result as an uninterrupted fit: each epoch draws its batches from a
    generator seeded by (seed, epoch), and torch's generator states are saved too. The progress
    file is read onto the device the network is on, so a fit interrupted on a GPU can resume on
    the CPU, and the other way round (the device is not part of the fit's fingerprint).

    Args:
        network: the module to train, in place, on the device it is on.
        epoch_batches: called once per epoch with that epoch's generator; yields (input, target)
            mini-batches on the network's device.
        loss_fn: ``loss_fn(network_output_for_input, target)``.
        validation_r2: R2 on the validation segment with the network as it stands.
        decoder: supplies ``lr``, ``max_epochs``, ``patience``, ``seed``, ``progress`` and
            ``progress_file``.
        mixed_precision: on CUDA, run the forward pass and loss under bfloat16 autocast.

    Returns:
        validation R2 after each epoch run.
    """
    device = network_device(network)
    use_autocast = mixed_precision and device.type == "cuda"
    optimiser = torch.optim.Adam(network.parameters(), lr=decoder.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=decoder.max_epochs)
    state = {"epoch": 0, "best_r2": -np.inf, "best": copy.deepcopy(network.state_dict()), "waited": 0, "history": []}
    progress_file = Path(decoder.progress_file) if decoder.progress_file else None
    fingerprint = repr(sorted((k, v) for k, v in decoder.get_params().items() if k not in NOT_FINGERPRINTED))
    if progress_file is not None and progress_file.exists():
        saved = torch.load(progress_file, map_location=device, weights_only=False)
        if saved.get("fingerprint") == fingerprint:
            state = saved["state"]
            network.load_state_dict(saved["network"])
            optimiser.load_state_dict(saved["optimiser"])
            schedule.load_state_dict(saved["schedule"])
            torch.set_rng_state(saved["torch_rng"].cpu())
            if device.type == "cuda" and saved.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(saved["cuda_rng"].cpu(), device)
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
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_autocast):
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
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            }
            with atomic_path(progress_file) as tmp:
                torch.save(saved, tmp)
    network.load_state_dict(state["best"])
    network.eval()
    return state["history"]


def current_stepper(decoder: Decoder, build: Callable[[torch.nn.Module, LabelScaler], Any]) -> Any:
    """The decoder's streaming stepper for its current network: built on first use, and again
    when a fit or a loaded checkpoint replaced ``network_`` (a stepper holds copied weights)."""
    stepper = decoder._stepper
    if stepper is None or stepper.network is not decoder.network_:
        stepper = decoder._stepper = build(decoder.network_, decoder.label_scaler_)
    return stepper
