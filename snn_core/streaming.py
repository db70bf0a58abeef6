"""Real-time inference of a dense :class:`~snn_core.network.SkipNetwork`, one step at a time.

:meth:`SkipNetwork.step` runs torch modules per step: autograd bookkeeping, a concatenation per
DSC skip and fresh tensors every call cost far more than the arithmetic of a few hundred
neurons. :class:`DenseStepper` copies the weights out once into NumPy and advances the network
with two calls per layer and no allocation.

Layout. Every node (the network input, then each layer's output, block after block; a block's
input is the previous block's last output) is a slice of one flat buffer, followed by a slot
that holds 1. What a layer reads, its chain input, its ASC and DSC sources, its own previous
output and a 1, is then one contiguous slice of that buffer, and the layer is one BLAS ``gemv``,
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

Precision. The assembled weights are computed in float64 from the float32 parameters, then
stepped in float32 (torch's precision, half the memory traffic) or float64. Neither reproduces
torch's float32 sums bit for bit (a BLAS kernel's summation order is its own), so a membrane
within a rounding error of the threshold could in principle spike differently; in float32 the
error is of the order of torch's own.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.linalg.blas import dgemv, sgemv

from snn_core.network import SkipBlock, SkipLayer, SkipNetwork

# Looked up per step rather than stored on a stepper: BLAS wrappers cannot be pickled, and a
# decoder holding a stepper must stay picklable (deepcopy, multiprocessing).
GEMV = {np.dtype(np.float32): sgemv, np.dtype(np.float64): dgemv}


def cpu_float64(tensor: torch.Tensor) -> np.ndarray:
    """A float64 NumPy copy on the CPU of a parameter, whatever device the network lives on."""
    return tensor.detach().cpu().numpy().astype(np.float64)


class _LayerPlan:
    """One layer: its assembled weights and the buffer views it reads and writes."""

    def __init__(self, weight: np.ndarray, reads: np.ndarray, writes: np.ndarray, beta: float, threshold: float | None) -> None:
        # gemv computes y = A^T x + beta y on the Fortran-ordered transpose: no copy of the weights
        self.weight_t = weight.T
        self.reads = reads
        self.writes = writes
        self.beta = beta  # 0 in ANN mode: y is then the synaptic current
        self.threshold = threshold  # None in ANN mode (ReLU)
        self.state = np.zeros(weight.shape[0], dtype=weight.dtype)  # membrane, or ANN current


class DenseStepper:
    """Step a fitted dense :class:`SkipNetwork` (SNN or ANN mode, recurrent or not) in NumPy.

    A layer costs two calls per step: one BLAS ``gemv`` that computes ``mem = beta * mem +
    W s`` in place (the bias, the skips, the recurrence and the reset all being columns of W),
    and one comparison (or ReLU) that writes the output into the buffer. The weights are copied
    when the stepper is built: build a new one after training further.

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
        if self._dtype not in GEMV:
            raise ValueError(f"dtype must be float32 or float64, got {self._dtype}")
        # Global node list: node 0 is the input, then one node per layer, in order. Each node is
        # followed by a slot holding 1, so that every read slice ends in a 1 and the bias is a
        # weight column.
        sizes = [spec.in_size] + [w for block in spec.widths for w in block]
        self._starts = np.concatenate([[0], np.cumsum(np.add(sizes, 1))]).astype(int)
        self._buffer = np.zeros(self._starts[-1], dtype=dtype)
        self._input = self._buffer[: spec.in_size]
        self._layers: list[_LayerPlan] = []
        base = 0  # global index of the current block's input node
        for block in network.blocks:
            for k, layer in enumerate(block.layers):
                self._layers.append(self._plan(layer, block, k, base, network.mode, spec.threshold))
            base += len(block.layers)
        last = len(sizes) - 1
        self._output = self._buffer[self._starts[last] : self._starts[last + 1] - 1]
        self.output_and_one = self._buffer[self._starts[last] :]
        """(out_size + 1,) view: the last layer's output then a constant 1, for readouts that
        fold their bias into a weight column the same way."""
        self.reset()

    @property
    def out_size(self) -> int:
        return len(self._output)

    def _plan(self, layer: SkipLayer, block: SkipBlock, k: int, base: int, mode: str, threshold: float) -> _LayerPlan:
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
            weight[:, columns(base + i)] += chain @ cpu_float64(block.projections[key].weight) if key in block.projections else chain
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
        writes = self._buffer[self._starts[own] : self._starts[own + 1] - 1]
        return _LayerPlan(weight.astype(self._dtype), self._buffer[lo:hi], writes, beta, spike_threshold)

    def reset(self) -> None:
        """Back to the initial state: zero membranes and zero previous outputs."""
        self._buffer[:] = 0.0
        self._buffer[self._starts[1:] - 1] = 1.0
        for plan in self._layers:
            plan.state[:] = 0.0

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one step on input ``x`` (in_size,).

        Returns:
            The last layer's output (out_size,): a view that the next step overwrites.
        """
        np.copyto(self._input, x)
        gemv = GEMV[self._dtype]
        for plan in self._layers:
            # positional arguments: keywords cost f2py's wrapper about 2 us per call
            gemv(1.0, plan.weight_t, plan.reads, plan.beta, plan.state, 0, 1, 0, 1, 1, 1)
            if plan.threshold is None:
                np.maximum(plan.state, 0.0, out=plan.writes)
            else:
                np.greater(plan.state, plan.threshold, out=plan.writes)
        return self._output
