import importlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType

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


TRITON_MODULE = "snn_core.kernels.triton"


@pytest.fixture(scope="module")
def lif_triton() -> Iterator[ModuleType]:
    """The kernel module, imported afresh: native on a GPU, interpreted otherwise.

    ``@triton.jit`` reads TRITON_INTERPRET when it decorates, i.e. at import, so a copy imported
    earlier must not be reused; and the interpreted copy is dropped again afterwards (from
    sys.modules and the package), with the environment restored, so later tests see neither.
    """
    # triton itself is imported first, natively, as torch or the dispatcher may already have done:
    # the kernels must still interpret then.
    importlib.import_module("triton")
    package = importlib.import_module("snn_core.kernels")
    with pytest.MonkeyPatch.context() as mp:
        if not torch.cuda.is_available():
            mp.setenv("TRITON_INTERPRET", "1")
        mp.delitem(sys.modules, TRITON_MODULE, raising=False)
        mp.delattr(package, "triton", raising=False)
        yield importlib.import_module(TRITON_MODULE)
        del sys.modules[TRITON_MODULE]
        delattr(package, "triton")
