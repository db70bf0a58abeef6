"""MLP decoder over a window of recent spike counts, after NeuroBench's primate-reaching ANN.

NeuroBench's ``ANNModel3D`` (``neurobench/examples/primate_reaching/ANN.py``) keeps the last
50 bins (200 ms), sums them into 7 sub-windows, flattens the 7 x F counts and feeds them to two
ReLU layers of 32 and 48 units, each followed by batch normalisation (dropout on the second),
and a linear readout of velocity. This is that network, with the window given by
``n_lags x bins_per_lag`` and a batch normalisation of the input so that counts of any scale
train well. Trained with Adam on mini-batches of bins, early stopping on validation R2.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Self

import numpy as np
import torch
from torch import nn

from bmi_decoder.cost import network_cost
from bmi_decoder.evaluation import r2_score
from snn_core.metrics import ModelCost
from snn_core.streaming import cpu_float64
from snn_core.training import seeded_torch

from ._base import (
    Decoder,
    check_bin,
    check_fitted,
    check_sequence,
    is_int,
    is_real,
    require,
    require_int,
    train_validation,
)
from ._history import SpikeHistory, cumulative_counts, lagged_count_chunks, lagged_counts
from ._training import (
    LabelScaler,
    check_training_params,
    current_stepper,
    network_device,
    train_early_stopping,
    training_device,
)


def build_mlp(n_inputs: int, hidden: Sequence[int], dropout: float) -> nn.Sequential:
    """NeuroBench's layer order: Linear, ReLU, BatchNorm per hidden layer; dropout after the first."""
    layers: list[nn.Module] = [nn.BatchNorm1d(n_inputs)]
    width = n_inputs
    for i, size in enumerate(hidden):
        layers += [nn.Linear(width, size), nn.ReLU()]
        if i > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.BatchNorm1d(size))
        width = size
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


class MLPStepper:
    """Streaming twin of a fitted :func:`build_mlp` network with the label decoding folded in.

    In evaluation mode every batch normalisation is an affine map ``x * a + c`` and dropout is
    the identity, so each one folds into the next linear layer (``W (x a + c) + b = (W a) x +
    (W c + b)``), and the label scaler folds into the last; a step is then a few NumPy
    matrix-vector products in float64 on the float32 weights.

    Args:
        network: the fitted network; its weights are copied.
        scaler: the decoder's label scaler.
    """

    def __init__(self, network: nn.Sequential, scaler: LabelScaler) -> None:
        self.network = network
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        scale: np.ndarray | float = 1.0
        shift: np.ndarray | float = 0.0
        for module in network:
            if isinstance(module, nn.BatchNorm1d):
                scale = cpu_float64(module.weight) / np.sqrt(cpu_float64(module.running_var) + module.eps)
                shift = cpu_float64(module.bias) - cpu_float64(module.running_mean) * scale
            elif isinstance(module, nn.Linear):
                weight = cpu_float64(module.weight)
                self.layers.append((weight * scale, cpu_float64(module.bias) + weight @ np.broadcast_to(shift, weight.shape[1])))
                scale, shift = 1.0, 0.0
            elif not isinstance(module, nn.ReLU | nn.Dropout):
                raise TypeError(f"MLPStepper cannot step a {type(module).__name__}")
        weight, bias = self.layers[-1]
        self.layers[-1] = (scaler.scale[:, None] * weight, scaler.scale * bias + scaler.mean)
        self.hidden = [np.zeros(len(bias)) for _, bias in self.layers[:-1]]

    def step(self, features: np.ndarray) -> np.ndarray:
        """Lagged counts (n_lags * F,) -> velocity (2,) in mm/s, a new array."""
        h = features
        for (weight, bias), out in zip(self.layers, self.hidden):
            np.dot(weight, h, out=out)
            out += bias
            np.maximum(out, 0.0, out=out)
            h = out
        weight, bias = self.layers[-1]
        velocity = weight @ h
        velocity += bias
        return velocity


class ANNDecoder(Decoder):
    """Multilayer perceptron on lagged spike counts.

    Args:
        n_lags: sub-windows of the input window (NeuroBench: 7).
        bins_per_lag: 4 ms bins per sub-window (7 x 7 bins = 196 ms, NeuroBench's 200 ms).
        hidden: widths of the hidden layers (NeuroBench: 32, 48).
        dropout: dropout rate after the second and later hidden layers (NeuroBench: 0.5).
        lr: Adam learning rate.
        batch_size: bins per mini-batch.
        max_epochs: passes over the training bins at most.
        patience: epochs without a better validation R2 before stopping.
        seed: seeds weight initialisation, dropout and batch order.
        progress: show a tqdm progress bar over epochs.
        progress_file: where to save the training state after every epoch; an interrupted
            fit resumes from it (None: no saving).
        device: ``"auto"`` (a CUDA GPU when visible, else the CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"``. On CUDA the training forward pass runs under bfloat16 autocast (the
            linear layers; batch normalisation and the loss stay in float32); ``predict``
            and validation run in float32.
    """

    name = "ann"
    # Built from network_ on the first reset or step (never saved: its name does not end in _).
    _stepper: MLPStepper | None = None

    def __init__(
        self,
        n_lags: int = 7,
        bins_per_lag: int = 7,
        hidden: Sequence[int] = (32, 48),
        dropout: float = 0.5,
        lr: float = 3e-3,
        batch_size: int = 256,
        max_epochs: int = 20,
        patience: int = 3,
        seed: int = 0,
        progress: bool = True,
        progress_file: str | None = None,
        device: str = "auto",
    ) -> None:
        self.n_lags = n_lags
        self.bins_per_lag = bins_per_lag
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = seed
        self.progress = progress
        self.progress_file = progress_file
        self.device = device

    def check_params(self) -> None:
        require_int(self, "n_lags", 1)
        require_int(self, "bins_per_lag", 1)
        widths = self.hidden if isinstance(self.hidden, Sequence) else ()
        hidden_ok = len(widths) > 0 and all(is_int(h) and h > 0 for h in widths)
        require(self, hidden_ok, "hidden", "a non-empty list of positive layer widths")
        require(self, is_real(self.dropout) and 0 <= self.dropout < 1, "dropout", "a rate in [0, 1)")
        check_training_params(self)

    def _build_network(self, n_features: int) -> nn.Sequential:
        """The untrained network for ``n_features`` channels, on the CPU (fit and checkpoints)."""
        return build_mlp(self.n_lags * n_features, [int(h) for h in self.hidden], float(self.dropout))

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> Self:
        self.check_params()
        X, y, X_val, y_val = train_validation(X, y, X_val, y_val)
        require(self, len(X) >= 2, "batch_size", "at least 2 training bins for batch normalisation")
        device = training_device(self)
        self.n_features_in_ = X.shape[1]
        self.label_scaler_ = LabelScaler(y)
        cum = cumulative_counts(X)
        targets = torch.from_numpy(self.label_scaler_.encode(y)).to(device)

        def epoch_batches(rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            order = rng.permutation(len(X))
            # A trailing batch of one bin would break batch normalisation's training mode.
            for start in range(0, len(order) - 1, self.batch_size):
                rows = order[start : start + self.batch_size]
                # Lag features are gathered on the host, batch by batch: all of them at once
                # (T x lags x F) would not fit in memory for a long session.
                features = lagged_counts(cum, rows, self.n_lags, self.bins_per_lag)
                yield torch.from_numpy(features.astype(np.float32)).to(device), targets[torch.from_numpy(rows).to(device)]

        with seeded_torch(self.seed, device):
            # built on the CPU, as on every machine, so that a seed gives the same initial weights
            self.network_ = self._build_network(X.shape[1]).to(device)
            self.validation_r2_ = train_early_stopping(
                self.network_,
                epoch_batches,
                nn.functional.mse_loss,
                lambda: r2_score(y_val, self.predict(X_val)),
                self,
                mixed_precision=True,
                data=(X, y, X_val, y_val),
            )
        self.history_ = SpikeHistory(X.shape[1], self.n_lags, self.bins_per_lag)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "network_")
        X = check_sequence(X, n_features=self.n_features_in_)
        out = np.empty((len(X), 2), dtype=np.float32)
        device = network_device(self.network_)
        self.network_.eval()
        with torch.no_grad():
            for rows, phi in lagged_count_chunks(X, self.n_lags, self.bins_per_lag):
                out[rows] = self.network_(torch.from_numpy(phi.astype(np.float32)).to(device)).cpu().numpy()
        return self.label_scaler_.decode(out)

    def cost(self, X: np.ndarray) -> ModelCost:
        """Recorded on the network: its linear layers read normalised counts and ReLU outputs
        (MACs); activation sparsity over the ReLU outputs."""
        check_fitted(self, "network_")
        return network_cost(self, X, self.network_)

    def _streaming(self) -> MLPStepper:
        """The stepper of the current network, rebuilt when fit or loading replaced it."""
        check_fitted(self, "history_")
        return current_stepper(self, MLPStepper)

    def reset(self) -> None:
        self._streaming()
        self.history_.reset()

    def step(self, x: np.ndarray) -> np.ndarray:
        return self._streaming().step(self.history_.push(check_bin(x, self.n_features_in_)))
