"""Which torch device a network runs on, chosen the same way by both frontends.

A device is named ``"auto"`` (a CUDA GPU when one is visible, else the CPU), ``"cpu"``,
``"cuda"`` or ``"cuda:N"``. Training refuses a CUDA device the machine does not have
(:func:`choose_device`): silently training on the CPU instead would turn minutes into hours.
A network read back from a file is placed more leniently (:func:`loading_device`), so that a
model trained on a GPU machine still loads on a CPU-only one.
"""

from __future__ import annotations

import torch

from snn_core.errors import InputError
from snn_core.names import DEVICE_NAMES, is_device_name

__all__ = ["DEVICE_NAMES", "choose_device", "is_device_name", "loading_device"]


def _present(device: torch.device) -> bool:
    """Whether this machine has ``device``."""
    if device.type != "cuda":
        return True
    return torch.cuda.is_available() and (device.index is None or device.index < torch.cuda.device_count())


def _auto() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def choose_device(requested: object = "auto", source: str = "device", field: str = "device") -> torch.device:
    """The device named ``requested`` on this machine, for training.

    Args:
        requested: a device name (see the module docstring).
        source, field: what the error names: the config file or decoder, and the key or option.

    Raises:
        InputError: for a name that is not a device, or a CUDA device this machine lacks.
    """
    if not is_device_name(requested):
        raise InputError(source, field, f"{DEVICE_NAMES}, got {requested!r}")
    if requested == "auto":
        return _auto()
    device = torch.device(requested)
    if not _present(device):
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        raise InputError(source, field, f"a CUDA GPU this machine has ({visible} visible), got {requested!r}; use auto or cpu")
    return device


def loading_device(requested: object, source: str = "device", field: str = "device") -> torch.device:
    """Where a network read from a file goes: the device named when this machine has it, else
    where ``"auto"`` would put it (a checkpoint trained on ``"cuda"`` loads on a CPU-only machine).

    Raises:
        InputError: for a name that is not a device.
    """
    if not is_device_name(requested):
        raise InputError(source, field, f"{DEVICE_NAMES}, got {requested!r}")
    device = _auto() if requested == "auto" else torch.device(requested)
    return device if _present(device) else _auto()
