"""The base of the decoders that train a torch network (SNN, GRU, ANN): one way into ``fit``.

Every such ``fit`` opens with :meth:`_TorchDecoder._prepare_fit`, in one order: the parameters are
checked first (a typo in a config fails before any data is looked at, as scikit-learn checks at
fit time), then the data (shapes, finite values, enough bins for the decoder's chunks), and only
then is the device resolved (a missing GPU is reported for good input, not before a bad shape).
What the subclass then trains is its own :meth:`_TorchDecoder._fit`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import torch

from bmi_decoder.cost import network_cost
from bmi_decoder.evaluation import r2_score
from snn_core.metrics import ModelCost
from snn_core.training import seeded_torch

from ._base import Decoder, check_fitted, train_validation
from ._training import LabelScaler, current_stepper, train_early_stopping, training_device


@dataclass(frozen=True, eq=False)
class FitData:
    """What :meth:`_TorchDecoder._prepare_fit` checked and placed.

    Attributes:
        X, y, X_val, y_val: the float64 training and validation splits (a held-out tail of the
            training data when no validation split was given).
        device: where training runs.
        targets: the training labels, scaled by the decoder's new ``label_scaler_``, as float32
            on ``device`` (once: every batch is then a gather there, not a host-to-device copy).
    """

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    device: torch.device
    targets: torch.Tensor

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The four splits, which a progress file's identity digests."""
        return self.X, self.y, self.X_val, self.y_val

    def inputs(self) -> torch.Tensor:
        """The training spikes as float32 on the device."""
        return torch.from_numpy(self.X.astype(np.float32)).to(self.device)


class _TorchDecoder(Decoder):
    """A decoder whose learned state is a torch network (``network_``), with a ``seed`` and a
    ``device`` parameter, streamed by a stepper built from the network
    (:func:`~bmi_decoder.decoders._training.current_stepper`).

    Subclasses define ``_fit``, ``_build_network`` and :attr:`stepper`, and may narrow what
    training data they accept in ``_check_training_data``.
    """

    # Builds the streaming stepper from (network_, label_scaler_).
    stepper: ClassVar[Callable[[torch.nn.Module, LabelScaler], Any]]
    # The learned attribute that the stepper needs (the ANN's step also needs its spike history).
    streams_from: ClassVar[str] = "network_"
    # Built from network_ on the first reset or step (never saved: its name does not end in _).
    _stepper: Any = None

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> Self:
        self._fit(self._prepare_fit(X, y, X_val, y_val))
        return self

    def _prepare_fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None, y_val: np.ndarray | None) -> FitData:
        """Check the parameters, then the data, then the device; set ``n_features_in_`` and
        ``label_scaler_``.

        Raises:
            InputError: naming the first bad parameter, the bad data, or a device this machine
                does not have.
        """
        self.check_params()
        X, y, X_val, y_val = train_validation(X, y, X_val, y_val)
        self._check_training_data(X)
        device = training_device(self)
        self.n_features_in_ = X.shape[1]
        self.label_scaler_ = LabelScaler(y)
        targets = torch.from_numpy(self.label_scaler_.encode(y)).to(device)
        return FitData(X, y, X_val, y_val, device, targets)

    def _check_training_data(self, X: np.ndarray) -> None:
        """Refuse training spikes ``X`` (T, F), checked float64, that the decoder cannot learn
        from (too few bins for its chunks or batches); any is fine by default."""

    @abc.abstractmethod
    def _fit(self, data: FitData) -> None:
        """Train on the prepared data: set ``network_``, ``validation_r2_`` and the rest."""

    @abc.abstractmethod
    def _build_network(self, n_features: int) -> torch.nn.Module:
        """The untrained network for ``n_features`` channels, on the CPU (fit and checkpoints)."""

    def _train_network(
        self,
        data: FitData,
        epoch_batches: Callable[[np.random.Generator], Iterable[tuple[torch.Tensor, torch.Tensor]]],
        loss_fn: Callable[[Any, torch.Tensor], torch.Tensor],
        on_build: Callable[[torch.nn.Module], None] | None = None,
        **options: Any,
    ) -> None:
        """Build the network from the seed and train it with early stopping on validation R2
        (:func:`~bmi_decoder.decoders._training.train_early_stopping`, which takes ``options``);
        ``on_build`` is called with the network before training (e.g. to hook it)."""
        with seeded_torch(self.seed, data.device):
            # built on the CPU, as on every machine, so that a seed gives the same initial weights
            self.network_ = self._build_network(data.X.shape[1]).to(data.device)
            if on_build is not None:
                on_build(self.network_)
            self.validation_r2_ = train_early_stopping(
                self.network_,
                epoch_batches,
                loss_fn,
                lambda: r2_score(data.y_val, self.predict(data.X_val)),
                self,
                data=data.arrays,
                **options,
            )

    def cost(self, X: np.ndarray) -> ModelCost:
        """Recorded on the network while it decodes ``X`` (:func:`bmi_decoder.cost.network_cost`)."""
        check_fitted(self, "network_")
        return network_cost(self, X, self.network_)

    def _streaming(self) -> Any:
        """The stepper of the current network, rebuilt when fit or loading replaced it."""
        check_fitted(self, self.streams_from)
        return current_stepper(self, type(self).stepper)

    def reset(self) -> None:
        self._streaming().reset()
