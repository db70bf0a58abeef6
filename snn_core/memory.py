"""Memory a setting would need, against what the machine has.

A layer width of 10**9 or a history of 10**6 lags is well-typed and positive, and fails only deep
in a run, in the allocator (``DefaultCPUAllocator: can't allocate 4e14 bytes``, ``array is too
big``). Settings are checked before any data is read against a lower bound of what they need,
so a refusal is never wrong: a setting refused here could not have run on this machine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from snn_core.errors import InputError

FLOAT32 = 4
"""Bytes of one float32, the type of every network's weights and activations."""


def machine_memory() -> int:
    """Physical memory of this machine in bytes (Linux and macOS; 2**63 where unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**63


def dense_training_bytes(sizes: Sequence[int], activations: int = 0, recurrent: bool = False) -> int:
    """A lower bound of the bytes that training a stack of dense layers takes.

    Args:
        sizes: the input width, then each layer's width.
        activations: float32 activations stored for the backward pass.
        recurrent: each layer also has a square recurrent weight matrix.

    Returns:
        float32 weights four times over (the weights, their gradients, Adam's two moments),
        plus the activations.
    """
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    if recurrent:
        weights += sum(h * h for h in sizes[1:])
    return FLOAT32 * (4 * weights + activations)


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:,.3g} GiB"


def require_memory(source: str | Path, field: str, nbytes: float, what: str) -> None:
    """Refuse a setting that needs more than the machine's physical memory.

    Args:
        source: the file or component named in the message (``"snn decoder"``, a config).
        field: the parameter or key at fault.
        nbytes: a lower bound of the bytes the setting needs.
        what: what needs it, in words (``"layer widths"``).

    Raises:
        InputError: ``nbytes`` exceeds the machine's memory.
    """
    total = machine_memory()
    if nbytes > total:
        raise InputError(
            source, field, f"{what} that fit in memory: they need at least {_gib(nbytes)}, this machine has {_gib(total)}"
        )
