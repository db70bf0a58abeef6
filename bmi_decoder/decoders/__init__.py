"""Velocity decoders behind one interface, and the registry that builds them by name.

Every decoder follows :class:`Decoder` (scikit-learn's estimator contract plus ``reset`` and
``step`` for streaming); :data:`DECODERS` maps the names used on the command line and in
configuration files (:data:`bmi_decoder.names.DECODER_NAMES`, which ``--help`` lists without
importing torch) to the classes.
"""

from __future__ import annotations

from typing import Any

from snn_core.errors import InputError

from ._base import Decoder, clone
from .ann import ANNDecoder
from .gru import GRUDecoder
from .kalman import KalmanDecoder
from .snn import SNNDecoder
from .snn_small import SmallSNNDecoder
from .wiener import WienerDecoder

DECODERS: dict[str, type[Decoder]] = {
    cls.name: cls for cls in (SNNDecoder, SmallSNNDecoder, KalmanDecoder, WienerDecoder, ANNDecoder, GRUDecoder)
}


def make_decoder(name: str, /, source: str = "--decoders", **params: Any) -> Decoder:
    """Build the decoder registered as ``name`` with the given parameters.

    Args:
        name: a key of :data:`DECODERS`.
        source: where the name and parameters came from (a config file, ``--decoders``), for
            the error message.
        **params: keyword arguments of the decoder's ``__init__``.

    Raises:
        InputError: for an unknown name or a parameter the decoder does not have.
    """
    if name not in DECODERS:
        raise InputError(source, "decoder", f"one of {', '.join(DECODERS)}, got {name!r}")
    cls = DECODERS[name]
    known = cls.param_names()
    for key in params:
        if key not in known:
            raise InputError(source, f"{name}.{key}", f"a parameter of the {name} decoder: {', '.join(known)}")
    return cls(**params)


__all__ = [
    "DECODERS",
    "ANNDecoder",
    "Decoder",
    "GRUDecoder",
    "KalmanDecoder",
    "SNNDecoder",
    "SmallSNNDecoder",
    "WienerDecoder",
    "clone",
    "make_decoder",
]
