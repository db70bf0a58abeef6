"""Recalibration of a decoder on a new day, behind one interface (:class:`Recalibration`).

:data:`METHODS` maps the names used on the command line
(:data:`bmi_decoder.names.RECALIBRATION_METHODS`) to the methods: ``scratch`` (a new
decoder fitted on the calibration data alone), ``readout`` (the readout solved anew, the rest
kept), ``input`` (the input layer fine-tuned, the rest frozen), ``rates`` (per-channel rate
normalisation, no labels) and ``latent`` (factor analysis and alignment on stable channels as in
Degenhart et al. 2020, no labels).
"""

from __future__ import annotations

from snn_core.errors import InputError

from ._base import Recalibrated, Recalibration, count_changed, learned_arrays, recalibrate
from .alignment import AlignedDecoder, FactorAlignment, RateNormalisation
from .supervised import InputFineTune, ReadoutRefit, Retrain

METHODS: dict[str, type[Recalibration]] = {
    cls.name: cls for cls in (Retrain, ReadoutRefit, InputFineTune, RateNormalisation, FactorAlignment)
}


def parse_methods(text: str, option: str = "--methods") -> list[str]:
    """``"readout,rates"`` -> ``["readout", "rates"]``, each checked against :data:`METHODS`.

    Raises:
        InputError: an empty list or an unknown method, naming ``option``.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("command line", option, f"a comma-separated list from {', '.join(METHODS)}")
    for name in names:
        if name not in METHODS:
            raise InputError("command line", option, f"recalibration methods from {', '.join(METHODS)}, got unknown {name!r}")
    return names


__all__ = [
    "METHODS",
    "AlignedDecoder",
    "FactorAlignment",
    "InputFineTune",
    "RateNormalisation",
    "ReadoutRefit",
    "Recalibrated",
    "Recalibration",
    "Retrain",
    "count_changed",
    "learned_arrays",
    "parse_methods",
    "recalibrate",
]
