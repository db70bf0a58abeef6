"""Trained-decoder checkpoints: the decoder's name, parameters and learned state in one file.

A checkpoint rebuilds a fitted decoder by name and parameters and then restores its learned
attributes (those ending in ``_``, scikit-learn's convention), so loading needs neither the
training data nor the training code path. Written atomically: an interrupted save leaves the
previous checkpoint.

Loading cannot run code. The file holds only tensors and plain values (numbers, strings, lists,
dicts) and is read with ``torch.load(weights_only=True)``, which refuses anything else unread.
Format ``skipsnn-decoder/3`` is::

    {"format": "skipsnn-decoder/3", "decoder": name,
     "params": JSON text of get_params(), "meta": JSON text,
     "learned": {attribute: entry}}

where ``meta`` holds, under ``"preprocessing"``, every field of the
:class:`~bmi_decoder.preprocess.Preprocessing` the decoder was trained with: replay, live
decoding and NIR export take the bin width, mode and lag from there, never from a default.

where each learned entry is tagged by its ``kind``:

- ``array``: a NumPy array as a tensor, with its NumPy ``dtype`` name;
- ``plain``: a number, string, None, or a list, tuple or dict of them;
- ``module``: the ``state_dict`` of ``network_``, loaded into the network the decoder's own
  ``_build_network(n_features_in_)`` builds from its parameters and the other learned
  attributes, restored first (the ANN's network reads the window it chose, ``n_lags_``);
- ``object``: an instance of a class of :data:`STATE_CLASSES`, as the entries of its
  ``to_state()``, rebuilt by its ``from_state()``.

Anything else is refused when saving. Format ``skipsnn-decoder/1`` pickled whole objects; such
files are refused unread, with a request to retrain. Format 2 files (before the Kalman and Wiener
filters chose their bins, lag and history on validation) are refused with the same request, and
so are checkpoints of format 3 written before the preprocessing was stored (their ``meta`` lacks
it) and ANN checkpoints written before the ANN chose its window on validation (they lack
``n_lags_``).

Devices: a checkpoint holds CPU tensors only, whatever device the decoder trained on, so it
loads on any machine. Loading places the network of a decoder with a ``device`` parameter by
:func:`snn_core.device.loading_device`: on the device that parameter names when the loading
machine has it, otherwise where ``"auto"`` puts it there. So a decoder trained with
``device="cuda"`` loads on a CPU-only machine, onto the CPU; its parameter still says
``"cuda"``, so a refit there is refused rather than silently slow.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bmi_decoder.decoders import DECODERS, Decoder, make_decoder
from bmi_decoder.decoders._base import is_int
from bmi_decoder.decoders._history import SpikeHistory
from bmi_decoder.decoders._training import LabelScaler
from bmi_decoder.preprocess import SCHEMA as PREPROCESSING_SCHEMA
from bmi_decoder.preprocess import Preprocessing
from snn_core.atomic import write_bytes_atomic
from snn_core.device import loading_device
from snn_core.errors import InputError
from snn_core.inputs import check_input_file

FORMAT = "skipsnn-decoder/3"
# Older formats: 1 is recognised by its name in the file's raw bytes so that it is never unpickled;
# 2 is safe to read but its Kalman and Wiener states lack the bin width, lag and history that
# decoders of format 3 choose on the validation split.
OLD_FORMATS = ("skipsnn-decoder/1", "skipsnn-decoder/2")
RETRAIN = f"a checkpoint of format {FORMAT}; this file was written by an older version: retrain with `bmi-decoder train`"
# The key of meta that holds the preprocessing, a Preprocessing once loaded.
PREPROCESSING = "preprocessing"
# The one learned attribute that is a torch module: rebuilt by the decoder, then given the weights.
NETWORK = "network_"
# The only classes a checkpoint restores, each from the fields its to_state() gave.
STATE_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (LabelScaler, SpikeHistory)}
# NumPy dtype kinds a tensor holds exactly: bool, signed and unsigned integers, floats, complex.
ARRAY_KINDS = "biufc"
PLAIN_SCALARS = (bool, int, float, str, type(None))


def _is_plain(value: Any) -> bool:
    """Whether ``value`` is built only of Python scalars, lists, tuples and dicts (exact types:
    a NumPy scalar would be refused by ``weights_only`` loading, so it is refused here)."""
    if type(value) in PLAIN_SCALARS:
        return True
    if type(value) in (list, tuple):
        return all(_is_plain(v) for v in value)
    if type(value) is dict:
        return all(type(k) in PLAIN_SCALARS and _is_plain(v) for k, v in value.items())
    return False


def _encode(value: Any, where: str) -> dict[str, Any]:
    """One learned value (not a module) as a tagged entry of tensors and plain values.

    Raises:
        TypeError: for a value of any other type, a programming error of the decoder.
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in ARRAY_KINDS:
        return {"kind": "array", "dtype": value.dtype.name, "data": torch.from_numpy(np.ascontiguousarray(value))}
    if _is_plain(value):
        return {"kind": "plain", "value": value}
    if STATE_CLASSES.get(type(value).__name__) is type(value):
        fields = value.to_state()
        return {
            "kind": "object",
            "class": type(value).__name__,
            "fields": {k: _encode(v, f"{where}.{k}") for k, v in fields.items()},
        }
    raise TypeError(
        f"{where}: a checkpoint holds arrays, plain values and {', '.join(STATE_CLASSES)}, not a {type(value).__name__}"
    )


def _decode(entry: Any) -> Any:
    """The value of an entry written by :func:`_encode`.

    Raises:
        ValueError: for an entry of an unknown kind, class or dtype.
    """
    kind = entry["kind"]
    if kind == "array":
        dtype = np.dtype(entry["dtype"])
        if dtype.kind not in ARRAY_KINDS:
            raise ValueError(f"an array dtype of kind {ARRAY_KINDS}, got {dtype}")
        return entry["data"].numpy().astype(dtype, copy=False)
    if kind == "plain":
        return entry["value"]
    if kind == "object" and entry["class"] in STATE_CLASSES:
        return STATE_CLASSES[entry["class"]].from_state({k: _decode(v) for k, v in entry["fields"].items()})
    raise ValueError(f"an entry of kind array, plain or object (of {', '.join(STATE_CLASSES)}), got {kind!r}")


def _module_entry(decoder: Decoder, key: str, module: torch.nn.Module) -> dict[str, Any]:
    """The entry of the decoder's network: its CPU ``state_dict`` (the structure is rebuilt)."""
    if key != NETWORK or not hasattr(decoder, "_build_network"):
        raise TypeError(f"{type(decoder).__name__}.{key}: only {NETWORK}, rebuilt by _build_network, may be a torch module")
    state = module.state_dict()  # keeps its _metadata (layer versions) for load_state_dict
    for name, tensor in state.items():
        state[name] = tensor.cpu()
    return {"kind": "module", "state_dict": state}


def save_decoder(decoder: Decoder, path: str | Path, meta: dict | None = None, *, preprocessing: Preprocessing) -> None:
    """Save a fitted decoder, the preprocessing it was trained with and free-form ``meta`` (e.g.
    the session and seed) to ``path``.

    Tensors are saved on the CPU whatever device the decoder trained on.

    Raises:
        RuntimeError: when the decoder is not fitted.
        TypeError: when a learned attribute, parameter or ``meta`` is not of a type the format
            holds, or ``meta`` has a key of its own named ``"preprocessing"`` (programming
            errors, caught before anything is written).
    """
    if PREPROCESSING in (meta or {}):
        raise TypeError(f"meta: the preprocessing is save_decoder's own argument, not a {PREPROCESSING!r} key")
    learned = {k: v for k, v in vars(decoder).items() if k.endswith("_")}
    if not learned:
        raise RuntimeError(f"{type(decoder).__name__} is not fitted: nothing to save")
    entries = {
        key: _module_entry(decoder, key, value)
        if isinstance(value, torch.nn.Module)
        else _encode(value, f"{type(decoder).__name__}.{key}")
        for key, value in learned.items()
    }
    payload = {
        "format": FORMAT,
        "decoder": decoder.name,
        "params": json.dumps(decoder.get_params()),
        "meta": json.dumps({**(meta or {}), PREPROCESSING: preprocessing.to_dict()}),
        "learned": entries,
    }
    buffer = io.BytesIO()  # torch's zip writer reports a full disk as "unexpected pos"; this write, ENOSPC
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getbuffer())


def _first_line(err: BaseException) -> str:
    """``err`` in one short line (the command-line contract: one line per bad input)."""
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:160]}"


def _old_format(path: str | Path) -> bool:
    """Whether ``path`` is a torch archive whose pickle names an old format, read as raw bytes:
    unpickling it could run code."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
            raw = archive.read(pickles[0]) if pickles else b""
    except (OSError, zipfile.BadZipFile):
        return False
    return any(name.encode() in raw for name in OLD_FORMATS)


def _read_payload(path: str | Path) -> dict:
    """The checkpoint's payload, checked to be of :data:`FORMAT`; nothing in it is run."""
    check_input_file(path, "decoder checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(path, "file", "an existing decoder checkpoint") from None
    except IsADirectoryError:
        raise InputError(path, "file", "a decoder checkpoint file, not a folder") from None
    except Exception as err:  # truncation, a foreign file and a refused global raise different types
        if _old_format(path):
            raise InputError(path, "format", RETRAIN) from None
        if zipfile.is_zipfile(path):  # a readable torch archive holding more than tensors and plain values
            raise InputError(
                path, "format", f"a checkpoint of format {FORMAT}, which holds only tensors and plain values"
            ) from None
        raise InputError(path, "format", f"a decoder checkpoint written by `bmi-decoder train` ({_first_line(err)})") from None
    found = payload.get("format") if isinstance(payload, dict) else None
    if found in OLD_FORMATS:
        raise InputError(path, "format", RETRAIN)
    if found != FORMAT:
        raise InputError(path, "format", f"a checkpoint of format {FORMAT}, got {found!r}")
    return payload


def load_decoder(path: str | Path, device: str | None = None) -> tuple[Decoder, dict]:
    """Rebuild a fitted decoder from a checkpoint; returns it and the saved ``meta``, in which
    ``meta["preprocessing"]`` is the checked :class:`~bmi_decoder.preprocess.Preprocessing`.

    Args:
        path: the checkpoint.
        device: for decoders with a ``device`` parameter, a device name that replaces the saved
            one (e.g. ``"cpu"`` to stream bin by bin); None keeps the saved one. Either is
            resolved on this machine by the rule in the module docstring.

    Raises:
        InputError: when the file is missing, not a checkpoint of this format, or names an
            unknown decoder, parameter or device, or its learned state does not fit the decoder.
    """
    payload = _read_payload(path)
    name = payload.get("decoder")
    if not isinstance(name, str) or name not in DECODERS:
        raise InputError(path, "decoder", f"one of {', '.join(DECODERS)}, got {name!r}")
    try:
        params, meta, learned = json.loads(payload["params"]), json.loads(payload["meta"]), dict(payload["learned"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(
            path, "format", f"a checkpoint of format {FORMAT} with params, meta and learned ({_first_line(err)})"
        ) from None
    if not isinstance(params, dict) or not isinstance(meta, dict):
        raise InputError(path, "params/meta", "JSON objects")
    meta[PREPROCESSING] = _preprocessing(path, meta.get(PREPROCESSING))
    decoder = make_decoder(name, source=str(path), **params)
    if device is not None and "device" in decoder.get_params():
        decoder.set_params(device=device)
    network = learned.pop(NETWORK, None)
    try:
        for key, entry in learned.items():
            setattr(decoder, key, _decode(entry))
        if network is not None:
            _restore_network(decoder, network["state_dict"], path)
    except InputError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise InputError(path, "learned", f"the learned state of a fitted {name} decoder ({_first_line(err)})") from None
    return decoder, meta


def _preprocessing(path: str | Path, record: object) -> Preprocessing:
    """The preprocessing a checkpoint stores, every field present and valid; a file without one
    was written before it was stored, and its decoder's bins are unknown: retrain."""
    if record is None:
        raise InputError(path, "meta.preprocessing", f"{RETRAIN} (it does not store its preprocessing)")
    missing = [key for key in PREPROCESSING_SCHEMA if key not in record] if isinstance(record, dict) else []
    if missing:
        raise InputError(path, f"meta.preprocessing.{missing[0]}", "a value (a checkpoint stores every preprocessing field)")
    return Preprocessing.from_dict(record, path, "meta.preprocessing")


def _restore_network(decoder: Decoder, state_dict: dict[str, torch.Tensor], path: str | Path) -> None:
    """Build the decoder's network from its parameters, load the saved weights, place it."""
    if not (is_int(getattr(decoder, "n_features_in_", None)) and decoder.n_features_in_ > 0):
        raise InputError(path, "learned.n_features_in_", "a positive channel count")
    # Building initialises weights that are then overwritten: the caller's generator is left alone.
    with torch.random.fork_rng(devices=[]):
        try:
            network = decoder._build_network(decoder.n_features_in_)
        except AttributeError as err:
            # the network's shape needs a learned attribute the file lacks: written before the
            # decoder learned it (an ANN from before it chose its window on validation, n_lags_)
            raise InputError(path, "learned", f"{RETRAIN} ({_first_line(err)})") from None
    network.load_state_dict(state_dict)
    target = loading_device(decoder.device, path, "device")
    decoder.network_ = network.to(target)
