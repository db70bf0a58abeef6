"""Property-based fuzzing of the TOML config loaders: a config object or an `InputError`.

Starting from the shipped configs, each example drops keys, replaces values with values of other
types (NaN, infinity, huge and negative numbers, strings, lists, tables, booleans), or corrupts
the text, and loads the result with ``bmi_decoder.experiment.load_config`` and
``vision_bench.config.load_config`` (both built on ``snn_core.config``). Derandomized.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bmi_decoder.experiment import load_config as load_bmi_config
from snn_core.errors import InputError
from vision_bench.config import load_config as load_vision_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LOADERS: dict[str, Callable[[Path], object]] = {
    "bmi_demo.toml": load_bmi_config,
    "vision_demo.toml": load_vision_config,
    "vision_cifar10dvs.toml": load_vision_config,
}

scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e300]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abcdlr_", min_size=1, max_size=6), inner, max_size=2),
    max_leaves=4,
)


def _toml(value: object) -> str:
    """``value`` as a TOML inline value (tables inline, so any nesting serialises)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int | str):
        return repr(value) if isinstance(value, int) else '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + "}"


def _keys(table: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in table.items():
        found.append((*prefix, key))
        if isinstance(value, dict):
            found.extend(_keys(value, (*prefix, key)))
    return found


@pytest.mark.parametrize("name", sorted(LOADERS))
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_config_loads_or_raises_input_error(name: str, tmp_path: Path, data) -> None:
    config = tomllib.loads((CONFIGS / name).read_text())
    keys = _keys(config)
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(keys))
        parent = config
        for part in key[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue  # an earlier mutation replaced a table above this key
        if data.draw(st.booleans()):
            parent.pop(key[-1], None)
        else:
            parent[key[-1]] = data.draw(values)
    text = "\n".join(f'"{k}" = {_toml(v)}' for k, v in config.items())
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(text)))
        text = text[:cut] + data.draw(st.text(max_size=4)) + text[cut + 1 :]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        LOADERS[name](path)
    except InputError as err:
        assert str(path) in str(err) or "config" in str(err)
