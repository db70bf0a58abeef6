"""Cost metrics with NeuroBench's definitions: footprint, sparsity, synaptic operations, energy.

Synaptic operations follow NeuroBench (``neurobench.metrics.utils.layers.macs``): for every
linear or convolutional layer, the layer is applied with its weights binarised (non-zero -> 1) to
its inputs binarised, and the outputs summed. *Dense* uses all-ones weights and inputs (hardware
that exploits no sparsity); *effective* counts only non-zero inputs and non-zero weights. Whether
effective operations are accumulates (ACs) or multiply-accumulates (MACs) is decided per model
execution, as NeuroBench decides it per call of a layer: a time step of a sample whose inputs to
the layer are all -1, 0 or 1 (spikes; NeuroBench's ``binary_inputs`` test) costs ACs, any other
step of that layer MACs. Networks here run whole sequences in one call, so the decision is taken
on each row (one sample at one step) of what the layer read. Biases are not synaptic operations.
Counts are per model execution, i.e. per time step per sample.

Energy uses 45 nm figures (Horowitz 2014, docs/metrics.md): 4.6 pJ per MAC, 0.9 pJ per AC. It ignores
memory traffic, which often dominates on real hardware; reports state :data:`ENERGY_CAVEAT`.

Both frontends count with one vocabulary: an :class:`OperationCounter` tallies operations and
activations (numpy products computed outside torch layers go to it directly), an
:class:`ActivityRecorder` is a counter fed by hooks on a torch model, and either sums up as a
:class:`ModelCost`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snn_core.network import ActivityProbe

ENERGY_PJ_PER_MAC = 4.6
ENERGY_PJ_PER_AC = 0.9
SYNAPTIC_LAYERS = (nn.Linear, nn.Conv2d)
ENERGY_CAVEAT = (
    f"Energy per step = effective MACs x {ENERGY_PJ_PER_MAC} pJ + effective ACs x {ENERGY_PJ_PER_AC} pJ "
    "(45 nm, Horowitz 2014); it ignores memory traffic, which often dominates on real hardware."
)


def footprint_bytes(model: nn.Module) -> int:
    """Bytes of all parameters and buffers (NeuroBench's footprint)."""
    tensors = [*model.parameters(), *model.buffers()]
    return int(sum(t.numel() * t.element_size() for t in tensors))


def connection_sparsity(model: nn.Module) -> float:
    """Share of zero weights over all synaptic layers (biases and norms excluded)."""
    weights = [m.weight for m in model.modules() if isinstance(m, SYNAPTIC_LAYERS)]
    weights += [
        p for m in model.modules() if isinstance(m, nn.RNNBase) for n, p in m.named_parameters() if n.startswith("weight")
    ]
    total = sum(w.numel() for w in weights)
    return float(sum(int((w == 0).sum()) for w in weights) / total) if total else 0.0


def step_rows(layer: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """What ``layer`` read, one row per model execution (a sample at a time step).

    A linear layer's leading dimensions (time, batch) are flattened; a conv layer reads
    (rows, C, H, W), or one unbatched (C, H, W) map.
    """
    if isinstance(layer, nn.Linear):
        return inputs.reshape(-1, inputs.shape[-1])
    return inputs if inputs.dim() == 4 else inputs.unsqueeze(0)


def spike_rows(rows: torch.Tensor) -> torch.Tensor:
    """Per row, True when every entry is -1, 0 or 1: NeuroBench's test for spikes, whose
    operations are accumulates, not multiplies."""
    return ((rows == 0) | (rows == 1) | (rows == -1)).flatten(1).all(1)


def count_rows(rows: torch.Tensor) -> torch.Tensor:
    """Per row, True when every entry is a non-negative integer: a sum of spike maps (ASC), for one."""
    return ((rows >= 0) & (rows == rows.round())).flatten(1).all(1)


def row_operations(layer: nn.Module, rows: torch.Tensor, dense: bool = False, by_count: bool = False) -> torch.Tensor:
    """Synaptic operations of one linear or conv layer for each row of its input.

    Args:
        layer: an ``nn.Linear`` or ``nn.Conv2d``.
        rows: what the layer received, one row per execution (:func:`step_rows`).
        dense: count every weight and input as non-zero (NeuroBench's Dense).
        by_count: count an input of k (a spike count) as k operations per non-zero weight, as
            event-driven hardware adds each incoming spike, instead of binarising it.

    Returns:
        The operations of each row, float64 (exact: every layer output is a small integer, and
        the sums over a row's outputs are taken in float64).
    """
    with torch.no_grad():
        if dense:
            x = torch.ones_like(rows)
        else:
            x = rows if by_count else (rows != 0)
        w = torch.ones_like(layer.weight) if dense else (layer.weight != 0).to(torch.float32)
        x = x.to(torch.float32)
        if isinstance(layer, nn.Linear):
            out = x @ w.T
        elif isinstance(layer, nn.Conv2d):
            out = F.conv2d(x, w, None, layer.stride, layer.padding, layer.dilation, layer.groups)
        else:
            raise TypeError(f"no synaptic-operation rule for {type(layer).__name__}")
        return out.flatten(1).sum(1, dtype=torch.float64)


def layer_operations(layer: nn.Module, inputs: torch.Tensor, dense: bool = False, by_count: bool = False) -> int:
    """Synaptic operations of one linear or conv layer on a batch of inputs, summed over the batch
    (arguments as :func:`row_operations`, ``inputs`` as the layer received them)."""
    return int(round(float(row_operations(layer, step_rows(layer, inputs), dense, by_count).sum())))


@dataclass(frozen=True)
class SynapticOperations:
    """Per-step synaptic operations: dense, effective MACs and effective ACs."""

    dense: float
    effective_macs: float
    effective_acs: float

    @property
    def energy_pj(self) -> float:
        """Energy per step from effective operations (45 nm; memory traffic ignored)."""
        return self.effective_macs * ENERGY_PJ_PER_MAC + self.effective_acs * ENERGY_PJ_PER_AC

    def __add__(self, other: SynapticOperations) -> SynapticOperations:
        return SynapticOperations(
            self.dense + other.dense, self.effective_macs + other.effective_macs, self.effective_acs + other.effective_acs
        )

    def to_dict(self) -> dict[str, float]:
        return {"dense": self.dense, "effective_macs": self.effective_macs, "effective_acs": self.effective_acs}


@dataclass(frozen=True)
class ModelCost:
    """NeuroBench's complexity metrics of one model, per step (one execution) where a rate.

    Args:
        footprint_bytes: bytes of what the model needs to run (a network's parameters and buffers,
            a NumPy model's arrays).
        connection_sparsity: share of zero weights.
        activation_sparsity: share of zero neuron outputs (or the intermediate values a model
            without neurons multiplies by weights) over all units and steps.
        synops: synaptic operations per step.
    """

    footprint_bytes: int
    connection_sparsity: float
    activation_sparsity: float
    synops: SynapticOperations

    @property
    def energy_pj_per_step(self) -> float:
        """Energy of the effective operations per step (45 nm; memory traffic ignored)."""
        return self.synops.energy_pj

    def with_operations(self, extra: SynapticOperations) -> ModelCost:
        """This cost with ``extra`` per-step operations added (layers the recorder cannot hook)."""
        return replace(self, synops=self.synops + extra)

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers for JSON reports."""
        return {
            "footprint_bytes": int(self.footprint_bytes),
            "connection_sparsity": float(self.connection_sparsity),
            "activation_sparsity": float(self.activation_sparsity),
            "synops": {k: float(v) for k, v in self.synops.to_dict().items()},
            "energy_pj_per_step": float(self.energy_pj_per_step),
        }


class OperationCounter:
    """Tallies of synaptic operations and activations under NeuroBench's rules.

    Feed it once per batch of steps, then read per-step figures. A step whose inputs are all
    -1, 0 or 1 costs accumulates, any other step MACs. Products computed outside torch layers
    (numpy decoders, GRU gates) are counted with :meth:`matvec` and :meth:`elementwise`.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.dense = 0
        self.macs = 0
        self.acs = 0
        self.zeros = 0
        self.values = 0

    def add(self, dense: int, macs: int, acs: int) -> None:
        """One batch's operations: ``dense`` in all, of which ``macs`` and ``acs`` effective."""
        self.dense += dense
        self.macs += macs
        self.acs += acs

    def matvec(self, inputs: np.ndarray, weight: np.ndarray) -> None:
        """``weight @ x`` for every row ``x`` of ``inputs`` (steps, n_in); ``weight`` is (n_out, n_in).

        Every non-zero input meets the non-zero weights of its column, so the effective count
        is the dot product of the per-column counts: no (steps, n_out) product is formed. Rows
        (steps) of -1, 0 and 1 only cost ACs, the others MACs.
        """
        inputs, weight = np.asarray(inputs), np.asarray(weight)
        spiking = np.isin(inputs, (-1, 0, 1)).all(axis=1)
        per_input = np.count_nonzero(weight, axis=0)
        macs = int(np.count_nonzero(inputs[~spiking], axis=0) @ per_input)
        acs = int(np.count_nonzero(inputs[spiking], axis=0) @ per_input)
        self.add(inputs.shape[0] * weight.size, macs, acs)

    def elementwise(self, a: np.ndarray, b: np.ndarray) -> None:
        """Element-wise products ``a * b`` (gates): multiplications, skipped where either is 0."""
        self.add(a.size, int(np.count_nonzero((a != 0) & (b != 0))), 0)

    def activations(self, values: np.ndarray) -> None:
        """Intermediate values that count towards activation sparsity."""
        self.zeros += int(values.size - np.count_nonzero(values))
        self.values += int(values.size)

    def synops(self, steps: int) -> SynapticOperations:
        """Operations per step, ``steps`` being time steps times samples executed."""
        return SynapticOperations(self.dense / steps, self.macs / steps, self.acs / steps)

    def activation_sparsity(self) -> float:
        """Share of zero values over all that were counted (NeuroBench)."""
        return self.zeros / self.values if self.values else 0.0

    def cost(self, steps: int, stored: Iterable[np.ndarray], weights: Iterable[np.ndarray]) -> ModelCost:
        """The cost of a model computed with numpy arrays, once all its steps are counted.

        Args:
            steps: steps executed.
            stored: every array the model needs to run (footprint).
            weights: the matrices it multiplies inputs by (connection sparsity).
        """
        weights = [np.asarray(w) for w in weights]
        n_weights = sum(w.size for w in weights)
        zero_weights = sum(w.size - np.count_nonzero(w) for w in weights)
        return ModelCost(
            footprint_bytes=sum(int(np.asarray(a).nbytes) for a in stored),
            connection_sparsity=zero_weights / n_weights if n_weights else 0.0,
            activation_sparsity=self.activation_sparsity(),
            synops=self.synops(steps),
        )


class ActivityRecorder(OperationCounter):
    """An :class:`OperationCounter` fed by hooks on a torch model while it runs.

    Use as a context manager around forward passes; afterwards call :meth:`synops`,
    :meth:`firing_rates`, :meth:`activation_sparsity` or :meth:`model_cost` with the number of steps
    executed (time steps times samples) to get per-step figures, as NeuroBench averages per
    execution.

    Neuron outputs are read at :class:`~snn_core.network.ActivityProbe` modules (the layers of
    a :class:`~snn_core.network.SkipNetwork`) and at ``nn.ReLU`` modules (baseline ANNs).

    Args:
        model: the model to hook.
        spike_count: also count in :attr:`by_count` an integer input of k as k accumulates, as
            event-driven hardware adds each spike of a sum of spike maps (W(a + b) = Wa + Wb),
            where NeuroBench counts every operation of a step with a non-binary input as a MAC.
    """

    def __init__(self, model: nn.Module, spike_count: bool = False) -> None:
        self.model = model
        self.by_count = OperationCounter() if spike_count else None
        self._handles: list = []
        self._names = {m: n for n, m in model.named_modules()}
        super().__init__()

    def reset(self) -> None:
        super().reset()
        if self.by_count is not None:
            self.by_count.reset()
        self._active: dict[str, int] = defaultdict(int)
        self._total: dict[str, int] = defaultdict(int)

    def _on_synapse(self, module: nn.Module, args: tuple, _output: torch.Tensor) -> None:
        rows = step_rows(module, args[0])
        dense = int(row_operations(module, rows, dense=True).sum())
        effective = row_operations(module, rows)
        spiking = spike_rows(rows)
        self.add(dense, int(effective[~spiking].sum()), int(effective[spiking].sum()))
        if self.by_count is not None:
            rows = rows.to(torch.float32)
            counted = count_rows(rows)
            by_count = row_operations(module, rows, by_count=True)
            self.by_count.add(dense, int(effective[~counted].sum()), int(by_count[counted].sum()))

    def _on_activity(self, module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
        name = self._names.get(module, "").removesuffix(".probe")
        active = int((output != 0).sum())
        self._active[name] += active
        self._total[name] += output.numel()
        self.zeros += output.numel() - active
        self.values += output.numel()

    def __enter__(self) -> ActivityRecorder:
        for module in self.model.modules():
            if isinstance(module, SYNAPTIC_LAYERS):
                self._handles.append(module.register_forward_hook(self._on_synapse))
            elif isinstance(module, (ActivityProbe, nn.ReLU)):
                self._handles.append(module.register_forward_hook(self._on_activity))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def firing_rates(self) -> dict[str, float]:
        """Per layer, the share of non-zero outputs: spikes per neuron per step for an SNN."""
        return {name: self._active[name] / self._total[name] for name in self._total}

    def model_cost(self, steps: int) -> ModelCost:
        """The hooked model's cost per step; its footprint is the model's parameters and buffers."""
        return ModelCost(
            footprint_bytes=footprint_bytes(self.model),
            connection_sparsity=connection_sparsity(self.model),
            activation_sparsity=self.activation_sparsity(),
            synops=self.synops(steps),
        )
