"""A trained SNN decoder as a NIR graph, the format neuromorphic toolchains and SNN frameworks read.

The graph (see :mod:`snn_core.nir` for how the LIF layers and skips are written) reads one bin
of binned spikes per step at node ``input`` and gives the decoded velocity in mm/s at node
``output``, so that running it step by step from its reset state reproduces
``SNNDecoder.predict``. The bins are those the decoder was trained on: the graph's metadata gives
the checkpoint's bin width (``bin_width_s``), binning mode (``bin_mode``) and lag (``lag_s``).
The nodes:

- the body's LIF layers, from :func:`snn_core.nir.network_nodes`;
- the leaky readout ``v[t] = beta v[t-1] + W s[t] + b``: ``readout_0_synapse`` (``nir.Affine``)
  into a leaky integrator (``readout_1_membrane``, ``readout_2_leak``);
- for an ensemble (``ensemble`` above 1), each member's body with its nodes prefixed
  ``member<k>_`` and its readout synapse ``readout_0_synapse_<k>`` scaled by 1/K, all into the
  one integrator: the mean of the members' velocities;
- the label scaling that maps the readout to mm/s: ``velocity``, a ``nir.Affine`` with the
  per-axis scale on its diagonal and the mean as its bias.
"""

from __future__ import annotations

import io
from pathlib import Path

import nir
import numpy as np

from bmi_decoder.checkpoint import load_decoder
from bmi_decoder.decoders import SNNDecoder
from bmi_decoder.decoders.snn_network import EnsembleVelocityNet
from bmi_decoder.preprocess import Preprocessing
from snn_core.atomic import write_bytes_atomic
from snn_core.errors import InputError
from snn_core.nir import float32_array, leaky_integrator, network_nodes


def decoder_graph(decoder: SNNDecoder, preprocessing: Preprocessing) -> nir.NIRGraph:
    """The NIR graph of a fitted SNN decoder, trained on bins made by ``preprocessing``: binned
    spikes (F,) in, velocity (2,) in mm/s out."""
    network = decoder.network_
    members = list(network.members) if isinstance(network, EnsembleVelocityNet) else [network]
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array([decoder.n_features_in_])})}
    edges, synapses = [], []
    for k, member in enumerate(members):
        # an ensemble's members side by side, each scaled by 1/K into the one readout integrator
        # (the readouts are linear and share their decay, so the mean of theirs is this one)
        prefix = f"member{k}_" if len(members) > 1 else ""

        def named(node: str, prefix: str = prefix) -> str:
            return node if node == "input" else prefix + node

        body_nodes, body_edges, spikes = network_nodes(member.body, "input")
        nodes.update({named(name): node for name, node in body_nodes.items()})
        edges += [(named(a), named(b)) for a, b in body_edges]
        synapse = "readout_0_synapse" + (f"_{k}" if len(members) > 1 else "")
        linear = member.readout.linear
        nodes[synapse] = nir.Affine(
            weight=float32_array(linear.weight) / len(members), bias=float32_array(linear.bias) / len(members)
        )
        edges.append((named(spikes), synapse))
        synapses.append(synapse)
    integrator_nodes, integrator_edges = leaky_integrator(
        "readout", np.full(2, float(members[0].readout.beta), dtype=np.float32), synapses[0]
    )
    nodes.update(integrator_nodes)
    edges += integrator_edges + [(synapse, "readout_1_membrane") for synapse in synapses[1:]]
    scaler = decoder.label_scaler_
    nodes["velocity"] = nir.Affine(
        weight=np.diag(scaler.scale).astype(np.float32), bias=np.asarray(scaler.mean, dtype=np.float32)
    )
    nodes["output"] = nir.Output(output_type={"output": np.array([2])})
    edges += [("readout_1_membrane", "velocity"), ("velocity", "output")]
    # in name order, as a NIR file lists them (see snn_core.nir on why the order matters)
    nodes = {name: nodes[name] for name in sorted(nodes)}
    metadata = {
        "source": "skipsnn bmi-decoder export",
        "bin_width_s": preprocessing.bin_width,
        "bin_mode": preprocessing.mode,
        "lag_s": preprocessing.lag,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def export_checkpoint(checkpoint: str | Path, out: str | Path) -> nir.NIRGraph:
    """Write the SNN decoder of ``checkpoint`` to ``out`` as a NIR file (HDF5), atomically.

    Raises:
        InputError: when the checkpoint is not one of a fitted SNN decoder.
    """
    decoder, meta = load_decoder(checkpoint, device="cpu")
    if not isinstance(decoder, SNNDecoder):
        raise InputError(checkpoint, "decoder", f"a checkpoint of the snn decoder (the one NIR describes), got {decoder.name!r}")
    graph = decoder_graph(decoder, meta["preprocessing"])
    buffer = io.BytesIO()  # HDF5 crashes on a full disk: built in memory, it is one plain write
    nir.write(buffer, graph)
    write_bytes_atomic(out, buffer.getbuffer())
    return graph
