"""Trained-decoder checkpoints: the decoder's name, parameters and learned state in one file.

A checkpoint rebuilds a fitted decoder by name and parameters and then restores its learned
attributes (those ending in ``_``, scikit-learn's convention), so loading needs neither the
training data nor the training code path. Written atomically: an interrupted save leaves the
previous checkpoint.

Devices: a checkpoint holds CPU tensors only, whatever device the decoder trained on, so it
loads on any machine. Loading places the networks of a decoder with a ``device`` parameter by
:func:`snn_core.device.loading_device`: on the device that parameter names when the loading
machine has it, otherwise where ``"auto"`` puts it there. So a decoder trained with
``device="cuda"`` loads on a CPU-only machine, onto the CPU; its parameter still says
``"cuda"``, so a refit there is refused rather than silently slow.
"""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import torch

from bmi_decoder.decoders import DECODERS, Decoder, make_decoder
from snn_core.atomic import atomic_path
from snn_core.device import loading_device
from snn_core.errors import InputError

FORMAT = "skipsnn-decoder/1"


def _on_cpu(value: Any) -> Any:
    """``value`` with its torch modules and tensors copied to the CPU; the decoder keeps its own."""
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value).cpu()
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, tuple | list):  # streaming state: nested tuples of tensors
        return type(value)(_on_cpu(v) for v in value)
    return value


def save_decoder(decoder: Decoder, path: str | Path, meta: dict | None = None) -> None:
    """Save a fitted decoder (and free-form ``meta``, e.g. the session and config) to ``path``.

    Tensors are saved on the CPU whatever device the decoder trained on.
    """
    learned = {k: _on_cpu(v) for k, v in vars(decoder).items() if k.endswith("_")}
    if not learned:
        raise RuntimeError(f"{type(decoder).__name__} is not fitted: nothing to save")
    payload = {"format": FORMAT, "decoder": decoder.name, "params": decoder.get_params(), "learned": learned, "meta": meta or {}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_decoder(path: str | Path, device: str | None = None) -> tuple[Decoder, dict]:
    """Rebuild a fitted decoder from a checkpoint; returns it and the saved ``meta``.

    Args:
        path: the checkpoint.
        device: for decoders with a ``device`` parameter, a device name that replaces the saved
            one (e.g. ``"cpu"`` to stream bin by bin); None keeps the saved one. Either is
            resolved on this machine by the rule in the module docstring.

    Raises:
        InputError: when the file is missing, not a checkpoint, or names an unknown decoder or
            device.
    """
    try:
        # Our own checkpoints hold numpy arrays and modules, not only tensors: weights_only=False.
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise InputError(path, "file", "an existing decoder checkpoint") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as err:
        raise InputError(path, "format", f"a decoder checkpoint written by `bmi-decoder train` ({err})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(path, "format", f"a checkpoint of format {FORMAT}")
    if payload["decoder"] not in DECODERS:
        raise InputError(path, "decoder", f"one of {', '.join(DECODERS)}, got {payload['decoder']!r}")
    decoder = make_decoder(payload["decoder"], source=str(path), **payload["params"])
    for key, value in payload["learned"].items():
        setattr(decoder, key, value)
    if "device" in decoder.get_params():
        if device is not None:
            decoder.set_params(device=device)
        target = loading_device(decoder.device, path, "device")
        for value in payload["learned"].values():
            if isinstance(value, torch.nn.Module):
                value.to(target)
    return decoder, payload["meta"]
