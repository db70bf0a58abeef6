"""Experiment configurations are TOML files (``configs/``); reading one fails as bad input."""

from __future__ import annotations

import tomllib
from pathlib import Path

from snn_core.errors import InputError


def read_toml(path: str | Path) -> dict:
    """Parse a TOML config file.

    Raises:
        InputError: the file is missing or unreadable, or not valid TOML (naming the line).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as err:
        raise InputError(path, "file", f"a readable TOML config file ({err.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, "syntax", f"valid TOML ({err})") from None
