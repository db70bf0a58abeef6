"""Real-time inference of a dense :class:`~snn_core.network.SkipNetwork`, one step at a time.

:meth:`SkipNetwork.step` runs torch modules per step: autograd bookkeeping, a concatenation per
DSC skip and fresh tensors every call cost far more than the arithmetic of a few hundred
neurons. :class:`DenseStepper` copies the weights out once into NumPy and advances the whole
network with one compiled call per step and no allocation.

Layout. Every node (the network input, then each layer's output, block after block; a block's
input is the previous block's last output) is a slice of one flat buffer, followed by a slot
that holds 1. What a layer reads, its chain input, its ASC and DSC sources, its own previous
output and a 1, is then one contiguous slice of that buffer, and the layer is one product,
``mem = beta * mem + W s``, with W assembled from column blocks:

- chain input and DSC sources: the column blocks of the synaptic weight, so no concatenation
  per step;
- ASC sources: the chain input's block (times the bias-free projection when widths differ),
  because ``W (x + P s) = W x + (W P) s``;
- the layer's own previous output: the recurrent weight, minus ``threshold * I`` in SNN mode,
  because the reset by subtraction at step t is exactly the spike emitted at step t - 1
  (both are ``H(mem[t-1] - threshold)``);
- the 1 after the last node read: the bias;
- nodes inside the slice that the layer does not read: zeros.

The product is event-driven, as on neuromorphic hardware: only the non-zero entries of ``s``
are read, each adding its row of ``W^T`` to the layer's membranes (an accumulate when the entry
is a spike). About 5% of 4 ms input bins and a few percent of hidden neurons are non-zero, so a
step costs a few thousand additions instead of the dense product's ~85,000 multiply-adds for
the default decoder; numba runs all layers in one call (:func:`_advance`).

Precision. The assembled weights are computed in float64 from the float32 parameters, then
stepped in float32 (torch's precision, half the memory traffic) or float64. Neither reproduces
torch's float32 sums bit for bit (the summation order differs), so a membrane within a rounding
error of the threshold could in principle spike differently; in float32 the error is of the
order of torch's own.
"""

from __future__ import annotations

import copy

import numba
import numpy as np
import torch

from snn_core.network import SkipBlock, SkipLayer, SkipNetwork

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# columns of the layer table (one row per layer)
W_START, READ_START, READ_SIZE, WRITE_START, WIDTH, STATE_START = range(6)


def cpu_float64(tensor: torch.Tensor) -> np.ndarray:
    """A float64 NumPy copy on the CPU of a parameter, whatever device the network lives on."""
    return tensor.detach().cpu().numpy().astype(np.float64)


@numba.njit(cache=True)
def _advance(buffer, weights, layers, betas, thresholds, states):  # pragma: no cover - compiled
    """One step of every layer, in order: ``mem = beta * mem + W s`` over the non-zero entries
    of ``s``, then the spikes (``threshold`` finite) or the ReLU (``threshold`` NaN) into the
    buffer, where the next layers read them."""
    for k in range(layers.shape[0]):
        # unsigned indices: numba then needs no negative-index wraparound, and the loops vectorise
        w0, r0, size = np.uint64(layers[k, 0]), np.uint64(layers[k, 1]), np.uint64(layers[k, 2])
        out, width, s0 = np.uint64(layers[k, 3]), np.uint64(layers[k, 4]), np.uint64(layers[k, 5])
        beta, threshold = betas[k], thresholds[k]
        for j in range(width):
            states[s0 + j] *= beta
        for r in range(size):
            value = buffer[r0 + r]
            if value != 0:
                row = w0 + r * width
                for j in range(width):
                    states[s0 + j] += weights[row + j] * value
        for j in range(width):
            m = states[s0 + j]
            if np.isnan(threshold):
                buffer[out + j] = max(m, 0)
            else:
                buffer[out + j] = 1 if m > threshold else 0


class DenseStepper:
    """Step a fitted dense :class:`SkipNetwork` (SNN or ANN mode, recurrent or not) in NumPy.

    A step is one compiled call that, layer by layer, computes ``mem = beta * mem + W s`` in
    place over the non-zero entries of ``s`` (the bias, the skips, the recurrence and the reset
    all being columns of W) and writes the spikes (or ReLU) into the buffer. The weights are
    copied when the stepper is built: build a new one after training further.

    Args:
        network: a dense skip network; its spec, mode and current weights are used.
        dtype: np.float32 (torch's precision, and half the memory traffic of float64) or
            np.float64; see the module docstring.

    Raises:
        ValueError: for a convolutional network.
    """

    def __init__(self, network: SkipNetwork, dtype: type = np.float32) -> None:
        spec = network.spec
        if spec.kind != "dense":
            raise ValueError(f"DenseStepper steps dense networks, got kind {spec.kind!r}")
        self._dtype = np.dtype(dtype)
        if self._dtype not in DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {self._dtype}")
        # Global node list: node 0 is the input, then one node per layer, in order. Each node is
        # followed by a slot holding 1, so that every read slice ends in a 1 and the bias is a
        # weight column.
        sizes = [spec.in_size] + [w for block in spec.widths for w in block]
        self._starts = np.concatenate([[0], np.cumsum(np.add(sizes, 1))]).astype(int)
        plans = []
        base = 0  # global index of the current block's input node
        for block in network.blocks:
            for k, layer in enumerate(block.layers):
                plans.append(self._plan(layer, block, k, base, network.mode, spec.threshold))
            base += len(block.layers)
        # one flat table for the compiled step: W^T row by row (one row per entry read), then
        # per layer where its weights, reads, output and membranes are
        weights_t = [weight.T for weight, *_ in plans]
        w_starts = np.cumsum([0, *(w.size for w in weights_t)])
        s_starts = np.cumsum([0, *(w.shape[1] for w in weights_t)])
        self._weights = np.concatenate([w.ravel() for w in weights_t]).astype(dtype)
        self._table = np.array(
            [
                [w_starts[k], lo, hi - lo, write, weights_t[k].shape[1], s_starts[k]]
                for k, (_, lo, hi, write, _, _) in enumerate(plans)
            ],
            dtype=np.int64,
        )
        self._betas = np.array([beta for *_, beta, _ in plans], dtype=dtype)
        self._thresholds = np.array([np.nan if t is None else t for *_, t in plans], dtype=dtype)
        self._n_states = int(s_starts[-1])
        self._allocate_state()
        # compile (or load from numba's cache) now, not during the first streamed bin
        self.step(np.zeros(spec.in_size, dtype))
        self.reset()

    def _allocate_state(self) -> None:
        """The buffer and the membranes, all that a step writes, and the views into the buffer."""
        self._buffer = np.zeros(self._starts[-1], dtype=self._dtype)
        self._states = np.zeros(self._n_states, dtype=self._dtype)
        self._input = self._buffer[: self._starts[1] - 1]
        last = len(self._starts) - 2
        self._output = self._buffer[self._starts[last] : self._starts[last + 1] - 1]
        self.output_and_one = self._buffer[self._starts[last] :]
        """(out_size + 1,) view: the last layer's output then a constant 1, for readouts that
        fold their bias into a weight column the same way."""

    def fork(self) -> DenseStepper:
        """A stepper that shares these weights (never written) and has a state of its own, reset."""
        twin = copy.copy(self)
        twin._allocate_state()
        twin.reset()
        return twin

    @property
    def out_size(self) -> int:
        return len(self._output)

    def _plan(
        self, layer: SkipLayer, block: SkipBlock, k: int, base: int, mode: str, threshold: float
    ) -> tuple[np.ndarray, int, int, int, float, float | None]:
        """(W, read start, read end, write start, beta, threshold or None for ReLU) of one layer."""
        asc, dsc = block.asc_sources[k], block.dsc_sources[k]
        own = base + k + 1  # the node this layer writes
        first = base + min([k, *asc, *dsc])
        # an SNN layer reads its own previous spikes (the reset), a recurrent one its output
        last = own if (mode == "snn" or layer.recurrence is not None) else own - 1
        lo, hi = self._starts[first], self._starts[last + 1]

        def columns(node: int) -> slice:
            return slice(self._starts[node] - lo, self._starts[node + 1] - 1 - lo)

        def size(node: int) -> int:
            return self._starts[node + 1] - 1 - self._starts[node]

        synapse = cpu_float64(layer.synapse.weight)
        width = synapse.shape[0]
        weight = np.zeros((width, hi - lo))
        chain = synapse[:, : size(base + k)]
        weight[:, columns(base + k)] += chain
        for i in asc:
            key = f"{i}_{k}"
            weight[:, columns(base + i)] += (
                chain @ cpu_float64(block.projections[key].weight) if key in block.projections else chain
            )
        start = size(base + k)
        for i in dsc:
            weight[:, columns(base + i)] += synapse[:, start : start + size(base + i)]
            start += size(base + i)
        if layer.recurrence is not None:
            weight[:, columns(own)] += cpu_float64(layer.recurrence.weight)
        weight[:, -1] = cpu_float64(layer.synapse.bias)  # the slot after the last node read holds 1
        beta, spike_threshold = 0.0, None
        if mode == "snn":
            weight[:, columns(own)] -= threshold * np.eye(width)
            # one decay per layer: SkipNetwork's LIF has a scalar beta (learned or not)
            beta, spike_threshold = float(layer.neuron.beta.clamp(0, 1)), threshold
        return weight, lo, hi, self._starts[own], beta, spike_threshold

    def reset(self) -> None:
        """Back to the initial state: zero membranes and zero previous outputs."""
        self._buffer[:] = 0.0
        self._buffer[self._starts[1:] - 1] = 1.0
        self._states[:] = 0.0

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one step on input ``x`` (in_size,).

        Returns:
            The last layer's output (out_size,): a view that the next step overwrites.
        """
        np.copyto(self._input, x)
        _advance(self._buffer, self._weights, self._table, self._betas, self._thresholds, self._states)
        return self._output
