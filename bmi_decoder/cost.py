"""What a fitted decoder costs per step (one bin): NeuroBench's complexity metrics for every decoder.

NeuroBench's primate-reaching track (docs/metrics.md) reports, next to R2, the footprint (bytes of
parameters and buffers), connection sparsity (share of zero weights), activation sparsity
(share of zero neuron outputs over all layers, steps and samples) and synaptic operations per
step: *dense* counts every weight against every input, *effective* only non-zero inputs against
non-zero weights, as ACs at a step whose input is binary (spikes, 0/1 bins) and as MACs at any
other step; biases are not synaptic operations. :mod:`snn_core.metrics` implements these for torch layers;
this module applies the same rules to every decoder, so a Kalman filter and an SNN are compared
on one scale.

Each decoder measures itself in ``Decoder.cost`` while it decodes a sequence:

- torch decoders (SNN, ANN, GRU) run ``predict`` under an
  :class:`~snn_core.metrics.ActivityRecorder` (:func:`network_cost`); ``nn.GRU`` is not hooked
  by it, and the GRU decoder adds its gate arithmetic with :func:`count_gru`;
- the linear decoders (Wiener, Kalman) count their matrix-vector products with an
  :class:`~snn_core.metrics.OperationCounter`, which applies the same rules to numpy arrays.

Conventions shared by all decoders (stated so the numbers can be compared):

- Footprint counts the arrays a decoder needs to decode, at the dtype it stores them in
  (float32 torch weights, float64 numpy arrays). For a torch decoder that is its network's
  parameters and buffers, as NeuroBench's footprint counts them: the label scaling that maps the
  network's output to mm/s (four float64 numbers) is applied outside the network and not
  counted. Streaming state (membrane potentials, GRU state, the ring buffer of
  recent bins) is not counted, as NeuroBench counts parameters and buffers, not activations.
- Summing bins into count windows (Wiener, Kalman, ANN inputs) is feature extraction, not a
  synaptic layer, and is not counted, as in NeuroBench's ANN baseline.
- For decoders without neurons, activation sparsity is the share of zero entries of the
  intermediate values they compute and multiply by weights (the Wiener filter's lagged counts;
  the Kalman filter's window counts and state), the counterpart of hidden-layer outputs.
- Energy: :data:`snn_core.metrics.ENERGY_CAVEAT`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import nn

from snn_core.metrics import ActivityRecorder, ModelCost, OperationCounter


class Decoder(Protocol):
    """What measuring needs of a fitted decoder (:class:`bmi_decoder.decoders.Decoder` has it):
    declared here, since the decoders import this module to measure themselves."""

    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def cost(self, X: np.ndarray) -> ModelCost: ...


def decoder_cost(decoder: Decoder, X: np.ndarray) -> ModelCost:
    """Measure a fitted decoder while it decodes ``X`` (T, F) from the reset state.

    Args:
        decoder: a fitted decoder.
        X: binned spikes; every bin is one step (one execution, in NeuroBench's terms).

    Returns:
        Its footprint, sparsities and per-step synaptic operations.
    """
    return decoder.cost(X)


def network_cost(decoder: Decoder, X: np.ndarray, network: nn.Module) -> ModelCost:
    """Cost of a torch decoder: ``decoder.predict(X)`` run under an ActivityRecorder on ``network``.

    Args:
        decoder: the fitted decoder whose ``predict`` runs ``network``.
        X: binned spikes (T, F).
        network: the decoder's torch module; its linear layers are hooked.
    """
    with ActivityRecorder(network) as recorder:
        decoder.predict(X)
    return recorder.model_cost(len(X))


def count_gru(counter: OperationCounter, gru: nn.GRU, inputs: torch.Tensor, hidden: torch.Tensor) -> None:
    """Count one single-layer ``nn.GRU`` run, like NeuroBench's ``gru_cell_macs`` per step.

    PyTorch's cell: ``r = s(W_ir x + W_hr h + b_r)``, ``z = s(W_iz x + W_hz h + b_z)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``. Counted:
    ``W_ih x`` (ACs on 0/1 bins), ``W_hh h`` (MACs on the real-valued state), and the three
    element-wise products ``r * (W_hn h + b_hn)``, ``(1 - z) * n`` and ``z * h``, each skipped
    where a factor is exactly 0 (evaluated on the actual gate values, where NeuroBench uses
    binarised ones). Biases and the additions of the gates are not counted, as in NeuroBench.

    Args:
        counter: where the counts go.
        gru: the layer (one layer, unidirectional, batch_first).
        inputs: what it read, (batch, T, F).
        hidden: what it returned, (batch, T, H), from a zero initial state.
    """
    with torch.no_grad():
        # in the layer's own dtype: whether a gate saturates to exactly 0 or 1 depends on it
        x = inputs.reshape(-1, inputs.shape[-1])
        previous = torch.cat([torch.zeros_like(hidden[:, :1]), hidden[:, :-1]], dim=1)
        h = previous.reshape(-1, hidden.shape[-1])
        w_ih, w_hh = gru.weight_ih_l0, gru.weight_hh_l0
        gate_x = x @ w_ih.T + (gru.bias_ih_l0 if gru.bias else 0.0)
        gate_h = h @ w_hh.T + (gru.bias_hh_l0 if gru.bias else 0.0)
        x_r, x_z, x_n = gate_x.chunk(3, dim=1)
        h_r, h_z, h_n = gate_h.chunk(3, dim=1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
    # counted on the host, whichever device the layer ran on
    counter.matvec(x.cpu().numpy(), w_ih.detach().cpu().numpy())
    counter.matvec(h.cpu().numpy(), w_hh.detach().cpu().numpy())
    for a, b in ((r, h_n), (1 - z, n), (z, h)):
        counter.elementwise(a.cpu().numpy(), b.cpu().numpy())
