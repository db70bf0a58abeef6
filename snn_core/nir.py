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
therefore writes the dynamics out, node by node, exactly:

- ``<layer>_membrane``: ``nir.Linear`` (identity) summing the synaptic current, the leak and the
  reset, i.e. ``mem[t]``;
- ``<layer>_leak``: ``nir.Linear(diag(beta))`` from the membrane back into it (previous step);
- ``<layer>_reset``: ``nir.Linear(-threshold * I)`` from the spikes back into the membrane;
- ``<layer>_spike``: ``nir.LIF`` without memory, i.e. a threshold ``H(mem - threshold)``: tau
  equal to the 0.1 ms step that snnTorch's NIR export and import assume (``beta = 1 - dt / tau``
  = 0), r = 1, no leak potential. snnTorch's import has no ``nir.Threshold`` node, hence the LIF.

**Skips.** An addition-type skip (ASC) is an extra edge into the receiving layer's
``<layer>_synapse`` (``nir.Affine``): the sum of its inputs is what the synapse reads, through a
``nir.Linear`` projection where widths differ. A densenet-like skip (DSC) concatenates inputs
before one weight matrix, ``W [x; s] = W_x x + W_s s``: the matrix is split by columns, the chain
part in ``<layer>_synapse`` (with the bias), each skipped source's part in ``<layer>_dsc<i>``, all
summed at the membrane. Recurrent weights are ``<layer>_recurrent`` from the spikes back into the
membrane, which is exactly ``current[t] + W_rec spk[t-1]``.
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


def leaky_integrator(prefix: str, decay: np.ndarray) -> tuple[Nodes, Edges]:
    """``v[t] = decay * v[t-1] + (sum of what enters <prefix>_membrane)``, from ``v = 0``.

    Args:
        prefix: names the nodes ``<prefix>_membrane`` (its output is ``v[t]``; connect inputs
            to it) and ``<prefix>_leak``.
        decay: per unit, the share of ``v`` kept from one step to the next.
    """
    decay = np.asarray(decay, dtype=np.float32)
    membrane, leak = f"{prefix}_membrane", f"{prefix}_leak"
    nodes: Nodes = {membrane: nir.Linear(weight=np.eye(decay.size, dtype=np.float32)), leak: nir.Linear(weight=np.diag(decay))}
    return nodes, [(membrane, leak), (leak, membrane)]


def lif_layer(prefix: str, beta: np.ndarray, threshold: float) -> tuple[Nodes, Edges]:
    """Our LIF (see the module docstring) as nodes: inputs go to ``<prefix>_membrane``, spikes
    come out of ``<prefix>_spike``."""
    n = beta.size
    nodes, edges = leaky_integrator(prefix, beta)
    membrane, spike, reset = f"{prefix}_membrane", f"{prefix}_spike", f"{prefix}_reset"
    nodes[spike] = nir.LIF(
        tau=np.full(n, DT, dtype=np.float32),
        r=np.ones(n, dtype=np.float32),
        v_leak=np.zeros(n, dtype=np.float32),
        v_threshold=np.full(n, threshold, dtype=np.float32),
        v_reset=np.zeros(n, dtype=np.float32),
    )
    nodes[reset] = nir.Linear(weight=-threshold * np.eye(n, dtype=np.float32))
    edges += [(membrane, spike), (spike, reset), (reset, membrane)]
    return nodes, edges


def _block(block: SkipBlock, index: int, source: str, in_size: int) -> tuple[Nodes, Edges, str]:
    """The nodes of one block reading ``source``; returns them and the name of its output node."""
    sizes = [in_size, *(layer.synapse.out_features for layer in block.layers)]
    outputs = [source]  # outputs[i]: what layer i reads by the chain
    nodes: Nodes = {}
    edges: Edges = []
    for k, layer in enumerate(block.layers):
        prefix = f"b{index}_l{k}"
        synapse, membrane = f"{prefix}_synapse", f"{prefix}_membrane"
        weight, chain = float32_array(layer.synapse.weight), sizes[k]
        nodes[synapse] = nir.Affine(weight=weight[:, :chain], bias=float32_array(layer.synapse.bias))
        edges.append((outputs[k], synapse))
        for i in block.asc_sources[k]:
            key = f"{i}_{k}"
            if key in block.projections:
                name = f"{prefix}_asc{i}"
                nodes[name] = nir.Linear(weight=float32_array(block.projections[key].weight))
                edges += [(outputs[i], name), (name, synapse)]
            else:
                edges.append((outputs[i], synapse))
        neuron = layer.neuron
        beta = np.broadcast_to(float32_array(neuron.beta.clamp(0, 1)), (layer.synapse.out_features,)).copy()
        lif_nodes, lif_edges = lif_layer(prefix, beta, neuron.threshold)
        nodes.update(lif_nodes)
        edges += [(synapse, membrane), *lif_edges]
        column = chain
        for i in block.dsc_sources[k]:
            name = f"{prefix}_dsc{i}"
            nodes[name] = nir.Linear(weight=weight[:, column : column + sizes[i]].copy())
            edges += [(outputs[i], name), (name, membrane)]
            column += sizes[i]
        if layer.recurrence is not None:
            name = f"{prefix}_recurrent"
            nodes[name] = nir.Linear(weight=float32_array(layer.recurrence.weight))
            edges += [(f"{prefix}_spike", name), (name, membrane)]
        outputs.append(f"{prefix}_spike")
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
