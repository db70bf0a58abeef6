from collections.abc import Callable

import pytest
import snntorch as snn
import torch


def _leaky_run(leaky: snn.Leaky, current: torch.Tensor, mem: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    mem = leaky.init_leaky() if mem is None else mem
    spikes, trace = [], []
    for current_t in current:
        spk, mem = leaky(current_t, mem)
        spikes.append(spk)
        trace.append(mem)
    return torch.stack(spikes), torch.stack(trace)


@pytest.fixture
def leaky_run() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """Steps ``snntorch.Leaky`` over a time-major sequence: spikes and membrane trace, the
    reference that snn_core's LIF is tested against."""
    return _leaky_run
