"""Population models: M networks of one shape, each with its own skip topology, seed and weights,
run as one batched model.

The networks of a skip block differ only in which skip edges exist, so a search space of
topologies is one model with a leading *member* dimension (Benmeziane et al. 2023 search the
topology of a fixed-width block). Every member keeps exactly its own parameters; it just shares
the kernels:

- each layer's synapse is a superset: its input slots are the layer's chain input, then every
  earlier node that some member concatenates (DSC); a member's weights are zero in the slots its
  topology does not use, and per-member masks zero those inputs, so the slots stay zero;
- addition-type skips (ASC) are summed into the chain input under per-member masks, through a
  bias-free projection where the widths differ, exactly as :class:`~snn_core.network.SkipBlock`
  combines them;
- dense synapses are batched matmuls over members (:class:`StackedLinear`), convolutions one
  grouped convolution (``groups = M``, :class:`StackedConv2d`), batch norm one
  ``BatchNorm2d(M * C)`` (statistics per member and channel, as a member's own would be), and the
  fused LIF runs over members x neurons.

Layout: time-major with the member dimension third, ``(T, batch, M, F)`` for dense and
``(T, batch, M, C, H, W)`` for convolutional networks: each member reads its own batch, so
members of different seeds see their own batch order. Every parameter and buffer that belongs to
members is member-major (its first dimension a multiple of M), which is what
:func:`member_rows` relies on for per-member gradient clipping and for keeping each member's best
weights.

:meth:`PopulationNetwork.from_networks` stacks solo :class:`~snn_core.network.SkipNetwork`\\ s
(so a member starts from exactly the weights its seed gives alone) and
:meth:`PopulationNetwork.member` writes a member back into a solo network: a member trained in a
population equals the same network trained alone, to float tolerance
(``tests/snn_core/test_population.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from snn_core.network import NetworkSpec, SkipLayer, SkipNetwork
from snn_core.neurons import LIF
from snn_core.topology import ASC, DSC, SkipTopology


class StackedLinear(nn.Module):
    """M independent linear maps: ``(..., M, in) -> (..., M, out)`` by one batched matmul."""

    def __init__(self, members: int, in_size: int, out_size: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(members, out_size, in_size))
        self.bias = nn.Parameter(torch.zeros(members, out_size)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead, members = x.shape[:-2], x.shape[-2]
        if x.stride(-2) == 0 and members > 1:
            # every member reads the same input (expanded, e.g. one recording): one wide matmul
            # against all members' weights side by side, without copying the input M times
            wide = self.weight.reshape(-1, self.weight.shape[-1])  # (M * out, in), member-major
            out = F.linear(x[..., 0, :], wide, None if self.bias is None else self.bias.reshape(-1))
            return out.unflatten(-1, (members, -1))
        rows = x.reshape(-1, members, x.shape[-1]).transpose(0, 1)  # (M, N, in)
        if self.bias is None:
            out = torch.bmm(rows, self.weight.transpose(1, 2))
        else:
            out = torch.baddbmm(self.bias.unsqueeze(1), rows, self.weight.transpose(1, 2))
        return out.transpose(0, 1).reshape(*lead, members, -1)


class StackedConv2d(nn.Module):
    """M independent convolutions as one grouped convolution: ``(N, M, C, H, W) -> (N, M, O, H, W)``."""

    def __init__(self, members: int, in_channels: int, out_channels: int, kernel_size: int, bias: bool) -> None:
        super().__init__()
        self.members, self.padding = members, kernel_size // 2
        self.weight = nn.Parameter(torch.zeros(members * out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(members * out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = x.shape[0], self.members
        if x.stride(1) == 0 and m > 1:
            # every member reads the same input (expanded): one ungrouped convolution with all
            # members' filters, without copying the input M times
            out = F.conv2d(x[:, 0], self.weight, self.bias, padding=self.padding)
            return out.reshape(n, m, -1, *out.shape[-2:])
        out = F.conv2d(x.reshape(n, -1, *x.shape[-2:]), self.weight, self.bias, padding=self.padding, groups=m)
        return out.reshape(n, m, -1, *out.shape[-2:])


def member_rows(tensor: torch.Tensor, members: int) -> torch.Tensor | None:
    """``tensor`` as (M, -1), one row per member, if it is member-major; None for shared ones
    (scalars, such as a fixed LIF decay or batch norm's step counter)."""
    if tensor.ndim == 0 or tensor.shape[0] % members:
        return None
    return tensor.reshape(members, -1)


def _flat(x: torch.Tensor) -> torch.Tensor:
    """(T, batch, ...) -> (T * batch, ...)."""
    return x.flatten(0, 1)


class PopulationLayer(nn.Module):
    """Layer ``k`` of a skip block for all members: superset synapse, masks, norm and neurons."""

    def __init__(
        self,
        spec: NetworkSpec,
        members: int,
        node_sizes: list[int],
        k: int,
        kinds: torch.Tensor,
        mode: str,
    ) -> None:
        super().__init__()
        self.kind, self.k = spec.kind, k
        width = node_sizes[k + 1]
        # kinds: (M, k) skip type of each earlier node i into this layer, per member
        self.dsc_sources = [i for i in range(k) if bool((kinds[:, i] == DSC).any())]
        self.asc_sources = [i for i in range(k) if bool((kinds[:, i] == ASC).any())]
        self.register_buffer("dsc_mask", (kinds == DSC).float(), persistent=False)
        self.register_buffer("asc_mask", (kinds == ASC).float(), persistent=False)
        # sources every member reads the same way need no mask (members sorted by topology
        # often share their fattest skips, those of the block input)
        self.unmasked = {(t, i) for t in (DSC, ASC) for i in range(k) if bool((kinds[:, i] == t).all())}
        self.slots = [node_sizes[k]] + [node_sizes[i] for i in self.dsc_sources]
        in_size = sum(self.slots)
        if spec.kind == "dense":
            self.synapse: nn.Module = StackedLinear(members, in_size, width)
            self.norm = None
        else:
            self.synapse = StackedConv2d(members, in_size, width, spec.kernel_size, bias=not spec.batchnorm)
            self.norm = nn.BatchNorm2d(members * width) if spec.batchnorm else None
        self.projections = nn.ModuleDict()
        for i in self.asc_sources:
            if node_sizes[i] != node_sizes[k]:
                self.projections[str(i)] = (
                    StackedLinear(members, node_sizes[i], node_sizes[k], bias=False)
                    if spec.kind == "dense"
                    else StackedConv2d(members, node_sizes[i], node_sizes[k], 1, bias=False)
                )
        self.neuron = None
        if mode == "snn":
            beta = torch.full((members,) + (1,) * (1 if spec.kind == "dense" else 3), float(spec.beta))
            self.neuron = LIF(beta if spec.learn_beta else float(spec.beta), spec.threshold, learn_beta=spec.learn_beta)

    def _column(self, kind: int, i: int, ndim: int) -> torch.Tensor | None:
        """Column ``i`` of the ``kind`` mask shaped (M, 1, ...) to ``ndim`` dimensions; None when
        every member has that skip and nothing needs masking."""
        if (kind, i) in self.unmasked:
            return None
        return (self.dsc_mask if kind == DSC else self.asc_mask)[:, i].reshape(-1, *([1] * (ndim - 1)))

    def source_weights(self) -> dict[int, torch.Tensor]:
        """Each node's effective weight (M, O, F_i) in this layer's current, which is linear in
        the nodes: ``W (node_k + sum_asc P_i node_i) + sum_dsc W_i node_i`` is
        ``sum_i W'_i node_i`` with ``W'_k = W``, ``W'_i = W P_i`` (or ``W``) for an ASC and the
        member's slot ``W_i`` for a DSC, each masked to the members that have that skip. One
        matmul per node then, whatever mix of skip types the members have."""
        weight, own = self.synapse.weight, self.slots[0]
        effective = {self.k: weight[:, :, :own]}
        for i in self.asc_sources:
            key, mask = str(i), self._column(ASC, i, 3)
            term = effective[self.k] @ self.projections[key].weight if key in self.projections else effective[self.k]
            effective[i] = term if mask is None else term * mask
        start = own
        for i, width in zip(self.dsc_sources, self.slots[1:]):
            mask, slot = self._column(DSC, i, 3), weight[:, :, start : start + width]
            slot = slot if mask is None else slot * mask
            effective[i] = effective[i] + slot if i in effective else slot
            start += width
        return effective

    def dense_current(self, nodes: list[torch.Tensor]) -> torch.Tensor:
        """Synaptic current (N, M, O) from nodes (N, M, F), N = T * batch: one matmul per node,
        accumulated inside the matmuls (``baddbmm``); a node every member shares (the block input
        of one recording) is one wide matmul against all members' weights side by side."""
        terms = sorted(self.source_weights().items(), key=lambda item: nodes[item[0]].stride(1) != 0)
        bias = self.synapse.bias
        current = None  # (M, N, O) member-major while accumulating
        for i, weight in terms:
            x = nodes[i]
            members, width, _ = weight.shape
            if x.stride(1) == 0 and members > 1:  # shared: first in ``terms``, starts the sum
                wide = F.linear(x[:, 0], weight.reshape(-1, weight.shape[-1]), bias.reshape(-1) if current is None else None)
                current, bias = wide.view(-1, members, width).transpose(0, 1), None
                continue
            start = current if current is not None else (bias.unsqueeze(1) if bias is not None else None)
            if start is None:
                current = torch.bmm(x.transpose(0, 1), weight.transpose(1, 2))
            else:
                current = torch.baddbmm(start, x.transpose(0, 1), weight.transpose(1, 2))
            bias = None
        return current.transpose(0, 1)

    def dense_forward(self, nodes: list[torch.Tensor], steps: int) -> torch.Tensor:
        current = self.dense_current(nodes)
        if self.neuron is None:
            return torch.relu(current)
        # time-major already: (T * B, M, O) is (T, B * M * O) to the fused LIF (decay (M, 1))
        rows, members, width = current.shape
        return self.neuron(current.view(steps, rows // steps, members, width)).view(rows, members, width)

    def _masked(self, kind: int, i: int, source: torch.Tensor) -> torch.Tensor:
        """A conv ``source`` (T, B, M, C, H, W) for the members whose skip from node ``i`` is of
        ``kind``, zeros for the others."""
        column = self._column(kind, i, source.ndim - 2)
        return source if column is None else column * source

    def conv_forward(self, nodes: list[torch.Tensor]) -> torch.Tensor:
        """(T, B, M, C, H, W) nodes: the masked sources concatenated into one grouped convolution."""
        x = nodes[self.k]
        for i in self.asc_sources:
            key = str(i)
            source = _conv_seq(self.projections[key], nodes[i]) if key in self.projections else nodes[i]
            x = x + self._masked(ASC, i, source)
        parts = [x] + [self._masked(DSC, i, nodes[i]) for i in self.dsc_sources]
        current = _conv_seq(self.synapse, torch.cat(parts, dim=3) if len(parts) > 1 else x)
        if self.norm is not None:
            shape = current.shape
            current = self.norm(current.flatten(0, 1).flatten(1, 2)).reshape(shape)
        # a learned decay is (M, 1, 1, 1): it broadcasts over (batch, M, C, H, W)
        return torch.relu(current) if self.neuron is None else self.neuron(current)


def _conv_seq(conv: StackedConv2d, x: torch.Tensor) -> torch.Tensor:
    """A stacked convolution over (T, B, M, C, H, W)."""
    return conv(_flat(x)).unflatten(0, x.shape[:2])


class PopulationNetwork(nn.Module):
    """M skip networks of one :class:`NetworkSpec` shape (topologies may differ) as one model.

    Build it with :meth:`from_networks`; ``forward`` maps (T, batch, M, in[, H, W]) to
    (T, batch, M, out[, H', W']).
    """

    def __init__(self, spec: NetworkSpec, topologies: Sequence[str], mode: str = "snn") -> None:
        super().__init__()
        if spec.recurrent:
            raise ValueError("population training runs feed-forward blocks; recurrent layers step one member at a time")
        parsed = [SkipTopology.from_string(t) for t in topologies]
        if not parsed:
            raise ValueError("a population needs at least one member")
        sizes = tuple(len(b) for b in spec.widths)
        for t in parsed:
            if t.layers_per_block != sizes:
                raise ValueError(f"topology {t} has blocks of {t.layers_per_block} layers, the population's {sizes}")
        self.spec, self.mode, self.members = spec, mode, len(parsed)
        self.topologies = [str(t) for t in parsed]
        self.blocks = nn.ModuleList()
        size = spec.in_size
        for b, widths in enumerate(spec.widths):
            matrices = torch.from_numpy(np.stack([t.matrices()[b] for t in parsed])).long()  # (M, L, L)
            node_sizes = [size, *widths]
            self.blocks.append(
                nn.ModuleList(
                    PopulationLayer(spec, self.members, node_sizes, k, matrices[:, :k, k], mode) for k in range(len(widths))
                )
            )
            size = widths[-1]
        self.out_size = size
        self.pool = nn.MaxPool2d(spec.pool) if spec.kind == "conv" and spec.pool > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.kind == "dense":
            return self._dense_forward(x)
        for block in self.blocks:
            nodes = [x]
            for layer in block:
                nodes.append(layer.conv_forward(nodes))
            x = nodes[-1]
            if self.pool is not None:
                pooled = self.pool(_flat(x).flatten(1, 2))
                x = pooled.reshape(*x.shape[:4], *pooled.shape[-2:])
        return x

    def _dense_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Dense blocks run on (T * B, M, F) rows: time-major for the fused LIF, and a strided
        batch of rows per member for the matmuls; an input shared by all members stays one copy."""
        steps, batch, members = x.shape[:3]
        x = x.reshape(steps * batch, members, -1)  # a view, also of an expanded input
        for block in self.blocks:
            nodes = [x]
            for layer in block:
                nodes.append(layer.dense_forward(nodes, steps))
            x = nodes[-1]
        return x.view(steps, batch, members, -1)

    @classmethod
    def from_networks(cls, networks: Sequence[SkipNetwork]) -> PopulationNetwork:
        """Stack solo networks (same spec but for the topology, same mode) with their weights."""
        first = networks[0]
        spec = _shape_of(first.spec)
        for net in networks:
            if _shape_of(net.spec) != spec or net.mode != first.mode:
                raise ValueError("population members must share their spec apart from the topology, and their mode")
        population = cls(first.spec, [net.spec.topology for net in networks], first.mode)
        with torch.no_grad():
            for m, net in enumerate(networks):
                _copy_member(population, net, m, into_population=True)
        return population

    def member(self, m: int, network: SkipNetwork | None = None) -> SkipNetwork:
        """Member ``m`` as a solo network (written into ``network`` when given, else a new one)."""
        if network is None:
            spec = NetworkSpec.from_dict({**self.spec.to_dict(), "topology": self.topologies[m]})
            network = SkipNetwork(spec, self.mode)
        with torch.no_grad():
            _copy_member(self, network, m, into_population=False)
        return network


def _shape_of(spec: NetworkSpec) -> dict:
    return {k: v for k, v in spec.to_dict().items() if k != "topology"}


def _move(population_part: torch.Tensor, solo: torch.Tensor, into_population: bool) -> None:
    if into_population:
        population_part.copy_(solo)
    else:
        solo.copy_(population_part)


def _copy_member(population: PopulationNetwork, net: SkipNetwork, m: int, into_population: bool) -> None:
    """Copy member ``m``'s parameters and buffers between the population and a solo network."""
    kind = population.spec.kind
    for pop_block, solo_block in zip(population.blocks, net.blocks):
        for k, (pop_layer, solo_layer) in enumerate(zip(pop_block, solo_block.layers)):
            solo_layer: SkipLayer
            dsc = solo_block.dsc_sources[k]
            weight = _member_weight(pop_layer.synapse, m, kind)
            if into_population:
                weight.zero_()  # slots this member does not use stay zero
            starts = [0, *torch.tensor(pop_layer.slots).cumsum(0).tolist()]
            solo_col = 0
            for slot, source in enumerate([None, *pop_layer.dsc_sources]):
                if source is not None and source not in dsc:
                    continue
                width = pop_layer.slots[slot]
                _move(
                    weight[:, starts[slot] : starts[slot] + width],
                    solo_layer.synapse.weight[:, solo_col : solo_col + width],
                    into_population,
                )
                solo_col += width
            if solo_layer.synapse.bias is not None:
                _move(_member_bias(pop_layer.synapse, m, kind), solo_layer.synapse.bias, into_population)
            for key, proj in solo_block.projections.items():
                i, j = map(int, key.split("_"))
                if j == k:
                    _move(_member_weight(pop_layer.projections[str(i)], m, kind), proj.weight, into_population)
            if pop_layer.norm is not None:
                width = solo_layer.norm.num_features
                rows = slice(m * width, (m + 1) * width)
                for name in ("weight", "bias", "running_mean", "running_var"):
                    _move(getattr(pop_layer.norm, name)[rows], getattr(solo_layer.norm, name), into_population)
                if into_population:
                    pop_layer.norm.num_batches_tracked.copy_(solo_layer.norm.num_batches_tracked)
                else:
                    solo_layer.norm.num_batches_tracked.copy_(pop_layer.norm.num_batches_tracked)
            if pop_layer.neuron is not None and pop_layer.neuron.beta.ndim > 0:
                _move(pop_layer.neuron.beta[m].reshape(()), solo_layer.neuron.beta, into_population)


def _member_weight(synapse: nn.Module, m: int, kind: str) -> torch.Tensor:
    if kind == "dense":
        return synapse.weight[m]
    out = synapse.weight.shape[0] // synapse.members
    return synapse.weight[m * out : (m + 1) * out]


def _member_bias(synapse: nn.Module, m: int, kind: str) -> torch.Tensor:
    if kind == "dense":
        return synapse.bias[m]
    out = synapse.bias.shape[0] // synapse.members
    return synapse.bias[m * out : (m + 1) * out]


def clip_member_grad_norms(parameters: Sequence[nn.Parameter], members: int, max_norm: float) -> torch.Tensor:
    """Clip each member's gradient to global L2 norm ``max_norm``, as ``clip_grad_norm_`` clips
    a solo network's (same coefficient ``max_norm / (norm + 1e-6)``, at most 1); returns the norms."""
    # views of the gradients (``view`` fails rather than copy), so scaling them scales the grads
    rows = [p.grad.view(members, -1) for p in parameters if p.grad is not None and member_rows(p.grad, members) is not None]
    norms = torch.sqrt(sum(r.pow(2).sum(dim=1) for r in rows))
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for r in rows:
        r.mul_(coef.unsqueeze(1))
    return norms
