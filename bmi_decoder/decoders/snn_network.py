"""The SNN decoders' network and its streaming twin, apart from the decoders that train them.

:class:`SpikingVelocityNet` is what :class:`~bmi_decoder.decoders.snn.SNNDecoder` fits and what
:mod:`~bmi_decoder.decoders.snn_population` stacks into a population; both import it from here,
so that the decoder can train its ``topology="auto"`` candidates as a population without the two
modules importing each other.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy.linalg.blas import dgemv
from torch import nn

from snn_core.network import NetworkSpec, SkipNetwork
from snn_core.streaming import DenseStepper, cpu_float64

from ._training import LabelScaler
from .readout import LeakyReadout


class SpikingVelocityNet(nn.Module):
    """snn_core skip network followed by the leaky readout; time-major (T, batch, F) -> (T, batch, 2)."""

    def __init__(self, spec: NetworkSpec, readout_beta: float) -> None:
        super().__init__()
        self.spec = spec
        self.body = SkipNetwork(spec, "snn")
        self.readout = LeakyReadout(self.body.out_size, 2, readout_beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.body(x))

    def step(self, x: torch.Tensor, state: tuple | None) -> tuple[torch.Tensor, tuple]:
        body_state, v = state if state is not None else (None, None)
        spikes, body_state = self.body.step(x, body_state)
        v = self.readout.step(spikes, v)
        return v, (body_state, v)


class VelocityStepper:
    """Streaming twin of a fitted :class:`SpikingVelocityNet`, with the label decoding folded in.

    The body runs on :class:`DenseStepper` in float32, torch's precision (spikes are 0/1
    whatever the precision, and float32 halves the weights' memory traffic). The readout runs
    in float64 and is tracked directly in mm/s, where float32 would round velocities of a few
    hundred mm/s to 3e-5: with ``u = scale * v + mean``, ``v[t] = beta v[t-1] + W s + b``
    becomes ``u[t] = beta u[t-1] + (scale W) s + (scale b + (1 - beta) mean)`` from ``u = mean``
    at reset, one BLAS ``gemv`` per step with the bias as a weight column (see
    :attr:`DenseStepper.output_and_one`).

    Args:
        network: the fitted network; its weights are copied.
        scaler: the decoder's label scaler.
    """

    def __init__(self, network: SpikingVelocityNet, scaler: LabelScaler) -> None:
        self.network = network
        self.body = DenseStepper(network.body, np.float32)
        readout = network.readout
        self.beta = float(readout.beta)
        weight = scaler.scale[:, None] * cpu_float64(readout.linear.weight)
        bias = scaler.scale * cpu_float64(readout.linear.bias) + (1.0 - self.beta) * scaler.mean
        # transposed and Fortran-ordered for gemv, the bias as the column read against the 1
        self.weight_t = np.column_stack([weight, bias]).T
        self.spikes = np.zeros(len(self.body.output_and_one))
        self.mean = np.asarray(scaler.mean, dtype=np.float64)
        self.velocity = self.mean.copy()

    def fork(self) -> VelocityStepper:
        """A stepper that shares these weights and has a state of its own, reset."""
        twin = copy.copy(self)
        twin.body = self.body.fork()
        twin.spikes = np.zeros_like(self.spikes)
        twin.velocity = self.mean.copy()
        return twin

    def reset(self) -> None:
        self.body.reset()
        self.velocity[:] = self.mean

    def step(self, x: np.ndarray) -> np.ndarray:
        """One bin (F,) -> velocity (2,) in mm/s, a new float64 array."""
        self.body.step(x)
        np.copyto(self.spikes, self.body.output_and_one)
        # positional arguments: keywords make f2py's wrapper parse them at every call
        dgemv(1.0, self.weight_t, self.spikes, self.beta, self.velocity, 0, 1, 0, 1, 1, 1)
        return self.velocity.copy()


class EnsembleVelocityNet(nn.Module):
    """Several :class:`SpikingVelocityNet`\\ s decoding the same bins, their velocities averaged.

    The readouts are linear, so the average is one readout of all members' spikes: the ensemble
    is one wider SNN whose blocks run side by side. Its cost is the members' summed (the
    :class:`~snn_core.metrics.ActivityRecorder` hooks every member's layers).
    """

    def __init__(self, members: list[SpikingVelocityNet]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(0)


class EnsembleStepper:
    """Streaming twin of an :class:`EnsembleVelocityNet`: one :class:`VelocityStepper` per member."""

    def __init__(self, network: EnsembleVelocityNet, scaler: LabelScaler) -> None:
        self.network = network
        self.members = [VelocityStepper(member, scaler) for member in network.members]

    def fork(self) -> EnsembleStepper:
        twin = copy.copy(self)
        twin.members = [member.fork() for member in self.members]
        return twin

    def reset(self) -> None:
        for member in self.members:
            member.reset()

    def step(self, x: np.ndarray) -> np.ndarray:
        """One bin (F,) -> the members' mean velocity (2,) in mm/s."""
        return sum(member.step(x) for member in self.members) / len(self.members)


def velocity_stepper(network: nn.Module, scaler: LabelScaler) -> VelocityStepper | EnsembleStepper:
    """The streaming twin of a fitted SNN decoder's network, one network or an ensemble."""
    if isinstance(network, EnsembleVelocityNet):
        return EnsembleStepper(network, scaler)
    return VelocityStepper(network, scaler)
