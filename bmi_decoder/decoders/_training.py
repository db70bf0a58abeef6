"""What the torch decoders share: device, seeding, label scaling, and Adam with early stopping on R2
(the loop itself is :func:`snn_core.training.train`, shared with vision_bench).

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

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from snn_core.device import choose_device
from snn_core.training import data_digest, train

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


def check_training_params(decoder: Decoder) -> None:
    """Validate the parameters every torch decoder has."""
    require_int(decoder, "max_epochs", 1)
    require_int(decoder, "patience", 1)
    require_int(decoder, "batch_size", 1)
    require_int(decoder, "seed", 0)
    require(decoder, is_real(decoder.lr) and decoder.lr > 0, "lr", "a number > 0")
    require(decoder, isinstance(decoder.progress, bool), "progress", "true or false")


class LabelScaler:
    """Standardises velocity per axis for training (mm/s spans hundreds; losses like unit scale)."""

    def __init__(self, y: np.ndarray) -> None:
        self.mean = y.mean(axis=0)
        self.scale = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)

    def to_state(self) -> dict[str, Any]:
        """The fields a checkpoint saves (see :mod:`bmi_decoder.checkpoint`)."""
        return {"mean": self.mean, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LabelScaler:
        """The scaler :meth:`to_state` described, without the labels it was fitted on."""
        scaler = cls.__new__(cls)
        scaler.mean = np.asarray(state["mean"], dtype=np.float64)
        scaler.scale = np.asarray(state["scale"], dtype=np.float64)
        return scaler

    def encode(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.mean) / self.scale).astype(np.float32)

    def decode(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=np.float64) * self.scale + self.mean


def chunk_rows(rng: np.random.Generator, n_bins: int, chunk_bins: int, batch_size: int) -> Iterator[np.ndarray]:
    """One epoch of truncated-BPTT batches over ``n_bins`` training bins: (batch, chunk_bins) row
    indices of non-overlapping chunks in random order. The chunk grid starts at a random offset
    each epoch, so that no bin is always at a chunk's edge."""
    n_chunks = n_bins // chunk_bins
    offset = int(rng.integers(0, n_bins - n_chunks * chunk_bins + 1))
    starts = offset + chunk_bins * rng.permutation(n_chunks)
    for b in range(0, n_chunks, batch_size):
        yield starts[b : b + batch_size, None] + np.arange(chunk_bins)


def fit_identity(decoder: Decoder, data: Sequence[np.ndarray | None]) -> dict | None:
    """What a progress file of this fit is keyed by: the decoder's name, its parameters (all but
    :data:`NOT_FINGERPRINTED`) and a digest of ``data``; None without a ``progress_file`` (the
    digest is only needed to key one)."""
    if not decoder.progress_file:
        return None
    params = {k: v for k, v in decoder.get_params().items() if k not in NOT_FINGERPRINTED}
    return {"decoder": decoder.name, "params": params, "data": data_digest(*data)}


def train_early_stopping(
    network: torch.nn.Module,
    epoch_batches: Callable[[np.random.Generator], Iterable[tuple[torch.Tensor, torch.Tensor]]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    validation_r2: Callable[[], float],
    decoder: Decoder,
    mixed_precision: bool = False,
    data: Sequence[np.ndarray | None] = (),
    clip_grad_norm: float | None = None,
    average_decay: float | None = None,
    identity: dict | None = None,
    supersedes: Sequence[dict] = (),
    extra: dict | None = None,
) -> list[float]:
    """Train ``network`` with Adam until validation R2 stops improving; keep the best weights.

    The loop is :func:`snn_core.training.train` (cosine schedule over ``max_epochs``, batches
    seeded by (seed, epoch), early stopping with ``patience``). When ``decoder.progress_file`` is
    set, the training state is saved there after every epoch and a fit interrupted by a crash or
    Ctrl-C resumes from it with the same result as an uninterrupted fit, on any device. The file
    is tied to the decoder's parameters (all but :data:`NOT_FINGERPRINTED`) and a digest of
    ``data``: progress of another fit is refused (InputError; ``bmi-decoder train --restart``, or
    deleting the file, discards it), so that a mistyped file name never silently costs the epochs
    an interrupted run had finished.

    Args:
        network: the module to train, in place, on the device it is on.
        epoch_batches: called once per epoch with that epoch's generator; yields (input, target)
            mini-batches on the network's device.
        loss_fn: ``loss_fn(network_output_for_input, target)``.
        validation_r2: R2 on the validation segment with the network as it stands.
        decoder: supplies ``lr``, ``max_epochs``, ``patience``, ``seed``, ``progress`` and
            ``progress_file``.
        mixed_precision: on CUDA, run the forward pass and loss under bfloat16 autocast.
        data: the arrays the fit learns from (training and validation inputs and labels),
            digested into the progress file's identity.
        clip_grad_norm: clip each batch's gradient to this global norm (None: no clipping).
        average_decay: validate and keep a moving average of the weights with this decay per
            step (:mod:`snn_core.weight_average`; None: the weights as trained).
        identity: the progress file's identity when the caller made it (:func:`fit_identity`,
            e.g. with the candidate being trained); None: ``fit_identity(decoder, data)``.
        supersedes: identities of the fit's earlier stages sharing the progress file, whose
            progress is overwritten rather than refused (see :func:`snn_core.training.train`).
        extra: plain values and tensors saved beside the progress (what a resumed fit needs to
            skip the stages it finished).

    Returns:
        validation R2 after each epoch run.

    Raises:
        InputError: ``decoder.progress_file`` holds progress of another decoder, settings or data.
    """
    if identity is None:
        identity = fit_identity(decoder, data)
    result = train(
        network,
        torch.optim.Adam(network.parameters(), lr=decoder.lr),
        epoch_batches,
        lambda batch: loss_fn(network(batch[0]), batch[1]),
        validation_r2,
        max_epochs=decoder.max_epochs,
        seed=decoder.seed,
        patience=decoder.patience,
        precision=torch.bfloat16 if mixed_precision else None,
        clip_grad_norm=clip_grad_norm,
        average_decay=average_decay,
        checkpoint=decoder.progress_file or None,
        identity=identity,
        strict=True,
        restart_hint="rerun `bmi-decoder train` with --restart, or delete it, to discard it and train afresh",
        supersedes=supersedes,
        extra=extra,
        progress=bool(decoder.progress),
        desc=f"fit {decoder.name}",
    )
    return [record["score"] for record in result.history]


def current_stepper(decoder: Decoder, build: Callable[[torch.nn.Module, LabelScaler], Any]) -> Any:
    """The decoder's streaming stepper for its current network: built on first use, and again
    when a fit or a loaded checkpoint replaced ``network_`` (a stepper holds copied weights)."""
    stepper = decoder._stepper
    if stepper is None or stepper.network is not decoder.network_:
        stepper = decoder._stepper = build(decoder.network_, decoder.label_scaler_)
    return stepper
