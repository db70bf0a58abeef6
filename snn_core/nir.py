"""Dense skip networks as NIR graphs (Neuromorphic Intermediate Representation, Pedersen et al. 2024).

NIR is the exchange format between SNN frameworks and neuromorphic hardware toolchains: a graph of
nodes (``nir.Affine``, ``nir.Linear``, ``nir.LIF``, ...) joined by edges, where a node with
several incoming edges receives their sum and an edge that closes a cycle carries the value of
the previous step. This module writes the nodes and edges of a dense :class:`SkipNetwork`.

**The neuron.** NIR's ``LIF`` resets its membrane to ``v_reset`` on a spike, and snnTorch's NIR
import maps it to a ``Leaky`` that resets to zero in the same step. Our LIF (snnTorch's default
``Leaky``) instead subtracts the threshold at the *next* step::

    mem[t] = beta * mem[t-1] + I[t] - threshold * spk[t-1],   spk[t] = H(mem[t] - threshold)

A zero reset forgets how far the membrane overshot, so no ``LIF`` node reproduces this. The graph
therefore writes the dynamics out, node by node, exactly and in the neurons' order of float sums
``(beta * mem[t-1] + I[t]) - threshold * spk[t-1]`` (names ``b<block>_l<layer>_<stage>_<what>``):

- ``5_integrated``: ``nir.Linear`` (identity) adding the leak to the synaptic current;
- ``6_membrane``: ``nir.Linear`` (identity) adding the reset to that, i.e. ``mem[t]``;
- ``7_spike``: ``nir.LIF`` without memory, i.e. a threshold ``H(mem - threshold)``: tau equal to
  the 0.1 ms step that snnTorch's NIR export and import assume (``beta = 1 - dt / tau`` = 0),
  r = 1, no leak potential (snnTorch's import has no ``nir.Threshold`` node);
- ``8_leak``: ``nir.Linear(diag(beta))`` from the membrane back to ``5_integrated`` (previous step);
- ``9_reset``: ``nir.Linear(-threshold * I)`` from the spikes back to ``6_membrane``.

Every sum is of two terms, since a reader adds a node's incoming edges in an order of its own
(nirtorch: set order, which changes with Python's hash seed) and float sums depend on the order.
The stage numbers make the name order a valid order of evaluation within a step: nirtorch
evaluates nodes in the order the file lists them (by name), and an input that closes a cycle
reads the previous step only if it has not been computed yet.

**Skips.** An addition-type skip (ASC) is added to the chain input before the receiving layer's
``2_synapse`` (``nir.Affine``), through ``0_asc<i>`` (a ``nir.Linear`` projection) where widths
differ, by ``1_input_add<i>`` nodes. A densenet-like skip (DSC) concatenates inputs before one
weight matrix, ``W [x; s] = W_x x + W_s s``: the matrix is split by columns, the chain part in
``2_synapse`` (with the bias), each skipped source's part in ``3_dsc<i>``, added to the current
by ``4_current_add<i>`` nodes. Recurrent weights are ``4_recurrent``, from the spikes into the
current at the next step, which is exactly ``current[t] + W_rec spk[t-1]``.
"""

from __future__ import annotations

import nir
import numpy as np
import torch

from snn_core.network import SkipBlock, SkipNetwork

# The time step of snnTorch's NIR export and import (``beta = 1 - DT / tau``): a LIF node whose
# tau equals it keeps nothing from one step to the next.
DT = 1e-4

Nodes = dict[str, nir.NIRNode]
Edges = list[tuple[str, str]]


def float32_array(tensor: torch.Tensor) -> np.ndarray:
    """A float32 NumPy copy of a parameter or buffer, wherever it lives."""
    return tensor.detach().cpu().to(torch.float32).numpy().copy()


def _identity(n: int) -> nir.Linear:
    return nir.Linear(weight=np.eye(n, dtype=np.float32))


def added(prefix: str, terms: list[str], n: int) -> tuple[Nodes, Edges, str]:
    """``terms[0] + terms[1] + ...``, added pairwise in this order by identity nodes.

    A node's incoming edges are summed in an order the reader chooses (nirtorch: set order, which
    varies with Python's hash seed), and float sums depend on the order; two-term sums do not.

    Returns:
        The nodes ``<prefix>_add<i>``, their edges, and the name of the node giving the sum.
    """
    nodes: Nodes = {}
    edges: Edges = []
    total = terms[0]
    for i, term in enumerate(terms[1:], start=1):
        name = f"{prefix}_add{i}"
        nodes[name] = _identity(n)
        edges += [(total, name), (term, name)]
        total = name
    return nodes, edges, total


def leaky_integrator(prefix: str, decay: np.ndarray, current: str) -> tuple[Nodes, Edges]:
    """``v[t] = decay * v[t-1] + current[t]`` from ``v = 0``, at node ``<prefix>_membrane``.

    Args:
        prefix: names the nodes ``<prefix>_membrane`` and ``<prefix>_leak``.
        decay: per unit, the share of ``v`` kept from one step to the next.
        current: the node whose output is added at each step.
    """
    decay = np.asarray(decay, dtype=np.float32)
    membrane, leak = f"{prefix}_1_membrane", f"{prefix}_2_leak"
    nodes: Nodes = {membrane: _identity(decay.size), leak: nir.Linear(weight=np.diag(decay))}
    return nodes, [(current, membrane), (leak, membrane), (membrane, leak)]


def lif_layer(prefix: str, beta: np.ndarray, threshold: float, current: str) -> tuple[Nodes, Edges]:
    """Our LIF (see the module docstring) fed by the node ``current``; spikes come out of
    ``<prefix>_spike``.

    The membrane is summed in the neurons' own order, ``(beta * mem + current) - threshold *
    spike``: ``<prefix>_integrated`` adds the leak to the current, ``<prefix>_membrane`` the
    reset to that.
    """
    n = beta.size
    integrated, membrane, leak = f"{prefix}_5_integrated", f"{prefix}_6_membrane", f"{prefix}_8_leak"
    spike, reset = f"{prefix}_7_spike", f"{prefix}_9_reset"
    nodes: Nodes = {
        integrated: _identity(n),
        membrane: _identity(n),
        leak: nir.Linear(weight=np.diag(np.asarray(beta, dtype=np.float32))),
        spike: nir.LIF(
            tau=np.full(n, DT, dtype=np.float32),
            r=np.ones(n, dtype=np.float32),
            v_leak=np.zeros(n, dtype=np.float32),
            v_threshold=np.full(n, threshold, dtype=np.float32),
            v_reset=np.zeros(n, dtype=np.float32),
        ),
        reset: nir.Linear(weight=-threshold * np.eye(n, dtype=np.float32)),
    }
    edges = [
        (current, integrated),
        (leak, integrated),
        (integrated, membrane),
        (reset, membrane),
        (membrane, leak),
        (membrane, spike),
        (spike, reset),
    ]
    return nodes, edges


def _block(block: SkipBlock, index: int, source: str, in_size: int) -> tuple[Nodes, Edges, str]:
    """The nodes of one block reading ``source``; returns them and the name of its output node."""
    sizes = [in_size, *(layer.synapse.out_features for layer in block.layers)]
    outputs = [source]  # outputs[i]: what layer i reads by the chain
    nodes: Nodes = {}
    edges: Edges = []
    for k, layer in enumerate(block.layers):
        prefix = f"b{index:02d}_l{k:02d}"
        n, weight, chain = layer.synapse.out_features, float32_array(layer.synapse.weight), sizes[k]
        # what the synapse reads: the chain input plus each ASC source, in the network's order
        read = [outputs[k]]
        for i in block.asc_sources[k]:
            key = f"{i}_{k}"
            if key in block.projections:
                read.append(f"{prefix}_0_asc{i}")
                nodes[read[-1]] = nir.Linear(weight=float32_array(block.projections[key].weight))
                edges.append((outputs[i], read[-1]))
            else:
                read.append(outputs[i])
        sum_nodes, sum_edges, summed = added(f"{prefix}_1_input", read, chain)
        synapse = f"{prefix}_2_synapse"
        nodes.update(sum_nodes)
        nodes[synapse] = nir.Affine(weight=weight[:, :chain].copy(), bias=float32_array(layer.synapse.bias))
        edges += [*sum_edges, (summed, synapse)]
        # the current: the synapse, each DSC source's column block, then the recurrent input
        current, column = [synapse], chain
        for i in block.dsc_sources[k]:
            current.append(f"{prefix}_3_dsc{i}")
            nodes[current[-1]] = nir.Linear(weight=weight[:, column : column + sizes[i]].copy())
            edges.append((outputs[i], current[-1]))
            column += sizes[i]
        if layer.recurrence is not None:
            current.append(f"{prefix}_4_recurrent")
            nodes[current[-1]] = nir.Linear(weight=float32_array(layer.recurrence.weight))
            edges.append((f"{prefix}_7_spike", current[-1]))
        sum_nodes, sum_edges, summed = added(f"{prefix}_4_current", current, n)
        nodes.update(sum_nodes)
        edges += sum_edges
        beta = np.broadcast_to(float32_array(layer.neuron.beta.clamp(0, 1)), (n,)).copy()
        lif_nodes, lif_edges = lif_layer(prefix, beta, layer.neuron.threshold, summed)
        nodes.update(lif_nodes)
        edges += lif_edges
        outputs.append(f"{prefix}_7_spike")
    return nodes, edges, outputs[-1]


def network_nodes(network: SkipNetwork, source: str) -> tuple[Nodes, Edges, str]:
    """The nodes and edges of a dense SNN :class:`SkipNetwork` that reads the node ``source``.

    Returns:
        The nodes, the edges, and the name of the node whose output is the network's (the last
        layer's spikes).

    Raises:
        ValueError: for a convolutional network or an ANN twin, which have no export.
    """
    if network.spec.kind != "dense" or network.mode != "snn":
        raise ValueError(f"NIR export covers dense SNNs, not a {network.spec.kind} {network.mode} network")
    nodes: Nodes = {}
    edges: Edges = []
    size = network.spec.in_size
    for b, block in enumerate(network.blocks):
        block_nodes, block_edges, source = _block(block, b, source, size)
        nodes.update(block_nodes)
        edges += block_edges
        size = block.out_size
    return nodes, edges, source
