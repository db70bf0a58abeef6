"""Recalibration from labelled calibration data: retrain, refit the readout, fine-tune the input layer.

- :class:`Retrain` fits a new decoder of the same settings on the calibration segment alone (the
  last 20% of it choosing what the decoder chooses on validation data).
- :class:`ReadoutRefit` keeps every weight but the readout's and solves the readout in closed
  form: ridge regression of the (standardised) velocity on what the readout reads. For the SNN
  this is the neuromorphic on-chip case (few parameters; the regression's statistics are sums of
  products of spike traces, accumulated as the bins arrive). Its leaky readout integrates
  ``W s + b``, so the regressors are the spikes and a constant passed through the same leak.
  An SNN ensemble's velocity is the mean of its members' readouts, all leaking alike, so it is
  one readout of all members' spikes side by side: it is solved as one regression, and member
  ``i`` of ``M`` gets ``M`` times its share of the weights and the common bias.
- :class:`InputFineTune` trains only the layer that reads the channels (the SNN's first LIF
  layer, the GRU's input weights, the ANN's input normalisation and first layer) by gradient
  descent, everything after it frozen: drift changes what the channels mean, not the dynamics
  of the movement that the deeper layers decode.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bmi_decoder.decoders import Decoder, clone
from bmi_decoder.decoders._history import cumulative_counts, lagged_counts
from bmi_decoder.decoders._training import network_device
from bmi_decoder.decoders.snn_network import EnsembleVelocityNet
from snn_core.network import SkipLayer
from snn_core.training import seeded_torch

from ._base import Recalibration

NETWORK_DECODERS = ("snn", "snn_small", "gru", "ann")
# Ridge penalty of the readout refit, relative to the mean diagonal of the regressors' Gram
# matrix: enough to tame a 15 s calibration (3,750 bins against up to 129 regressors), small
# enough to leave 2 minutes nearly unpenalised.
READOUT_RIDGE = 1e-2


class Retrain(Recalibration):
    """A new decoder of the same settings, fitted on the calibration segment only."""

    name = "scratch"

    def apply(self, decoder: Decoder, X_cal: np.ndarray, y_cal: np.ndarray, X_reference: np.ndarray) -> Decoder:
        return clone(decoder).fit(X_cal, y_cal)


def spiking_members(decoder: Decoder) -> list[nn.Module]:
    """An SNN decoder's networks: the members of an ensemble, else its one network."""
    network = decoder.network_
    return list(network.members) if isinstance(network, EnsembleVelocityNet) else [network]


def readout_layers(decoder: Decoder) -> list[nn.Linear]:
    """The linear maps from a network decoder's last hidden layer to velocity (one per SNN member)."""
    network = decoder.network_
    if decoder.name in ("snn", "snn_small"):
        return [member.readout.linear for member in spiking_members(decoder)]
    return [network.readout if decoder.name == "gru" else network[-1]]


def _readout_inputs(decoder: Decoder, X: np.ndarray) -> list[np.ndarray]:
    """(T, H) what each readout reads at each bin of ``X``, recorded while the decoder decodes it."""
    layers = readout_layers(decoder)
    seen: list[list[torch.Tensor]] = [[] for _ in layers]
    handles = [
        layer.register_forward_hook(lambda m, args, out, into=into: into.append(args[0].detach().reshape(-1, args[0].shape[-1])))
        for layer, into in zip(layers, seen)
    ]
    try:
        decoder.predict(X)
    finally:
        for handle in handles:
            handle.remove()
    return [torch.cat(into).cpu().numpy().astype(np.float64) for into in seen]


def _leak(values: np.ndarray, beta: float) -> np.ndarray:
    """``v[t] = beta v[t-1] + values[t]`` from 0 (the SNN readout's integration), column by column."""
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -beta], values, axis=0)


class ReadoutRefit(Recalibration):
    """The readout solved anew by ridge regression; every other weight kept."""

    name = "readout"
    decoders = NETWORK_DECODERS

    def apply(self, decoder: Decoder, X_cal: np.ndarray, y_cal: np.ndarray, X_reference: np.ndarray) -> Decoder:
        hidden = _readout_inputs(decoder, X_cal)
        regressors = np.column_stack([*hidden, np.ones(len(hidden[0]))])
        if decoder.name in ("snn", "snn_small"):
            regressors = _leak(regressors, float(spiking_members(decoder)[0].readout.beta))  # alike in all
        target = decoder.label_scaler_.encode(np.asarray(y_cal, dtype=np.float64)).astype(np.float64)
        gram = regressors.T @ regressors
        penalty = READOUT_RIDGE * np.trace(gram) / len(gram) * np.eye(len(gram))
        penalty[-1, -1] = 0.0  # the bias is not shrunk
        solution = np.linalg.solve(gram + penalty, regressors.T @ target)
        layers = readout_layers(decoder)
        ends = np.cumsum([h.shape[1] for h in hidden])
        with torch.no_grad():
            for layer, weight in zip(layers, np.split(solution[:-1], ends[:-1])):
                layer.weight.copy_(torch.from_numpy(len(layers) * weight.T).to(layer.weight))
                layer.bias.copy_(torch.from_numpy(solution[-1]).to(layer.bias))
        return decoder


def input_modules(decoder: Decoder) -> list[nn.Module]:
    """The modules that read the channels: those :class:`InputFineTune` trains."""
    network = decoder.network_
    if decoder.name in ("snn", "snn_small"):  # every member's first layer
        return [next(m for m in member.body.modules() if isinstance(m, SkipLayer)).synapse for member in spiking_members(decoder)]
    if decoder.name == "gru":
        return [network.gru]  # only its input weights are trained (input_parameters)
    return [network[0], network[1]]  # batch normalisation of the counts, first linear layer


def input_parameters(decoder: Decoder) -> list[nn.Parameter]:
    if decoder.name == "gru":
        return [decoder.network_.gru.weight_ih_l0, decoder.network_.gru.bias_ih_l0]
    return [p for module in input_modules(decoder) for p in module.parameters()]


class InputFineTune(Recalibration):
    """The input layer trained on the calibration segment by Adam, the rest frozen.

    Args:
        steps: Adam steps (mini-batches).
        lr: learning rate.
        chunk_bins: bins per sequence chunk (SNN, GRU) or per batch (ANN: bins).
        batch_size: chunks per batch (SNN, GRU).
        seed: seeds the batches.
    """

    name = "input"
    decoders = NETWORK_DECODERS

    def __init__(self, steps: int = 150, lr: float = 3e-3, chunk_bins: int = 128, batch_size: int = 8, seed: int = 0) -> None:
        self.steps, self.lr, self.chunk_bins, self.batch_size, self.seed = steps, lr, chunk_bins, batch_size, seed

    def _batch(self, decoder: Decoder, X: torch.Tensor, y: torch.Tensor, cum: np.ndarray, rng: np.random.Generator):
        """(prediction, target) of one random batch, in the network's own layout."""
        network = decoder.network_
        if decoder.name == "ann":
            rows = rng.integers(0, len(X), self.chunk_bins * self.batch_size)
            phi = lagged_counts(cum, rows, decoder.n_lags_, decoder.bins_per_lag_)
            return network(torch.from_numpy(phi.astype(np.float32)).to(X.device)), y[torch.from_numpy(rows).to(X.device)]
        chunk = min(self.chunk_bins, len(X))
        starts = rng.integers(0, len(X) - chunk + 1, self.batch_size)
        rows = torch.from_numpy(starts[:, None] + np.arange(chunk)).to(X.device)
        burn_in = chunk // 8  # the state settles from reset, as in training
        if decoder.name == "gru":
            return network(X[rows])[0][:, burn_in:], y[rows][:, burn_in:]
        return network(X[rows].transpose(0, 1))[burn_in:], y[rows].transpose(0, 1)[burn_in:]

    def apply(self, decoder: Decoder, X_cal: np.ndarray, y_cal: np.ndarray, X_reference: np.ndarray) -> Decoder:
        network = decoder.network_
        device = network_device(network)
        trained = input_parameters(decoder)
        for p in network.parameters():
            p.requires_grad_(False)
        for p in trained:
            p.requires_grad_(True)
        X = torch.from_numpy(np.asarray(X_cal, dtype=np.float32)).to(device)
        y = torch.from_numpy(decoder.label_scaler_.encode(np.asarray(y_cal, dtype=np.float64))).to(device)
        cum = cumulative_counts(np.asarray(X_cal, dtype=np.float64))
        rng = np.random.default_rng(self.seed)
        optimiser = torch.optim.Adam(trained, lr=self.lr)
        network.eval()  # dropout off, deeper batch normalisation frozen ...
        if decoder.name == "ann":
            network[0].train()  # ... but the input's statistics follow the new day
        with seeded_torch(self.seed, device), torch.enable_grad():
            for _ in range(self.steps):
                prediction, target = self._batch(decoder, X, y, cum, rng)
                loss = nn.functional.mse_loss(prediction, target)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        network.eval()
        for p in network.parameters():
            p.requires_grad_(True)
        return decoder
