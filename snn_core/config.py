"""Experiment configurations are TOML files (``configs/``); reading or checking one fails as bad input.

Both frontends describe each section of their files with a schema (key -> :class:`Field`) and
check it with :func:`check_section` when the file is read, so a misspelt key or a value of the
wrong type (``epochs = 2.5``, ``bin_width = "0.004"``, ``lag = nan``) stops the command before
any data is read, with one line naming the file, the key and what was expected. A section that
fills a dataclass takes its schema from the dataclass (:func:`dataclass_schema`): its fields name
the keys and their annotations the types, so the file format and the typed object cannot drift.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snn_core.errors import InputError
from snn_core.inputs import check_input_file
from snn_core.names import SEED_MAX


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


@dataclass(frozen=True)
class Rule:
    """A check of a well-typed value beyond its type, for :func:`dataclass_schema`.

    Args:
        valid: True for the values the setting accepts.
        expected: what ``valid`` accepts, in words, for the error message.
    """

    valid: Callable[[Any], bool]
    expected: str


SEED = Rule(lambda s: 0 <= s <= SEED_MAX, f"an integer in [0, {SEED_MAX}]")
"""The rule of every ``seed`` setting."""


def _kind(hint: Any, where: str) -> tuple[type, type | None]:
    """The TOML kind (and array item type) of a field annotation: ``X | None`` is an optional
    ``X`` (left out of the file), a homogeneous tuple or list is an array."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _kind(rest[0], where)
    elif typing.get_origin(hint) is dict:
        return dict, None
    elif typing.get_origin(hint) in (tuple, list):
        items = {a for a in args if a is not Ellipsis}
        if len(items) == 1 and next(iter(items)) in _TYPE_WORDS:
            return list, next(iter(items))
    elif hint in _TYPE_WORDS:
        return hint, None
    raise TypeError(f"{where}: no TOML kind for the annotation {hint!r}")


def dataclass_schema(cls: type, rules: Mapping[str, Rule] | None = None, exclude: Collection[str] = ()) -> dict[str, Field]:
    """The schema of a config section that fills dataclass ``cls``: one key per field.

    Args:
        cls: the dataclass; its fields are the keys, their annotations the kinds (``int``,
            ``float``, ``str``, ``bool``, ``dict`` or ``dict[...]``, ``X | None``, a tuple or
            list of one of these).
        rules: further checks of some fields' values, by field name.
        exclude: fields that the section does not set (filled from elsewhere).

    Raises:
        TypeError: a rule or an exclusion names no field, or a field's annotation has no TOML
            kind (programming errors, found when the module defining the schema is imported).
    """
    rules = dict(rules or {})
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = (set(rules) | set(exclude)) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    schema = {}
    for name in names:
        if name in exclude:
            continue
        kind, item = _kind(hints[name], f"{cls.__name__}.{name}")
        rule = rules.get(name)
        schema[name] = Field(kind, item, rule.valid if rule else None, rule.expected if rule else "")
    return schema


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
