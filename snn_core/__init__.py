"""Shared SNN topology core: skip topologies, LIF neurons, networks, streaming, devices.

The public names below are imported from their submodules on first use (see
:mod:`snn_core._lazy`), so ``import snn_core`` stays cheap::

    from snn_core import NetworkSpec, SkipTopology, build_network
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snn_core._lazy import lazy_exports

if TYPE_CHECKING:
    from snn_core.device import choose_device
    from snn_core.errors import InputError
    from snn_core.network import NetworkSpec, SkipBlock, SkipLayer, SkipNetwork, build_network
    from snn_core.neurons import LIF
    from snn_core.streaming import DenseStepper
    from snn_core.surrogate import ATan, FastSigmoid, Sigmoid, StraightThrough, Surrogate, SurrogateCode
    from snn_core.topology import SkipTopology, sample_topology, search_space_size

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "topology": ("SkipTopology", "sample_topology", "search_space_size"),
        "neurons": ("LIF",),
        "surrogate": ("Surrogate", "SurrogateCode", "ATan", "FastSigmoid", "Sigmoid", "StraightThrough"),
        "network": ("NetworkSpec", "SkipLayer", "SkipBlock", "SkipNetwork", "build_network"),
        "streaming": ("DenseStepper",),
        "device": ("choose_device",),
        "errors": ("InputError",),
    },
)
