"""Experiment configurations are TOML files (``configs/``); reading or checking one fails as bad input.

Both frontends describe each section of their files with a schema (key -> :class:`Field`) and
check it with :func:`check_section` when the file is read, so a misspelt key or a value of the
wrong type (``epochs = 2.5``, ``bin_width = "0.004"``, ``lag = nan``) stops the command before
any data is read, with one line naming the file, the key and what was expected.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snn_core.errors import InputError
from snn_core.inputs import check_input_file


def read_toml(path: str | Path) -> dict:
    """Parse a TOML config file.

    Raises:
        InputError: the file is missing or unreadable, or not valid TOML (naming the line).
    """
    path = Path(path)
    if path.exists():  # a missing file is reported by open() below, with the system's reason
        check_input_file(path, "TOML config file")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as err:
        raise InputError(path, "file", f"a readable TOML config file ({err.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, "syntax", f"valid TOML ({err})") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise InputError(path, "syntax", "TOML nested less deeply (arrays or inline tables hundreds of levels deep)") from None


@dataclass(frozen=True)
class Field:
    """What one key of a config section must hold.

    Args:
        kind: ``int``, ``float``, ``str``, ``bool`` or ``dict`` (a table); with ``item`` set,
            ``list`` (a TOML array).
        item: the type of every array item, for ``kind=list``.
        valid: a further check of a well-typed value (None: any value of the type).
        expected: what ``valid`` accepts, in words, for the error message.
    """

    kind: type
    item: type | None = None
    valid: Callable[[Any], bool] | None = None
    expected: str = ""


Schema = Mapping[str, Field]

# One value of each type, and several, in words.
_TYPE_WORDS = {
    int: ("an integer", "integers"),
    float: ("a finite number", "finite numbers"),
    str: ("a string", "strings"),
    bool: ("true or false", "booleans"),
    dict: ("a table", "tables"),
}


def _has_type(value: object, kind: type) -> bool:
    if isinstance(value, bool):  # TOML true/false is no number, though Python's bool is an int
        return kind is bool
    if kind is float:  # an integer is a number too; nan and inf are never a sensible setting
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


def _type_words(spec: Field) -> str:
    if spec.kind is list:
        return f"an array of {_TYPE_WORDS[spec.item][1]}"
    return _TYPE_WORDS[spec.kind][0]


def check_section(source: str | Path, prefix: str, table: object, schema: Schema) -> dict[str, Any]:
    """Check one config table against its schema: known keys, the right types, valid values.

    Args:
        source: the config file, named in errors.
        prefix: the section's name (``"train"``), prefixed to keys in errors; ``""`` for the
            top level.
        table: what the file holds there.
        schema: key -> :class:`Field`.

    Returns:
        ``table``, now known to be a dict of well-typed values.

    Raises:
        InputError: ``table`` is no table, or a key is unknown, or a value has the wrong type
            or is invalid; the message names the key and what was expected.
    """
    if not isinstance(table, dict):
        raise InputError(source, prefix, f"a table of {', '.join(schema)}, not {table!r}")
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if key not in schema:
            raise InputError(source, name, f"one of {', '.join(schema)}")
        spec = schema[key]
        if spec.kind is list:
            well_typed = isinstance(value, list) and all(_has_type(item, spec.item) for item in value)
        else:
            well_typed = _has_type(value, spec.kind)
        if not well_typed:
            raise InputError(source, name, f"{_type_words(spec)}, not {value!r}")
        if spec.valid is not None and not spec.valid(value):
            raise InputError(source, name, f"{spec.expected}, not {value!r}")
    return table
