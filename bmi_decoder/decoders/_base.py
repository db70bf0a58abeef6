"""The one interface every velocity decoder follows, and the helpers its implementations share.

The contract is scikit-learn's ("Developing scikit-learn estimators"): ``__init__`` only stores
its keyword arguments, ``fit`` returns ``self``, learned state ends in ``_``, and a decoder can be
rebuilt from :meth:`Decoder.get_params` (:func:`clone`), which is what search loops and
checkpoints rely on. A decoder is a scikit-learn regressor without depending on scikit-learn:
``sklearn.base.clone`` and ``GridSearchCV`` take it as they take ``Ridge``, scoring it by
:meth:`Decoder.score` (R2). On top of it, every decoder streams: ``reset`` then ``step`` on one
4 ms bin gives, bin for bin, what ``predict`` gives on the whole sequence.
"""

from __future__ import annotations

import abc
import copy
import inspect
import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from bmi_decoder.evaluation import r2_score
from snn_core.errors import InputError

if TYPE_CHECKING:
    from sklearn.utils import Tags

    from snn_core.metrics import ModelCost

# Share of the training bins held out (the last ones, chronologically, like the NeuroBench split)
# when fit is given no validation set: early stopping and ridge choice need unseen data.
HOLDOUT_FRACTION = 0.2


class Decoder(abc.ABC):
    """A causal decoder of 2-D cursor velocity (mm/s) from binned spikes (T, F).

    Subclasses define ``__init__`` with keyword arguments that are stored unchanged under the
    same names, and the five methods below. ``predict`` always starts from the reset state.
    """

    name: str = ""

    @classmethod
    def param_names(cls) -> list[str]:
        """The keyword arguments of ``__init__``, i.e. the decoder's parameters."""
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters as given to ``__init__`` (or :meth:`set_params`), by name.

        Args:
            deep: scikit-learn's flag for also listing the parameters of parameters that are
                estimators themselves (as ``outer__inner``). No decoder parameter is an
                estimator, so the deep and the shallow listing are the same.
        """
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Self:
        """Change parameters by name and return ``self``, as scikit-learn's ``set_params`` does.

        Raises:
            InputError: for a name that is not a parameter (a typo in a config file); then no
                parameter is changed.
        """
        known = self.param_names()
        for key in params:
            if key not in known:
                raise InputError(f"{self.name} decoder", key, f"one of its parameters: {', '.join(known)}")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """R2 of :meth:`predict` on spikes ``X`` (T, F) against velocity ``y`` (T, 2), averaged
        over x and y: scikit-learn's regressor score, so ``GridSearchCV`` ranks decoders by it."""
        return r2_score(y, self.predict(X))

    def __sklearn_tags__(self) -> Tags:
        """scikit-learn's estimator tags: a regressor of 2-D targets (only called by
        scikit-learn, so scikit-learn is imported here and is not a dependency of decoders)."""
        from sklearn.utils import RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True, multi_output=True, single_output=False),
            regressor_tags=RegressorTags(),
        )

    @abc.abstractmethod
    def check_params(self) -> None:
        """Validate the parameters, raising :class:`InputError` naming the first bad one.

        ``fit`` calls it first (scikit-learn validates at fit time, never in ``__init__``); the
        commands call it for every configured decoder before any data is read, so a bad value
        stops a run before its first fit rather than after it.
        """

    @abc.abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> Self:
        """Learn from spikes ``X`` (T, F) and velocity ``y`` (T, 2).

        ``X_val``, ``y_val`` (the chronologically next segment) choose regularisation or stop
        training early; without them the last :data:`HOLDOUT_FRACTION` of ``X`` is held out.
        """

    @abc.abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Decode a whole sequence (T, F) from the reset state; returns (T, 2) float64."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget the history: the state before the first bin of a sequence."""

    @abc.abstractmethod
    def step(self, x: np.ndarray) -> np.ndarray:
        """Take one bin (F,), return the velocity (2,) decoded at that bin."""

    @abc.abstractmethod
    def cost(self, X: np.ndarray) -> ModelCost:
        """NeuroBench's complexity metrics, measured while decoding ``X`` (T, F) from the reset
        state: footprint, sparsities and synaptic operations per step (see :mod:`bmi_decoder.cost`)."""

    def twin(self) -> Decoder:
        """A fitted decoder that steps exactly as this one, with a step state of its own (the
        live consumer's real-time mode steps one to keep the step path warm). A deep copy here;
        a decoder whose weights can be shared between step states shares them."""
        return copy.deepcopy(self)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled and copied without ``_stepper``: a streaming stepper is a cache of the
        network's weights, rebuilt on the next ``reset``/``step``, and holds views into its own
        buffers that a copy would disconnect."""
        state = dict(vars(self))
        state.pop("_stepper", None)
        return state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def clone(decoder: Decoder) -> Decoder:
    """A new, unfitted decoder with equal parameters (deep copies, as ``sklearn.base.clone``
    makes them, so changing a list parameter of one does not change the other)."""
    return type(decoder)(**copy.deepcopy(decoder.get_params()))


def check_sequence(X: np.ndarray, y: np.ndarray | None = None, n_features: int | None = None) -> np.ndarray:
    """Validate a spike sequence (and its labels); returns ``X`` as float64.

    Raises:
        InputError: on a shape that is not (T, F) / (T, 2), a feature count other than the one
            fitted, or non-finite values.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise InputError("spikes", "shape", f"a non-empty (T, F) array, got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError("spikes", "features", f"{n_features} channels as in fit, got {X.shape[1]}")
    if not np.isfinite(X).all():
        raise InputError("spikes", "values", "finite numbers")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (X.shape[0], 2):
            raise InputError("velocity", "shape", f"({X.shape[0]}, 2) to match the spikes, got {y.shape}")
        if not np.isfinite(y).all():
            raise InputError("velocity", "values", "finite numbers")
    return X


def train_validation(
    X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None, y_val: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Checked float64 (train X, train y, val X, val y), holding out the tail if no val is given."""
    X = check_sequence(X, y)
    y = np.asarray(y, dtype=np.float64)
    if (X_val is None) != (y_val is None):
        raise InputError("validation", "X_val/y_val", "both or neither")
    if X_val is None:
        cut = int(round(len(X) * (1 - HOLDOUT_FRACTION)))
        if cut < 1 or cut >= len(X):
            raise InputError("spikes", "length", f"enough bins to hold out a validation tail, got {len(X)}")
        return X[:cut], y[:cut], X[cut:], y[cut:]
    X_val = check_sequence(X_val, y_val, n_features=X.shape[1])
    return X, y, X_val, np.asarray(y_val, dtype=np.float64)


def check_fitted(decoder: Decoder, attribute: str) -> None:
    """Raise if ``decoder`` has not been fitted (its learned ``attribute`` is missing)."""
    if not hasattr(decoder, attribute):
        raise RuntimeError(f"{type(decoder).__name__} is not fitted: call fit before predict or step")


def check_bin(x: np.ndarray, n_features: int) -> np.ndarray:
    """Validate one streamed bin (F,); returns it as float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (n_features,):
        raise InputError("spikes", "bin", f"shape ({n_features},) as in fit, got {x.shape}")
    return x


def check_bin_fast(x: np.ndarray, n_features: int) -> np.ndarray:
    """:func:`check_bin` for a step that copies the bin into a typed buffer of its own: an array
    of the right shape is returned as is (no float64 copy per bin), anything else goes through
    :func:`check_bin`, with its conversion and its errors."""
    if isinstance(x, np.ndarray) and x.shape == (n_features,):
        return x
    return check_bin(x, n_features)


def require(decoder: Decoder, ok: bool, param: str, expected: str) -> None:
    """Parameter validation at fit time (sklearn's rule: never in ``__init__``)."""
    if not ok:
        raise InputError(f"{decoder.name} decoder", param, f"{expected}, got {getattr(decoder, param)!r}")


def is_int(value: Any) -> bool:
    """An integer, bools excluded (``True`` in a config is a typo, not 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A finite real number, bools excluded (inf and NaN are never a working setting: an
    infinite learning rate or gain turns every weight into NaN)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def require_int(decoder: Decoder, param: str, minimum: int) -> None:
    """Require parameter ``param`` to be an integer of at least ``minimum``."""
    value = getattr(decoder, param)
    require(decoder, is_int(value) and value >= minimum, param, f"an integer >= {minimum}")


def require_candidates(decoder: Decoder, param: str, minimum: int) -> list[int]:
    """Parameter ``param`` as a list of integer candidates, each at least ``minimum``: one
    integer is a one-item list; a decoder with several picks one on the validation split."""
    value = getattr(decoder, param)
    items = [value] if is_int(value) else value
    ok = isinstance(items, Sequence) and not isinstance(items, str | bytes) and len(items) > 0
    ok = ok and all(is_int(v) and v >= minimum for v in items)
    require(decoder, ok, param, f"an integer >= {minimum} or a non-empty list of them")
    return [int(v) for v in items]
