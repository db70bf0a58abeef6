"""An SNN decoder held to a footprint: layer widths narrowed until the network fits ``footprint_limit``.

A neuromorphic core holds a fixed number of bytes of weights, while the first layer's weights
grow with the array's channels: the 30 KB ``snn_small`` block of three 32-wide layers is 25 KB on
a 96-channel Utah array and 37 KB on two arrays (192 channels). With ``footprint_limit`` set,
the decoder trains the widest network that fits: every layer capped at one width ``w``, the
largest ``w`` (up to the widest of ``hidden``) at which the network, built with the decoder's
topology, is within the limit on the session's channels. The widths are a pure function of the
parameters and the channel count, so a checkpoint rebuilds the same network.
"""

from __future__ import annotations

import inspect

import torch

from snn_core.errors import InputError
from snn_core.metrics import footprint_bytes
from snn_core.topology import SkipTopology

from ._base import Decoder, clone

AUTO = "auto"


def network_bytes(decoder: Decoder, topology: str | None, widths: tuple[int, ...], n_features: int) -> int:
    """Bytes (NeuroBench's footprint, as :mod:`bmi_decoder.cost` reports it) of the network that
    ``decoder`` builds with ``topology`` and ``widths``, built without touching the random state."""
    fixed = clone(decoder).set_params(
        hidden=widths, topology=topology, footprint_limit=None, candidates=None, auto_seeds=1, ensemble=1
    )
    with torch.random.fork_rng(devices=[]):
        return footprint_bytes(fixed._build_network(n_features))


def preset_topology(decoder: Decoder) -> str | None:
    """The default topology of ``decoder``'s class when it fits ``hidden``'s layer count, else None."""
    default = inspect.signature(type(decoder).__init__).parameters["topology"].default
    if not isinstance(default, str) or default == AUTO:
        return None
    return default if SkipTopology.from_string(default).layers_per_block == (len(decoder.hidden),) else None


def sizing_topology(decoder: Decoder) -> str | None:
    """The topology the widths are sized for: the decoder's own; with ``"auto"``, the preset's
    (:func:`preset_topology`), so that every candidate gets the same widths and those that then
    exceed the limit are left out (:func:`~bmi_decoder.decoders.snn_auto.auto_candidates`)."""
    return decoder.topology if decoder.topology != AUTO else preset_topology(decoder)


def member_limit(decoder: Decoder) -> int | None:
    """Bytes each network of the decoder may take: ``footprint_limit`` shared equally by the
    ``ensemble`` members (None: no limit)."""
    return None if decoder.footprint_limit is None else decoder.footprint_limit // decoder.ensemble


def layer_widths(decoder: Decoder, n_features: int) -> tuple[int, ...]:
    """The widths ``decoder`` trains on ``n_features`` channels: ``hidden``, or with
    ``footprint_limit`` every layer capped at the widest width whose network fits it (each
    member's share of it, in an ensemble).

    Raises:
        InputError: naming ``footprint_limit`` when even one neuron per layer exceeds it.
    """
    hidden = tuple(decoder.hidden)
    limit = member_limit(decoder)
    if limit is None:
        return hidden
    topology = sizing_topology(decoder)
    for width in range(max(hidden), 0, -1):
        widths = tuple(min(h, width) for h in hidden)
        if network_bytes(decoder, topology, widths, n_features) <= limit:
            return widths
    smallest = network_bytes(decoder, topology, (1,) * len(hidden), n_features)
    raise InputError(
        f"{decoder.name} decoder",
        "footprint_limit",
        f"bytes enough for {decoder.ensemble} x {len(hidden)} layers of one neuron on {n_features} channels"
        f" (at least {smallest * decoder.ensemble}), got {decoder.footprint_limit}",
    )
