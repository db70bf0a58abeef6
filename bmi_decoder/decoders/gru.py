"""GRU decoder: a gated recurrent network reading the 4 ms bins directly, linear velocity readout.

Recurrent networks lead the BioCAS 2024 primate-reaching challenge (GRU entries R2 0.707,
docs/data.md). The network sees one 0/1 bin per step, so it learns its own integration window
instead of a fixed count window. Training is truncated backpropagation through time: each epoch
cuts the training segment into chunks of ``chunk_bins`` at a random phase, runs each chunk from
the reset (zero) state, and leaves the first ``burn_in_bins`` of each chunk out of the loss,
because a state that has seen almost no history cannot be expected to decode yet.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from scipy.special import expit
from torch import nn

from bmi_decoder.cost import count_gru, network_cost
from snn_core.memory import FLOAT32, require_memory
from snn_core.metrics import ModelCost, OperationCounter
from snn_core.network import ActivityProbe
from snn_core.streaming import cpu_float64

from ._base import check_bin, check_fitted, check_sequence, require, require_int
from ._torch import FitData, _TorchDecoder
from ._training import LabelScaler, check_training_params, network_device


class GRUNetwork(nn.Module):
    """One GRU layer and a linear readout; the probe marks the GRU outputs for activity metrics."""

    def __init__(self, n_inputs: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(n_inputs, hidden, batch_first=True)
        self.probe = ActivityProbe()
        self.readout = nn.Linear(hidden, 2)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocity (batch, time, 2) for input (batch, time, F), and the final GRU state."""
        hidden, state = self.gru(x, state)
        return self.readout(self.probe(hidden)), state


class GRUStepper:
    """Streaming twin of a fitted :class:`GRUNetwork` in NumPy float64, label decoding folded in.

    The cell is ``torch.nn.GRU``'s, gates in its (reset, update, new) order::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h = (1 - z) * n + z * h

    Args:
        network: the fitted network; its weights are copied.
        scaler: the decoder's label scaler (folded into the readout: ``scale (W h + b) + mean``).
    """

    def __init__(self, network: GRUNetwork, scaler: LabelScaler) -> None:
        self.network = network
        gru = network.gru
        self.weight_ih = cpu_float64(gru.weight_ih_l0)
        self.weight_hh = cpu_float64(gru.weight_hh_l0)
        self.bias_ih = cpu_float64(gru.bias_ih_l0)
        self.bias_hh = cpu_float64(gru.bias_hh_l0)
        self.readout_weight = scaler.scale[:, None] * cpu_float64(network.readout.weight)
        self.readout_bias = scaler.scale * cpu_float64(network.readout.bias) + scaler.mean
        units = gru.hidden_size
        self.h = np.zeros(units)
        self.gates_x = np.zeros(3 * units)
        self.gates_h = np.zeros(3 * units)
        self.new = np.zeros(units)
        # views: reset and update gates together, then the candidate ("new") gate
        self.rz_x, self.n_x = self.gates_x[: 2 * units], self.gates_x[2 * units :]
        self.rz_h, self.n_h = self.gates_h[: 2 * units], self.gates_h[2 * units :]
        self.r, self.z = self.rz_x[:units], self.rz_x[units:]

    def reset(self) -> None:
        self.h[:] = 0.0

    def step(self, x: np.ndarray) -> np.ndarray:
        """One bin (F,) -> velocity (2,) in mm/s, a new array."""
        h, n = self.h, self.new
        np.dot(self.weight_ih, x, out=self.gates_x)
        self.gates_x += self.bias_ih
        np.dot(self.weight_hh, h, out=self.gates_h)
        self.gates_h += self.bias_hh
        self.rz_x += self.rz_h
        expit(self.rz_x, out=self.rz_x)  # now r and z
        np.multiply(self.r, self.n_h, out=n)
        n += self.n_x
        np.tanh(n, out=n)
        # h = (1 - z) n + z h = n + z (h - n)
        h -= n
        h *= self.z
        h += n
        velocity = self.readout_weight @ h
        velocity += self.readout_bias
        return velocity


class GRUDecoder(_TorchDecoder):
    """GRU over the binned spike sequence, trained by truncated BPTT with early stopping.

    Args:
        hidden: GRU units.
        chunk_bins: length of the truncated-BPTT chunks (125 bins = 0.5 s).
        burn_in_bins: leading bins of each chunk left out of the loss.
        lr: Adam learning rate.
        batch_size: chunks per mini-batch.
        max_epochs: passes over the training segment at most.
        patience: epochs without a better validation R2 before stopping.
        seed: seeds weight initialisation, chunk phase and order.
        progress: show a tqdm progress bar over epochs.
        progress_file: where to save the training state after every epoch; an interrupted
            fit resumes from it (None: no saving).
        device: ``"auto"`` (a CUDA GPU when visible, else the CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"``. Trains in float32 on every device: CUDA autocast runs cuDNN's GRU in
            float16 whatever dtype is asked for, and float16 gradients would need a scaler.
    """

    name = "gru"
    stepper = GRUStepper

    def __init__(
        self,
        hidden: int = 32,
        chunk_bins: int = 125,
        burn_in_bins: int = 25,
        lr: float = 1e-2,
        batch_size: int = 8,
        max_epochs: int = 20,
        patience: int = 3,
        seed: int = 0,
        progress: bool = True,
        progress_file: str | None = None,
        device: str = "auto",
    ) -> None:
        self.hidden = hidden
        self.chunk_bins = chunk_bins
        self.burn_in_bins = burn_in_bins
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = seed
        self.progress = progress
        self.progress_file = progress_file
        self.device = device

    def _build_network(self, n_features: int) -> GRUNetwork:
        """The untrained network for ``n_features`` channels, on the CPU (fit and checkpoints)."""
        return GRUNetwork(n_features, self.hidden)

    def check_params(self) -> None:
        require_int(self, "hidden", 1)
        require_int(self, "chunk_bins", 2)
        require_int(self, "burn_in_bins", 0)
        require(self, self.burn_in_bins < self.chunk_bins, "burn_in_bins", "fewer bins than chunk_bins")
        check_training_params(self)
        # three gates of hidden x hidden weights (x4: gradients, Adam), three gate activations per bin
        nbytes = FLOAT32 * (4 * 3 * self.hidden**2 + 3 * self.batch_size * self.chunk_bins * self.hidden)
        require_memory(f"{self.name} decoder", "hidden", nbytes, "a hidden size (with batch_size and chunk_bins)")

    def _check_training_data(self, X: np.ndarray) -> None:
        require(self, len(X) >= self.chunk_bins, "chunk_bins", f"at most the {len(X)} training bins")

    def _fit(self, data: FitData) -> None:
        inputs, targets = data.inputs(), data.targets
        chunk, burn_in = self.chunk_bins, self.burn_in_bins

        def epoch_batches(rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            # A random phase each epoch, so chunk borders (and burn-in gaps) move over the data.
            starts = np.arange(rng.integers(0, chunk), len(inputs) - chunk + 1, chunk)
            if len(starts) == 0:
                starts = np.array([0])
            starts = rng.permutation(starts)
            window = np.arange(chunk)
            for i in range(0, len(starts), self.batch_size):
                rows = torch.from_numpy(starts[i : i + self.batch_size, None] + window).to(data.device)
                yield inputs[rows], targets[rows][:, burn_in:]

        def loss(outputs: tuple[torch.Tensor, torch.Tensor], chunk_targets: torch.Tensor) -> torch.Tensor:
            return nn.functional.mse_loss(outputs[0][:, burn_in:], chunk_targets)

        self._train_network(data, epoch_batches, loss)

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_fitted(self, "network_")
        X = check_sequence(X, n_features=self.n_features_in_)
        self.network_.eval()
        with torch.no_grad():
            inputs = torch.from_numpy(X.astype(np.float32)).to(network_device(self.network_))
            out = self.network_(inputs[None])[0][0].cpu().numpy()
        return self.label_scaler_.decode(out)

    def cost(self, X: np.ndarray) -> ModelCost:
        """The readout is recorded on the network; ``nn.GRU`` is not hooked by the recorder, so
        its weights and gates are counted from what it read and returned (:func:`count_gru`).
        Activation sparsity over the GRU outputs (tanh-based: almost never exactly 0)."""
        check_fitted(self, "network_")
        counter = OperationCounter()
        handle = self.network_.gru.register_forward_hook(lambda gru, args, output: count_gru(counter, gru, args[0], output[0]))
        try:
            cost = network_cost(self, X, self.network_)
        finally:
            handle.remove()
        return cost.with_operations(counter.synops(len(X)))

    def step(self, x: np.ndarray) -> np.ndarray:
        return self._streaming().step(check_bin(x, self.n_features_in_))
