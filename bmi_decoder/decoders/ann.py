"""MLP decoder over a window of recent spike counts, after NeuroBench's primate-reaching ANN.

NeuroBench's ``ANNModel3D`` (``neurobench/examples/primate_reaching/ANN.py``) keeps the last
50 bins (200 ms), sums them into 7 sub-windows, flattens the 7 x F counts and feeds them to two
ReLU layers of 32 and 48 units, each followed by batch normalisation (dropout on the second),
and a linear readout of velocity. This is that network, with the window given by
``n_lags x bins_per_lag`` and a batch normalisation of the input so that counts of any scale
train well. Trained with Adam on mini-batches of bins, early stopping on validation R2.

NeuroBench fixes the window; here it is chosen on the validation split among candidates, as the
Wiener filter chooses its history: neural activity leads movement by a different time on every
array (docs/data.md: 100 to 180 ms), so how far back the network should read differs too. One
network is trained per candidate window, each from the same seed, and the one with the best
validation R2 is kept. The default candidates are 7 sub-windows of 4, 7 or 10 bins (112, 196
and 280 ms), NeuroBench's 7 x 7 among them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bmi_decoder.evaluation import r2_score
from snn_core.memory import dense_training_bytes, require_memory
from snn_core.streaming import cpu_float64
from snn_core.training import identity_key, read_progress, seeded_torch

from ._base import check_bin, check_fitted, check_sequence, is_int, is_real, require, require_candidates
from ._history import SpikeHistory, cumulative_counts, lagged_count_chunks, lagged_counts
from ._torch import FitData, _TorchDecoder
from ._training import LabelScaler, check_training_params, fit_identity, network_device, train_early_stopping

# Saved beside the progress of each candidate's training (snn_core.training.train's ``extra``):
# the windows already trained with their validation curves, and the best one's weights, so that
# a resumed fit skips them.
FINISHED = "finished_windows"
BEST = "best_window"


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


def decode(network: nn.Sequential, scaler: LabelScaler, X: np.ndarray, n_lags: int, bins_per_lag: int) -> np.ndarray:
    """Velocity (T, 2) in mm/s decoded by ``network`` from the lagged counts of ``X`` (T, F)."""
    out = np.empty((len(X), 2), dtype=np.float32)
    device = network_device(network)
    network.eval()
    with torch.no_grad():
        for rows, phi in lagged_count_chunks(X, n_lags, bins_per_lag):
            out[rows] = network(torch.from_numpy(phi.astype(np.float32)).to(device)).cpu().numpy()
    return scaler.decode(out)


def best_r2(curve: Sequence[float]) -> float:
    """A candidate's score: the best validation R2 of its epochs (the weights early stopping
    kept); -inf when no epoch scored (NaN)."""
    return max((r2 for r2 in curve if math.isfinite(r2)), default=-math.inf)


class ANNDecoder(_TorchDecoder):
    """Multilayer perceptron on lagged spike counts. Its cost is recorded on the network: its
    linear layers read normalised counts and ReLU outputs (MACs); activation sparsity is over
    the ReLU outputs.

    Args:
        n_lags: sub-windows of the input window (NeuroBench: 7), or candidates chosen on the
            validation split.
        bins_per_lag: 4 ms bins per sub-window, or candidates chosen on the validation split
            (default 4, 7 or 10: windows of 112, 196 and 280 ms; 7 x 7 bins = 196 ms is
            NeuroBench's 200 ms). Every pair of ``n_lags`` and ``bins_per_lag`` is a candidate.
        hidden: widths of the hidden layers (NeuroBench: 32, 48).
        dropout: dropout rate after the second and later hidden layers (NeuroBench: 0.5).
        lr: Adam learning rate.
        batch_size: bins per mini-batch.
        max_epochs: passes over the training bins at most, per candidate window.
        patience: epochs without a better validation R2 before stopping.
        seed: seeds weight initialisation, dropout and batch order (the same for every
            candidate, so a candidate trains as it would alone).
        progress: show a tqdm progress bar over epochs.
        progress_file: where to save the training state after every epoch; an interrupted
            fit resumes from it, skipping the candidate windows it finished (None: no saving).
        device: ``"auto"`` (a CUDA GPU when visible, else the CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"``. On CUDA the training forward pass runs under bfloat16 autocast (the
            linear layers; batch normalisation and the loss stay in float32); ``predict``
            and validation run in float32.

    Fitted attributes: ``n_lags_`` and ``bins_per_lag_`` (the chosen window), ``network_`` (its
    network), ``validation_r2_`` (its validation R2 after each epoch) and
    ``window_validation_r2_`` (``{n_lags: {bins_per_lag: per-epoch validation R2}}`` of every
    candidate).
    """

    name = "ann"
    stepper = MLPStepper
    streams_from = "history_"  # fitted last: a step reads its lagged counts

    def __init__(
        self,
        n_lags: int | Sequence[int] = 7,
        bins_per_lag: int | Sequence[int] = (4, 7, 10),
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

    def _windows(self) -> list[tuple[int, int]]:
        """The candidate windows (n_lags, bins_per_lag), checked, shortest first (equal spans:
        fewer sub-windows first), the order in which ties are settled."""
        lags, widths = require_candidates(self, "n_lags", 1), require_candidates(self, "bins_per_lag", 1)
        return sorted({(n, b) for n in lags for b in widths}, key=lambda window: (window[0] * window[1], window[0]))

    def check_params(self) -> None:
        self._windows()
        widths = self.hidden if isinstance(self.hidden, Sequence) else ()
        hidden_ok = len(widths) > 0 and all(is_int(h) and h > 0 for h in widths)
        require(self, hidden_ok, "hidden", "a non-empty list of positive layer widths")
        require(self, is_real(self.dropout) and 0 <= self.dropout < 1, "dropout", "a rate in [0, 1)")
        check_training_params(self)
        lags = max(n for n, _ in self._windows())
        sizes = [lags, *widths]  # one input channel at least: a lower bound of what it needs
        nbytes = dense_training_bytes(sizes, self.batch_size * sum(sizes))
        field = "n_lags" if lags > max(widths) else "hidden"  # the larger one is the likelier culprit
        require_memory(f"{self.name} decoder", field, nbytes, "layer widths and n_lags (with batch_size)")

    def _network(self, n_features: int, n_lags: int) -> nn.Sequential:
        """The untrained network reading ``n_lags`` sub-windows of ``n_features`` channels, on the CPU."""
        return build_mlp(n_lags * n_features, [int(h) for h in self.hidden], float(self.dropout))

    def _build_network(self, n_features: int) -> nn.Sequential:
        """The untrained network of the chosen window (checkpoints load the weights into it)."""
        return self._network(n_features, self.n_lags_)

    def _resumed(self, stages: dict[tuple[int, int], dict]) -> dict:
        """What the progress file holds of the windows this fit finished (``FINISHED`` and
        ``BEST``), when it holds progress of this fit; else nothing (a file of another fit is
        refused when the first window's training reads it)."""
        if not stages:
            return {}
        saved = read_progress(Path(self.progress_file), torch.device("cpu"))
        if saved is None or saved["identity"] not in {identity_key(stage) for stage in stages.values()}:
            return {}
        return {FINISHED: saved.get(FINISHED, []), BEST: saved.get(BEST)}

    def _check_training_data(self, X: np.ndarray) -> None:
        require(self, len(X) >= 2, "batch_size", "at least 2 training bins for batch normalisation")

    def _fit(self, data: FitData) -> None:
        windows = self._windows()
        X, X_val, y_val, device, targets = data.X, data.X_val, data.y_val, data.device, data.targets
        cum = cumulative_counts(X)

        def batches_of(
            n_lags: int, bins_per_lag: int
        ) -> Callable[[np.random.Generator], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
            def epoch_batches(rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
                order = rng.permutation(len(X))
                # A trailing batch of one bin would break batch normalisation's training mode.
                for start in range(0, len(order) - 1, self.batch_size):
                    rows = order[start : start + self.batch_size]
                    # Lag features are gathered on the host, batch by batch: all of them at once
                    # (T x lags x F) would not fit in memory for a long session.
                    features = lagged_counts(cum, rows, n_lags, bins_per_lag)
                    yield torch.from_numpy(features.astype(np.float32)).to(device), targets[torch.from_numpy(rows).to(device)]

            return epoch_batches

        # Each window's training is one stage of the fit in one progress file, keyed by the
        # fit's identity and the window.
        fit_id = fit_identity(self, data.arrays)
        stages = {window: {**fit_id, "window": list(window)} for window in windows} if fit_id else {}
        resumed = self._resumed(stages)
        curves: dict[tuple[int, int], list[float]] = {(n, b): list(curve) for n, b, curve in resumed.get(FINISHED, [])}
        best: tuple[float, int, int, nn.Sequential] | None = None
        if resumed.get(BEST) is not None:
            n, b, weights = resumed[BEST]
            network = self._network(X.shape[1], n)
            network.load_state_dict(weights)
            best = (best_r2(curves[n, b]), n, b, network.to(device))
        for n_lags, bins_per_lag in windows:
            if (n_lags, bins_per_lag) in curves:
                continue
            extra = {FINISHED: [[n, b, curve] for (n, b), curve in curves.items()], BEST: None}
            if best is not None:
                extra[BEST] = [best[1], best[2], {k: v.detach().to("cpu", copy=True) for k, v in best[3].state_dict().items()}]
            with seeded_torch(self.seed, device):
                # built on the CPU, as on every machine, so that a seed gives the same initial weights
                network = self._network(X.shape[1], n_lags).to(device)
                curve = train_early_stopping(
                    network,
                    batches_of(n_lags, bins_per_lag),
                    nn.functional.mse_loss,
                    lambda network=network, n=n_lags, b=bins_per_lag: r2_score(
                        y_val, decode(network, self.label_scaler_, X_val, n, b)
                    ),
                    self,
                    mixed_precision=True,
                    identity=stages.get((n_lags, bins_per_lag)),
                    supersedes=list(stages.values()),
                    extra=extra,
                )
            curves[n_lags, bins_per_lag] = curve
            if best is None or best_r2(curve) > best[0]:  # ties: the earlier, i.e. shorter, window
                best = (best_r2(curve), n_lags, bins_per_lag, network)
        _, self.n_lags_, self.bins_per_lag_, self.network_ = best
        self.validation_r2_ = curves[self.n_lags_, self.bins_per_lag_]
        self.window_validation_r2_ = {}
        for (n, b), curve in sorted(curves.items()):
            self.window_validation_r2_.setdefault(n, {})[b] = curve
        self.history_ = SpikeHistory(X.shape[1], self.n_lags_, self.bins_per_lag_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "network_")
        X = check_sequence(X, n_features=self.n_features_in_)
        return decode(self.network_, self.label_scaler_, X, self.n_lags_, self.bins_per_lag_)

    def reset(self) -> None:
        self._streaming()
        self.history_.reset()

    def step(self, x: np.ndarray) -> np.ndarray:
        return self._streaming().step(self.history_.push(check_bin(x, self.n_features_in_)))
