"""Networks built from a skip topology: dense or convolutional blocks, SNN or ANN twin.

One :class:`NetworkSpec` defines the wiring; :func:`build_network` turns it into an SNN (LIF
neurons) or its ANN twin (ReLU) with identical synaptic layers, so the ANN-to-SNN accuracy drop
that Benmeziane et al. (2023) optimise is measured on exactly the same topology.

All modules run time-major sequences ``(T, batch, ...)``; :meth:`SkipNetwork.step` advances one
step with explicit state for streaming. Skip inputs are combined as the paper describes: ASC sums
into the layer's regular input (a bias-free 1 x 1 projection is inserted when widths differ,
because an element-wise sum needs equal shapes), then DSC concatenates along features/channels,
widening the receiving layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from snn_core.neurons import LIF
from snn_core.topology import ASC, DSC, SkipTopology

MODES = ("snn", "ann")
KINDS = ("dense", "conv")


class ActivityProbe(nn.Identity):
    """Marks a layer's output (spikes, or ReLU activations in the twin) for the metrics hooks."""


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that defines a network's wiring; stored in checkpoints to rebuild the model.

    Args:
        kind: "dense" (features) or "conv" (2-D feature maps).
        in_size: input features (dense) or channels (conv).
        widths: per block, the width (features or channels) of each layer; block sizes must match
            the topology's.
        topology: the skip topology in its text form (see :mod:`snn_core.topology`).
        recurrent: add recurrent weights to every dense layer (recurrent SNNs lead the NeuroBench
            primate-reaching results, docs/data.md).
        recurrent_grad: factor on the gradient that flows back through the recurrent input to the
            previous step's spikes; the forward pass is the same whatever its value. 0 (the
            default) stops it there, as e-prop's gradient does (Bellec et al. 2020). The membrane's
            own decay already passes the gradient back with a factor of ``beta`` per step (0.95 in
            the BMI decoders), so a recurrent term of spectral radius above ``1 - beta`` can lift
            the step's Jacobian past 1 and the gradient then grows exponentially along a chunk.
            Bellec et al. (2018) damp it with 0.3; 1 is full BPTT.
        beta, threshold, learn_beta: LIF parameters (ignored by the ANN twin).
        kernel_size, batchnorm, pool: conv only; ``pool`` is the max-pool factor after each block
            (max keeps spikes binary, unlike average pooling).
    """

    kind: str
    in_size: int
    widths: tuple[tuple[int, ...], ...]
    topology: str
    recurrent: bool = False
    recurrent_grad: float = 0.0
    beta: float = 0.9
    threshold: float = 1.0
    learn_beta: bool = False
    kernel_size: int = 3
    batchnorm: bool = True
    pool: int = 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "widths", tuple(tuple(int(w) for w in b) for b in self.widths))
        sizes = SkipTopology.from_string(self.topology).layers_per_block
        if sizes != tuple(len(b) for b in self.widths):
            raise ValueError(
                f"topology {self.topology!r} has blocks of {sizes} layers, widths give {tuple(len(b) for b in self.widths)}"
            )
        if self.recurrent and self.kind != "dense":
            raise ValueError("recurrent weights are only defined for dense layers")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetworkSpec:
        return cls(**data)


class SkipLayer(nn.Module):
    """One synaptic layer (linear or conv, optional batch norm and recurrence) and its neurons."""

    def __init__(self, spec: NetworkSpec, in_size: int, width: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        if spec.kind == "dense":
            self.synapse = nn.Linear(in_size, width)
            self.norm = None
        else:
            self.synapse = nn.Conv2d(in_size, width, spec.kernel_size, padding=spec.kernel_size // 2, bias=not spec.batchnorm)
            self.norm = nn.BatchNorm2d(width) if spec.batchnorm else None
        self.recurrence = nn.Linear(width, width, bias=False) if spec.recurrent else None
        self.recurrent_grad = float(spec.recurrent_grad)
        self.neuron = LIF(spec.beta, spec.threshold, learn_beta=spec.learn_beta) if mode == "snn" else None
        self.probe = ActivityProbe()

    def current(self, x: torch.Tensor) -> torch.Tensor:
        """Feed-forward synaptic current for a (T, batch, ...) input, all steps at once."""
        flat = self.synapse(x.flatten(0, 1))
        if self.norm is not None:
            flat = self.norm(flat)  # statistics over time and batch together, as tdBN does
        return flat.unflatten(0, x.shape[:2])

    def _activate(self, current: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.neuron is None:
            return torch.relu(current), None
        return self.neuron.step(current, state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.current(x)
        if self.recurrence is None:
            # the whole sequence at once: the LIF's fused kernels (snn_core.kernels)
            out = torch.relu(current) if self.neuron is None else self.neuron(current)
        else:
            # step by step: the input at step t needs this layer's output at t - 1
            out_t, state, outs = torch.zeros_like(current[0]), None, []
            for current_t in current:
                out_t, state = self._activate(current_t + self.recurrence(self._fed_back(out_t)), state)
                outs.append(out_t)
            out = torch.stack(outs)
        return self.probe(out)

    def _fed_back(self, out: torch.Tensor) -> torch.Tensor:
        """``out`` as the recurrent input reads it: the same values, the gradient scaled."""
        if self.recurrent_grad == 1.0:
            return out
        detached = out.detach()
        return detached if self.recurrent_grad == 0.0 else detached + self.recurrent_grad * (out - detached)

    def step(self, x: torch.Tensor, state: tuple | None) -> tuple[torch.Tensor, tuple]:
        out_prev, mem = state if state is not None else (None, None)
        current = self.current(x.unsqueeze(0))[0]
        if self.recurrence is not None and out_prev is not None:
            current = current + self.recurrence(self._fed_back(out_prev))
        out, mem = self._activate(current, mem)
        return out, (out, mem)


class SkipBlock(nn.Module):
    """A block of layers wired by one adjacency matrix (see :mod:`snn_core.topology`)."""

    def __init__(self, spec: NetworkSpec, index: int, in_size: int, mode: str) -> None:
        super().__init__()
        topology = SkipTopology.from_string(spec.topology)
        widths = spec.widths[index]
        node_sizes = [in_size, *widths[:-1]]  # node k = what layer k reads by the chain
        self.asc_sources: list[list[int]] = []
        self.dsc_sources: list[list[int]] = []
        self.layers = nn.ModuleList()
        self.projections = nn.ModuleDict()
        for k, width in enumerate(widths):
            sources = topology.sources(index, k)
            asc = [i for i, t in sources if t == ASC]
            dsc = [i for i, t in sources if t == DSC]
            for i in asc:
                if node_sizes[i] != node_sizes[k]:
                    self.projections[f"{i}_{k}"] = _projection(spec.kind, node_sizes[i], node_sizes[k])
            self.asc_sources.append(asc)
            self.dsc_sources.append(dsc)
            self.layers.append(SkipLayer(spec, node_sizes[k] + sum(node_sizes[i] for i in dsc), width, mode))
        self.out_size = widths[-1]

    def _layer_input(self, k: int, nodes: list[torch.Tensor]) -> torch.Tensor:
        x = nodes[k]
        for i in self.asc_sources[k]:
            key = f"{i}_{k}"
            x = x + (_apply_flat(self.projections[key], nodes[i]) if key in self.projections else nodes[i])
        if self.dsc_sources[k]:
            x = torch.cat([x, *(nodes[i] for i in self.dsc_sources[k])], dim=2)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for k, layer in enumerate(self.layers):
            nodes.append(layer(self._layer_input(k, nodes)))
        return nodes[-1]

    def step(self, x: torch.Tensor, state: list | None) -> tuple[torch.Tensor, list]:
        state = state if state is not None else [None] * len(self.layers)
        nodes, new_state = [x.unsqueeze(0)], []
        for k, layer in enumerate(self.layers):
            out, layer_state = layer.step(self._layer_input(k, nodes)[0], state[k])
            nodes.append(out.unsqueeze(0))
            new_state.append(layer_state)
        return nodes[-1][0], new_state


def _projection(kind: str, in_size: int, out_size: int) -> nn.Module:
    if kind == "dense":
        return nn.Linear(in_size, out_size, bias=False)
    return nn.Conv2d(in_size, out_size, 1, bias=False)


def _apply_flat(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return module(x.flatten(0, 1)).unflatten(0, x.shape[:2])


class SkipNetwork(nn.Module):
    """A sequence of skip blocks (with max pooling between conv blocks), in SNN or ANN mode."""

    def __init__(self, spec: NetworkSpec, mode: str = "snn") -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.spec, self.mode = spec, mode
        self.blocks = nn.ModuleList()
        size = spec.in_size
        for b in range(len(spec.widths)):
            self.blocks.append(SkipBlock(spec, b, size, mode))
            size = self.blocks[-1].out_size
        self.out_size = size
        self.pool = nn.MaxPool2d(spec.pool) if spec.kind == "conv" and spec.pool > 1 else None

    @property
    def topology(self) -> SkipTopology:
        return SkipTopology.from_string(self.spec.topology)

    def twin(self) -> SkipNetwork:
        """The same definition in the other mode (fresh weights): the ANN twin of an SNN or back."""
        return SkipNetwork(self.spec, "ann" if self.mode == "snn" else "snn")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(T, batch, in_size[, H, W]) -> (T, batch, out_size[, H', W'])."""
        for block in self.blocks:
            x = block(x)
            if self.pool is not None:
                x = _apply_flat(self.pool, x)
        return x

    def step(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        """One step: (batch, in_size[, H, W]) and the previous state -> output and new state."""
        state = state if state is not None else [None] * len(self.blocks)
        new_state = []
        for block, block_state in zip(self.blocks, state):
            x, s = block.step(x, block_state)
            if self.pool is not None:
                x = self.pool(x)
            new_state.append(s)
        return x, new_state


def build_network(spec: NetworkSpec, mode: str = "snn") -> SkipNetwork:
    """Build the SNN (``mode="snn"``) or its ANN twin (``mode="ann"``) from one definition."""
    return SkipNetwork(spec, mode)
