"""NeuroBench preprocessing: spike binning, velocity labels, reaches, the chronological split.

Pure functions over a :class:`~bmi_decoder.recording.Recording`; nothing loops over spikes.

Bin convention (causal, aligned to the behaviour clock): with a base step ``dt`` (4 ms on the
Zenodo files) and ``bin_width = k * dt``, bin j covers the samples ``j*k ... j*k + k - 1`` and
collects the spikes with ``t[j*k] - dt < time <= t[j*k + k - 1]``: each sample owns the spikes of
the ``dt`` that ends on it, so a bin only holds spikes up to its own time stamp
``bin_t[j] = t[j*k + k - 1]`` and a decoder reading it never sees the future. At 4 ms there is
one bin per behaviour sample; samples left over at the end (fewer than k) are dropped.

The settings of all this are one frozen :class:`Preprocessing`, whose defaults are the NeuroBench
protocol's. A checkpoint stores the one its decoder was trained with, and replay, live decoding
and NIR export read it from there, so a decoder is never fed bins of another width than it learned.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bmi_decoder.kinematics import reach_index, velocity
from bmi_decoder.names import SPLITS
from bmi_decoder.recording import Recording
from snn_core.config import Rule, check_section, dataclass_schema
from snn_core.errors import InputError

BIN_MODES = ("or", "count", "sorted")


@dataclass(frozen=True)
class Preprocessing:
    """How a recording becomes a decoder's inputs and labels; the defaults are NeuroBench's.

    Args:
        bin_width: seconds per bin, a multiple of the behaviour step (NeuroBench: 4 ms).
        mode: binning mode, see :func:`bin_spikes` (NeuroBench: ``"or"``).
        lag: seconds, a multiple of ``bin_width``; features at time t are paired with the
            velocity at t + lag (positive: neural activity leads, as in motor cortex).
        fractions: shares of the reaches (by count, in time order) for train, val and test.
    """

    bin_width: float = 0.004
    mode: str = "or"
    lag: float = 0.0
    fractions: tuple[float, float, float] = (0.5, 0.25, 0.25)

    def to_dict(self) -> dict:
        """The settings as JSON and TOML values (``fractions`` a list)."""
        return {**asdict(self), "fractions": list(self.fractions)}

    @classmethod
    def from_dict(cls, table: object, source: str | Path, prefix: str) -> Preprocessing:
        """The settings of a config's ``[data]`` table or a checkpoint's record, checked by
        :data:`SCHEMA`; a key left out keeps its default.

        Raises:
            InputError: naming ``prefix.key`` for an unknown key, a wrong type or an invalid value.
        """
        table = check_section(source, prefix, table, SCHEMA)
        values = {key: float(value) for key, value in table.items() if key in ("bin_width", "lag")}
        if "fractions" in table:
            values["fractions"] = tuple(float(f) for f in table["fractions"])
        return cls(**{**table, **values})


# The protocol's settings, every default: what a config without a [data] table trains with.
NEUROBENCH = Preprocessing()
# The checks that need no recording; prepare_session checks the rest against the recording's clock.
SCHEMA = dataclass_schema(
    Preprocessing,
    {
        "bin_width": Rule(lambda w: w > 0, "a positive number of seconds"),
        "mode": Rule(lambda m: m in BIN_MODES, f"one of {', '.join(BIN_MODES)}"),
        "fractions": Rule(lambda f: len(f) == 3, "three shares for train, val and test"),
    },
)


def _source(rec: Recording) -> str:
    return rec.provenance.get("source", "recording")


def _step(rec: Recording) -> float:
    return float(np.median(np.diff(rec.t)))


def _samples_per_bin(rec: Recording, bin_width: float) -> int:
    """``bin_width`` in behaviour samples; it must be a positive multiple of the step, shorter
    than the session (at least two bins), checked before anything else depends on it."""
    dt = _step(rec)
    expected = f"a positive multiple of the {dt * 1e3:g} ms behaviour step shorter than the session"
    if isinstance(bin_width, bool) or not isinstance(bin_width, (int, float, np.number)) or not math.isfinite(bin_width):
        raise InputError(_source(rec), "bin_width", f"{expected}, got {bin_width!r}")
    k = int(round(bin_width / dt))
    if k < 1 or abs(k * dt - bin_width) > 1e-6 * dt:
        raise InputError(_source(rec), "bin_width", f"{expected}, got {bin_width!r}")
    if 2 * k > rec.t.size:
        raise InputError(_source(rec), "bin_width", f"{expected} ({rec.t.size * dt:g} s), got {bin_width!r}")
    return k


def _sample_of_spike(rec: Recording) -> np.ndarray:
    """For every spike, the behaviour sample owning it (-1 or k when outside the clock)."""
    edges = np.concatenate(([rec.t[0] - _step(rec)], rec.t))
    return np.searchsorted(edges, rec.spike_times, side="left") - 1


def bin_spikes(rec: Recording, bin_width: float = NEUROBENCH.bin_width, mode: str = NEUROBENCH.mode) -> np.ndarray:
    """Bin a recording's spikes on its behaviour clock (module docstring: edges).

    Args:
        rec: the recording.
        bin_width: seconds, a multiple of the behaviour step (default: :data:`NEUROBENCH`'s).
        mode: ``"or"``: one 0/1 column per channel, 1 when any unit of the channel fired
            (NeuroBench); ``"count"``: spikes per channel, all units summed; ``"sorted"``: spike
            counts per sorted unit (unit >= 1 with at least one spike), columns ordered by
            (channel, unit).

    Returns:
        (T, F) float32 with ``T = len(rec.t) // (bin_width / dt)``.
    """
    if mode not in BIN_MODES:
        raise InputError(_source(rec), "mode", f"one of {', '.join(BIN_MODES)}, got {mode!r}")
    k = _samples_per_bin(rec, bin_width)
    n_bins = rec.t.size // k
    sample = _sample_of_spike(rec)
    keep = (sample >= 0) & (sample < n_bins * k)
    bins = sample[keep] // k
    if mode == "sorted":
        sorted_unit = rec.spike_units[keep] >= 1
        key = rec.spike_channels[keep][sorted_unit] * rec.units_per_channel + rec.spike_units[keep][sorted_unit]
        columns, column = np.unique(key, return_inverse=True)
        bins, n_columns = bins[sorted_unit], columns.size
    else:
        column, n_columns = rec.spike_channels[keep], rec.n_channels
    out = np.zeros((n_bins, n_columns), dtype=np.float32)
    flat = bins * n_columns + column
    if mode == "or":
        out.ravel()[flat] = 1.0
    else:
        # unique + counts instead of a full-length bincount: no (T*F) int64 temporary.
        cells, counts = np.unique(flat, return_counts=True)
        out.ravel()[cells] = counts
    return out


@dataclass(frozen=True, eq=False)
class PreparedSession:
    """Binned features and velocity labels of one session, split chronologically by reach.

    Attributes:
        features: (T, F) float32 binned spikes.
        velocity: (T, 2) float32 cursor velocity in mm/s, ``lag`` after each feature bin.
        bin_t: (T,) float64 time stamp (end) of each feature bin, s.
        reach_index: (T,) int64 reach of each label, counted from the session's first sample.
        train: slice of the rows in the first reaches (50% by default).
        val: slice of the following reaches (25%).
        test: slice of the last reaches (25%).
        bin_width: bin width in seconds.
        lag: seconds from a feature bin to its velocity label.
    """

    features: np.ndarray
    velocity: np.ndarray
    bin_t: np.ndarray
    reach_index: np.ndarray
    train: slice
    val: slice
    test: slice
    bin_width: float
    lag: float

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The ``(X, y)`` rows of ``"train"``, ``"val"`` or ``"test"``."""
        if name not in SPLITS:
            raise InputError("PreparedSession", "split", f"one of {', '.join(SPLITS)}, got {name!r}")
        rows = getattr(self, name)
        return self.features[rows], self.velocity[rows]


def prepare_session(rec: Recording, preprocessing: Preprocessing = NEUROBENCH) -> PreparedSession:
    """Bin, label and split a recording the NeuroBench way.

    Args:
        rec: the recording.
        preprocessing: the settings; ``bin_width`` must be a multiple of the recording's
            behaviour step and ``lag`` of ``bin_width``, and ``fractions`` three positive shares
            summing to 1.

    Returns:
        The :class:`PreparedSession`.
    """
    bin_width, mode, lag = preprocessing.bin_width, preprocessing.mode, preprocessing.lag
    fractions = tuple(float(f) for f in preprocessing.fractions)
    if len(fractions) != 3 or min(fractions) <= 0.0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise InputError(_source(rec), "fractions", f"three positive shares summing to 1, got {fractions!r}")
    k = _samples_per_bin(rec, bin_width)  # bin_width first: lag and the split depend on it
    features = bin_spikes(rec, bin_width, mode)
    shift = int(round(lag / bin_width))
    if abs(shift * bin_width - lag) > 1e-6 * bin_width or abs(shift) >= features.shape[0]:
        raise InputError(_source(rec), "lag", f"a multiple of bin_width {bin_width:g} s shorter than the session, got {lag!r}")
    # The label of bin j is the kinematic state at its last sample, the time the bin is stamped with.
    label_sample = np.arange(features.shape[0]) * k + k - 1
    vel = velocity(rec.cursor_pos, rec.t)[label_sample].astype(np.float32)
    reach = reach_index(rec.target_pos)[label_sample]
    bin_t = rec.t[label_sample]
    n = features.shape[0] - abs(shift)
    feat_rows, label_rows = (slice(0, n), slice(shift, None)) if shift >= 0 else (slice(-shift, None), slice(0, n))

    reach = reach[label_rows]
    first, count = int(reach[0]), int(reach[-1] - reach[0] + 1)
    cuts = np.rint(np.cumsum(fractions)[:2] * count).astype(int)
    if count < 3 or cuts[0] < 1 or cuts[1] <= cuts[0] or cuts[1] >= count:
        raise InputError(_source(rec), "target_pos", f"enough reaches for a {fractions} split (found {count})")
    rows = np.searchsorted(reach, first + cuts, side="left")
    return PreparedSession(
        features=features[feat_rows],
        velocity=vel[label_rows],
        bin_t=bin_t[feat_rows],
        reach_index=reach,
        train=slice(0, int(rows[0])),
        val=slice(int(rows[0]), int(rows[1])),
        test=slice(int(rows[1]), n),
        bin_width=float(bin_width),
        lag=float(lag),
    )
