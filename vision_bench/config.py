"""Typed configuration of the vision benchmark: the sections of its TOML files, checked when read.

A file has the sections ``[data]``, ``[model]``, ``[train]`` and ``[analysis]``, every key
optional. An unknown section or key, or a value of the wrong type, is an error, not a silently
ignored typo (:func:`snn_core.config.check_section`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from snn_core.config import SEED, Rule, Schema, check_section, dataclass_schema, read_toml
from snn_core.errors import InputError
from snn_core.memory import FLOAT32, require_memory
from snn_core.outputs import check_output
from vision_bench.data.datasets import SENSOR_SIZE
from vision_bench.models import VARIANTS, VisionModelConfig
from vision_bench.train import TrainConfig


@dataclass(frozen=True)
class DataConfig:
    """How recordings become frames (see :func:`vision_bench.data.load_frames`)."""

    time_bins: int = 10
    size: int = 48
    split_scheme: str | None = None
    cache_dir: str | None = None


@dataclass(frozen=True)
class AnalysisConfig:
    """Everything an analysis run needs besides the data set and the output folder.

    Args:
        data: frame settings.
        model: the model shape (``num_classes`` is taken from the data).
        train: training settings, shared by every variant and mode.
        variants: the variants to train, from :data:`~vision_bench.models.VARIANTS`.
        activity_samples: test samples on which firing rates and operations are measured.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: VisionModelConfig = field(default_factory=VisionModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    variants: tuple[str, ...] = VARIANTS
    activity_samples: int = 200

    def to_dict(self) -> dict:
        return asdict(self)


def _distinct_variants(names: list[str]) -> bool:
    return bool(names) and len(set(names)) == len(names) and set(names) <= set(VARIANTS)


SENSOR_PIXELS = SENSOR_SIZE[0]
AT_LEAST_ONE = Rule(lambda n: n >= 1, "an integer >= 1")

# Each section's keys and types are its dataclass's fields; the rules add what a type cannot say.
SCHEMA: dict[str, Schema] = {
    "data": dataclass_schema(
        DataConfig,
        {
            "time_bins": AT_LEAST_ONE,
            # frames are the 128 x 128 sensor downsampled: a larger size only adds memory
            "size": Rule(lambda n: 1 <= n <= SENSOR_PIXELS, f"an integer in [1, {SENSOR_PIXELS}] (pixels)"),
        },
    ),
    "model": dataclass_schema(
        VisionModelConfig,
        {
            "stem_width": AT_LEAST_ONE,
            "widths": Rule(lambda ws: len(ws) > 0 and min(ws) >= 1, "a non-empty array of integers >= 1"),
            "depth": AT_LEAST_ONE,
            # a decay: beta > 1 makes the membrane grow without input; 0 forgets at every step
            "beta": Rule(lambda b: 0 < b <= 1, "a decay in (0, 1]"),
            "threshold": Rule(lambda t: t > 0, "a number > 0 (a neuron at threshold <= 0 fires always)"),
            "kernel_size": AT_LEAST_ONE,
            "pool": AT_LEAST_ONE,
        },
        # fixed by the data set: two polarities in, its classes out
        exclude=("in_channels", "num_classes"),
    ),
    "train": dataclass_schema(
        TrainConfig,
        {
            "epochs": AT_LEAST_ONE,
            "batch_size": AT_LEAST_ONE,
            "lr": Rule(lambda r: r > 0, "a number > 0"),
            "weight_decay": Rule(lambda w: w >= 0, "a number >= 0"),
            "seed": SEED,
        },
    ),
    "analysis": dataclass_schema(
        AnalysisConfig,
        {
            "variants": Rule(_distinct_variants, f"distinct names from {', '.join(VARIANTS)}"),
            "activity_samples": Rule(lambda n: n >= 1, "a positive number of samples"),
        },
        exclude=("data", "model", "train"),  # the sections above
    ),
}


def _require_memory(path: Path, data: DataConfig, model: VisionModelConfig, train: TrainConfig) -> None:
    """Refuse sizes that cannot fit in memory. A lower bound of a training step: one batch's
    input frames and the stem layer's output at full resolution over every time bin, and one
    convolution per block with its gradient and Adam's two moments (float32)."""
    per_pixel = data.time_bins * data.size**2 * (model.in_channels + model.stem_width)
    channels = [model.in_channels, model.stem_width, *model.widths]  # one convolution per block at least
    weights = model.kernel_size**2 * sum(a * b for a, b in zip(channels, channels[1:]))
    nbytes = FLOAT32 * (train.batch_size * per_pixel + 4 * weights)
    require_memory(path, "data.time_bins", nbytes, "time_bins, size, widths, kernel_size and batch_size")


def load_config(path: str | Path) -> AnalysisConfig:
    """Read an analysis configuration; every key is optional, unknown keys are refused.

    Raises:
        InputError: unreadable file, invalid TOML, an unknown section or key, a wrong type or
            an invalid value, naming the key; a ``cache_dir`` that cannot be written or would
            replace a file.
    """
    path = Path(path)
    raw = read_toml(path)
    for section in raw:
        if section not in SCHEMA:
            raise InputError(path, section, f"one of the sections [{'], ['.join(SCHEMA)}]")
    sections = {section: check_section(path, section, table, SCHEMA[section]) for section, table in raw.items()}
    analysis = dict(sections.get("analysis", {}))
    variants = tuple(analysis.pop("variants", VARIANTS))
    parts = {}
    for section, kind in (("data", DataConfig), ("model", VisionModelConfig), ("train", TrainConfig)):
        try:
            parts[section] = kind(**sections.get(section, {}))
        except ValueError as err:  # the dataclasses' own checks of values (an unknown family, ...)
            raise InputError(path, f"[{section}]", f"valid settings ({err})") from err
    _require_memory(path, parts["data"], parts["model"], parts["train"])
    cache_dir = parts["data"].cache_dir
    if cache_dir is not None:  # a folder the run writes to: the config must not point it at a file of the user's
        check_output(cache_dir, "data.cache_dir", [path], folder=True, source=path)
    return AnalysisConfig(**parts, variants=variants, **analysis)
