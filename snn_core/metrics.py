"""Cost metrics with NeuroBench's definitions: footprint, sparsity, synaptic operations, energy.

Synaptic operations follow NeuroBench (``neurobench.metrics.utils.layers.macs``): for every
linear or convolutional layer, the layer is applied with its weights binarised (non-zero -> 1) to
its inputs binarised, and the outputs summed. *Dense* uses all-ones weights and inputs (hardware
that exploits no sparsity); *effective* counts only non-zero inputs and non-zero weights. A
layer whose inputs are all 0 or 1 (spikes) performs accumulates (ACs); any other input makes its
operations multiply-accumulates (MACs). Biases are not synaptic operations. Counts are per model
execution, i.e. per time step per sample.

Energy uses 45 nm figures (Horowitz 2014, docs/metrics.md): 4.6 pJ per MAC, 0.9 pJ per AC. It ignores
memory traffic, which often dominates on real hardware; report it with that caveat.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from snn_core.network import ActivityProbe

ENERGY_PJ_PER_MAC = 4.6
ENERGY_PJ_PER_AC = 0.9
SYNAPTIC_LAYERS = (nn.Linear, nn.Conv2d)


def footprint_bytes(model: nn.Module) -> int:
    """Bytes of all parameters and buffers (NeuroBench's footprint)."""
    tensors = [*model.parameters(), *model.buffers()]
    return int(sum(t.numel() * t.element_size() for t in tensors))


def connection_sparsity(model: nn.Module) -> float:
    """Share of zero weights over all synaptic layers (biases and norms excluded)."""
    weights = [m.weight for m in model.modules() if isinstance(m, SYNAPTIC_LAYERS)]
    weights += [p for m in model.modules() if isinstance(m, nn.RNNBase) for n, p in m.named_parameters() if n.startswith("weight")]
    total = sum(w.numel() for w in weights)
    return float(sum(int((w == 0).sum()) for w in weights) / total) if total else 0.0


def is_binary(x: torch.Tensor) -> bool:
    """True when every entry is 0 or 1: such inputs cost accumulates, not multiplies."""
    return bool(((x == 0) | (x == 1)).all())


def layer_operations(layer: nn.Module, inputs: torch.Tensor, dense: bool = False) -> int:
    """Synaptic operations of one linear or conv layer on a batch of inputs.

    Args:
        layer: an ``nn.Linear`` or ``nn.Conv2d``.
        inputs: what the layer received, (batch, in_features) or (batch, C, H, W).
        dense: count every weight and input as non-zero (NeuroBench's Dense).

    Returns:
        The summed operations over the batch.
    """
    with torch.no_grad():
        x = torch.ones_like(inputs) if dense else (inputs != 0).to(torch.float32)
        w = torch.ones_like(layer.weight) if dense else (layer.weight != 0).to(torch.float32)
        x = x.to(torch.float32)
        if isinstance(layer, nn.Linear):
            return int(round(float((x @ w.T).sum())))
        if isinstance(layer, nn.Conv2d):
            out = F.conv2d(x, w, None, layer.stride, layer.padding, layer.dilation, layer.groups)
            return int(round(float(out.sum())))
    raise TypeError(f"no synaptic-operation rule for {type(layer).__name__}")


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

    def to_dict(self) -> dict[str, float]:
        return {"dense": self.dense, "effective_macs": self.effective_macs, "effective_acs": self.effective_acs}


class ActivityRecorder:
    """Hooks a model to accumulate synaptic operations and neuron activity while it runs.

    Use as a context manager around forward passes; afterwards call :meth:`synops`,
    :meth:`firing_rates` and :meth:`activation_sparsity` with the number of steps executed
    (time steps times samples) to get per-step figures, as NeuroBench averages per execution.

    Neuron outputs are read at :class:`~snn_core.network.ActivityProbe` modules (the layers of
    a :class:`~snn_core.network.SkipNetwork`) and at ``nn.ReLU`` modules (baseline ANNs).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._handles: list = []
        self._names = {m: n for n, m in model.named_modules()}
        self.reset()

    def reset(self) -> None:
        self.dense = 0
        self.macs = 0
        self.acs = 0
        self._active: dict[str, int] = defaultdict(int)
        self._total: dict[str, int] = defaultdict(int)

    def _on_synapse(self, module: nn.Module, args: tuple, _output: torch.Tensor) -> None:
        x = args[0]
        self.dense += layer_operations(module, x, dense=True)
        effective = layer_operations(module, x)
        if is_binary(x):
            self.acs += effective
        else:
            self.macs += effective

    def _on_activity(self, module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
        name = self._names.get(module, "")
        name = name.removesuffix(".probe")
        self._active[name] += int((output != 0).sum())
        self._total[name] += output.numel()

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

    def synops(self, steps: int) -> SynapticOperations:
        """Operations per step, ``steps`` being time steps times samples executed."""
        return SynapticOperations(self.dense / steps, self.macs / steps, self.acs / steps)

    def firing_rates(self) -> dict[str, float]:
        """Per layer, the share of non-zero outputs: spikes per neuron per step for an SNN."""
        return {name: self._active[name] / self._total[name] for name in self._total}

    def activation_sparsity(self) -> float:
        """Share of zero neuron outputs over all layers, steps and samples (NeuroBench)."""
        total = sum(self._total.values())
        return 1.0 - sum(self._active.values()) / total if total else 0.0
