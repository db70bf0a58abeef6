"""The one interface every recalibration method follows, and what the protocol records of a run.

A method takes a decoder fitted on earlier days and a little data of a new day (the calibration
segment, from the session's start) and returns a decoder for that day; the original is never
changed. Supervised methods read the calibration velocity, unsupervised ones only its spikes and
the spikes the decoder was trained on (the reference).
"""

from __future__ import annotations

import abc
import copy
import time
from dataclasses import dataclass

import numpy as np

from bmi_decoder.decoders import Decoder


class Recalibration(abc.ABC):
    """A way to bring a fitted decoder back on a new day.

    Subclasses set :attr:`name`, :attr:`supervised` and :attr:`decoders` (the decoder names it
    applies to; None: every decoder) and define :meth:`apply`.
    """

    name: str = ""
    supervised: bool = True
    decoders: tuple[str, ...] | None = None

    def applies_to(self, decoder: Decoder) -> bool:
        """Whether this method can recalibrate ``decoder`` (e.g. a Wiener filter has no separate readout)."""
        return self.decoders is None or decoder.name in self.decoders

    @abc.abstractmethod
    def apply(self, decoder: Decoder, X_cal: np.ndarray, y_cal: np.ndarray, X_reference: np.ndarray) -> Decoder:
        """A recalibrated copy of ``decoder``.

        Args:
            decoder: fitted on earlier days; left unchanged.
            X_cal: (T, F) binned spikes of the calibration segment.
            y_cal: (T, 2) its velocity (not read by unsupervised methods).
            X_reference: (T0, F) binned spikes the decoder was trained on (read by unsupervised
                methods, to match the new day's activity to them).
        """


@dataclass(frozen=True)
class Recalibrated:
    """A recalibrated decoder and what the recalibration cost.

    Attributes:
        decoder: the decoder for the new day.
        seconds: wall-clock seconds the recalibration took.
        parameters_changed: entries of the decoder's learned arrays that changed, plus those of
            an input transform put in front of it (an on-chip update writes this many numbers).
    """

    decoder: Decoder
    seconds: float
    parameters_changed: int


def learned_arrays(decoder: Decoder) -> dict[str, np.ndarray]:
    """A decoder's learned numbers by name: a network's state, else its ``*_`` arrays."""
    inner = getattr(decoder, "decoder", None)
    if isinstance(inner, Decoder):  # an AlignedDecoder: the decoder it wraps and its transform
        return {**learned_arrays(inner), **decoder.transform_arrays()}
    arrays: dict[str, np.ndarray] = {}
    network = getattr(decoder, "network_", None)
    if network is not None:
        # the state, not only the parameters: batch normalisation's running statistics are learned too
        state = network.state_dict()
        arrays.update({k: t.detach().cpu().numpy().copy() for k, t in state.items() if t.is_floating_point()})
        return arrays
    for key, value in vars(decoder).items():
        if key.endswith("_") and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            arrays[key] = value.copy()
    return arrays


def count_changed(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> int:
    """Entries that differ between two :func:`learned_arrays` snapshots (new arrays count whole)."""
    changed = 0
    for key, value in after.items():
        old = before.get(key)
        changed += value.size if old is None or old.shape != value.shape else int(np.count_nonzero(old != value))
    return changed


def recalibrate(
    method: Recalibration, decoder: Decoder, X_cal: np.ndarray, y_cal: np.ndarray, X_reference: np.ndarray
) -> Recalibrated:
    """Run ``method`` on a copy of ``decoder``, timing it and counting the numbers it changed."""
    before = learned_arrays(decoder)
    start = time.perf_counter()
    new = method.apply(copy.deepcopy(decoder), X_cal, y_cal, X_reference)
    seconds = time.perf_counter() - start
    return Recalibrated(new, seconds, count_changed(before, learned_arrays(new)))
