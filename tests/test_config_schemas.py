"""Config schemas come from the dataclasses they fill: one source for the keys and their types."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from bmi_decoder.experiment import DATA_SCHEMA, ExperimentConfig
from bmi_decoder.preprocess import Preprocessing
from snn_core.config import Field, Rule, check_section, dataclass_schema
from snn_core.errors import InputError
from vision_bench.config import SCHEMA, AnalysisConfig, DataConfig
from vision_bench.models import VisionModelConfig
from vision_bench.train import TrainConfig


@dataclass(frozen=True)
class Settings:
    steps: int = 1
    rate: float = 0.5
    name: str | None = None
    widths: tuple[int, ...] = (1,)
    shares: tuple[float, float] = (0.5, 0.5)
    table: dict[str, dict] = field(default_factory=dict)


def test_kinds_come_from_the_annotations_and_rules_from_the_caller() -> None:
    schema = dataclass_schema(Settings, {"steps": Rule(lambda n: n >= 1, "an integer >= 1")}, exclude=("table",))
    assert list(schema) == ["steps", "rate", "name", "widths", "shares"]
    assert schema["rate"] == Field(float) and schema["name"] == Field(str)
    assert schema["widths"] == Field(list, int) and schema["shares"] == Field(list, float)
    assert check_section("s.toml", "s", {"steps": 2, "widths": [3]}, schema) == {"steps": 2, "widths": [3]}
    with pytest.raises(InputError, match="s.steps: expected an integer >= 1, not 0"):
        check_section("s.toml", "s", {"steps": 0}, schema)
    with pytest.raises(InputError, match="s.table: expected one of steps, rate, name, widths, shares"):
        check_section("s.toml", "s", {"table": {}}, schema)


def test_a_rule_or_exclusion_naming_no_field_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="no field stpes"):
        dataclass_schema(Settings, {"stpes": Rule(bool, "")})
    with pytest.raises(TypeError, match="no field colour"):
        dataclass_schema(Settings, exclude=("colour",))


def test_an_annotation_with_no_toml_kind_is_refused() -> None:
    @dataclass
    class Mixed:
        pair: tuple[int, str] = (1, "a")

    with pytest.raises(TypeError, match="Mixed.pair"):
        dataclass_schema(Mixed)


def _fields(cls: type, *left_out: str) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name not in left_out]


def test_each_config_section_is_its_dataclass() -> None:
    assert list(SCHEMA["data"]) == _fields(DataConfig)
    assert list(SCHEMA["model"]) == _fields(VisionModelConfig, "in_channels", "num_classes")
    assert list(SCHEMA["train"]) == _fields(TrainConfig)
    assert list(SCHEMA["analysis"]) == _fields(AnalysisConfig, "data", "model", "train")
    assert list(DATA_SCHEMA) == [*_fields(Preprocessing), "max_gap_s"]
    assert "max_gap_s" in _fields(ExperimentConfig)


def test_preprocessing_round_trips_through_its_record() -> None:
    preprocessing = Preprocessing(bin_width=0.02, mode="count", lag=-0.04, fractions=(0.6, 0.2, 0.2))
    assert Preprocessing.from_dict(preprocessing.to_dict(), "checkpoint", "meta.preprocessing") == preprocessing
    assert Preprocessing.from_dict({"bin_width": 1}, "c.toml", "data") == Preprocessing(bin_width=1.0)
