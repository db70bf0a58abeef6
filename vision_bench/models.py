"""ResNet-like and DenseNet-like convolutional SNNs for DVS frames, each with its ANN twin.

A model is a stem convolution, skip blocks and a rate-readout classifier. The stem and the
blocks are one :class:`~snn_core.network.SkipNetwork` (the stem is a block of one layer, so max
pooling follows it as it follows every block); the classifier averages the last feature maps over
space, applies a linear layer at every time step and averages the logits over the T steps, the
rate readout of surrogate-gradient SNNs (Neftci et al. 2019).

The skip *positions* come from the family and the skip *type* from the variant, so that the
variants of one family differ only in what Benmeziane et al. (2023) compare:

- family ``resnet``: shortcuts over every pair of layers (span 2), as in ResNet's basic block;
- family ``densenet``: every layer receives every earlier node, as in a DenseNet block;
- variant ``none`` (no skips), ``dsc`` (all concatenation), ``asc`` (all addition), ``mixed``
  (the paper also mixes both kinds: positions alternate ASC, DSC, ... row by row).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from snn_core.network import NetworkSpec, SkipNetwork, build_network
from snn_core.topology import ASC, DSC, NONE, SkipTopology

FAMILIES = ("resnet", "densenet")
STEM = "1-"  # the stem is a block of one layer: no skip to choose there, nothing for a search
VARIANTS = ("none", "dsc", "asc", "mixed")


@dataclass(frozen=True)
class VisionModelConfig:
    """The shape of a vision model; with a variant it defines the network completely.

    Args:
        family: where skips go, ``"resnet"`` (span-2 shortcuts) or ``"densenet"`` (all pairs).
        in_channels: input channels (2 DVS polarities).
        num_classes: classifier outputs (10 for CIFAR10-DVS, 11 for DVS128 Gesture).
        stem_width: channels of the stem convolution.
        widths: channels of each skip block, one entry per block.
        depth: layers per skip block.
        beta: LIF membrane decay per step.
        threshold: LIF firing threshold.
        kernel_size: convolution kernel size.
        pool: max-pool factor after the stem and after each block.
    """

    family: str = "resnet"
    in_channels: int = 2
    num_classes: int = 10
    stem_width: int = 16
    widths: tuple[int, ...] = (32, 64)
    depth: int = 4
    beta: float = 0.9
    threshold: float = 1.0
    kernel_size: int = 3
    pool: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if not self.widths or min(self.widths) < 1 or self.stem_width < 1:
            raise ValueError("widths needs at least one block, and every width must be positive")
        # A span-2 shortcut needs three layers; a densenet-like skip needs two.
        least = 3 if self.family == "resnet" else 2
        if self.depth < least:
            raise ValueError(
                f"depth must be at least {least} layers per {self.family} block for a skip to exist, got {self.depth}"
            )
        if self.num_classes < 2 or self.in_channels < 1:
            raise ValueError("num_classes must be at least 2 and in_channels at least 1")

    def to_dict(self) -> dict:
        return asdict(self)


def variant_topology(family: str, variant: str, blocks: int, depth: int) -> SkipTopology:
    """The skip topology of one variant: a stem block of one layer, then ``blocks`` skip blocks.

    Args:
        family: ``"resnet"`` or ``"densenet"`` (skip positions).
        variant: ``"none"``, ``"dsc"``, ``"asc"`` or ``"mixed"`` (skip types).
        blocks: number of skip blocks.
        depth: layers per skip block.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    span = 2 if family == "resnet" else None
    positions = SkipTopology.uniform([depth], DSC, span=span).matrices()[0] != NONE
    block = np.zeros((depth, depth), dtype=int)
    if variant != "none":
        i, j = np.nonzero(positions)  # row-major: the order the text form lists entries in
        types = {"dsc": [DSC], "asc": [ASC], "mixed": [ASC, DSC]}[variant]
        block[i, j] = np.resize(types, len(i))
    return SkipTopology([np.zeros((1, 1), dtype=int)] + [block] * blocks)


def trunk_topology(blocks: SkipTopology | str) -> SkipTopology:
    """The whole trunk's topology: the stem's block of one layer, then the skip blocks."""
    return SkipTopology.from_string(f"{STEM}_{blocks}")


def network_spec(config: VisionModelConfig, variant: str, topology: SkipTopology | None = None) -> NetworkSpec:
    """The convolutional trunk's :class:`NetworkSpec` for one variant of ``config``.

    ``topology``, when given, replaces the variant's (stem block included): e.g. one that a
    skip-topology search found.
    """
    if topology is None:
        topology = variant_topology(config.family, variant, len(config.widths), config.depth)
    return NetworkSpec(
        kind="conv",
        in_size=config.in_channels,
        widths=((config.stem_width,), *((w,) * config.depth for w in config.widths)),
        topology=str(topology),
        beta=config.beta,
        threshold=config.threshold,
        kernel_size=config.kernel_size,
        batchnorm=True,
        pool=config.pool,
    )


class VisionNetwork(nn.Module):
    """A skip-connected convolutional network with a rate-readout classifier.

    Args:
        spec: the trunk (stem and skip blocks), see :func:`network_spec`.
        num_classes: classifier outputs.
        mode: ``"snn"`` (LIF neurons) or ``"ann"`` (the ReLU twin of the same wiring).
    """

    def __init__(self, spec: NetworkSpec, num_classes: int, mode: str = "snn") -> None:
        super().__init__()
        self.spec, self.num_classes, self.mode = spec, num_classes, mode
        self.trunk: SkipNetwork = build_network(spec, mode)
        self.classifier = nn.Linear(self.trunk.out_size, num_classes)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Time-major frames (T, batch, C, H, W) -> logits (batch, classes), averaged over T."""
        features = self.trunk(frames).mean(dim=(-2, -1))  # global average pool: (T, batch, C)
        return self.classifier(features).mean(dim=0)

    def twin(self) -> VisionNetwork:
        """The same definition in the other mode (fresh weights): the ANN twin of an SNN or back."""
        return VisionNetwork(self.spec, self.num_classes, "ann" if self.mode == "snn" else "snn")

    def layer_names(self) -> list[str]:
        """Names of the neuron layers, in order, as :class:`ActivityRecorder` reports them."""
        return [name.removesuffix(".probe") for name, _ in self.named_modules() if name.endswith(".probe")]


def build_vision_model(
    config: VisionModelConfig, variant: str, mode: str = "snn", seed: int = 0, topology: SkipTopology | None = None
) -> VisionNetwork:
    """Build one variant of ``config`` (or ``topology``, see :func:`network_spec`) in ``mode``.

    Initial weights are drawn from ``seed``; the global torch generator is left as it was, so
    building a model changes no other result.
    """
    spec = network_spec(config, variant, topology)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VisionNetwork(spec, config.num_classes, mode)
