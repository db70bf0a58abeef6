"""Trained-decoder checkpoints: the decoder's name, parameters and learned state in one file.

A checkpoint rebuilds a fitted decoder by name and parameters and then restores its learned
attributes (those ending in ``_``, scikit-learn's convention), so loading needs neither the
training data nor the training code path. Written atomically: an interrupted save leaves the
previous checkpoint.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from bmi_decoder.decoders import DECODERS, Decoder, make_decoder
from snn_core.atomic import atomic_path
from snn_core.errors import InputError

FORMAT = "skipsnn-decoder/1"


def save_decoder(decoder: Decoder, path: str | Path, meta: dict | None = None) -> None:
    """Save a fitted decoder (and free-form ``meta``, e.g. the session and config) to ``path``."""
    learned = {k: v for k, v in vars(decoder).items() if k.endswith("_")}
    if not learned:
        raise RuntimeError(f"{type(decoder).__name__} is not fitted: nothing to save")
    payload = {"format": FORMAT, "decoder": decoder.name, "params": decoder.get_params(), "learned": learned, "meta": meta or {}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_decoder(path: str | Path) -> tuple[Decoder, dict]:
    """Rebuild a fitted decoder from a checkpoint; returns it and the saved ``meta``.

    Raises:
        InputError: when the file is missing, not a checkpoint, or names an unknown decoder.
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
    return decoder, payload["meta"]
