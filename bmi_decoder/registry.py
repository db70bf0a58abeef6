"""The data set registry: every known data file with its URL, MD5, size and citation.

The canonical file is ``datasets/registry.toml`` at the top of the repository (docs/architecture.md).
``bmi_decoder/registry.toml`` is a symbolic link to it: in a checkout (editable install) the link
leads to the canonical file, and a wheel stores the content behind the link as package data, so
one look-up through :mod:`importlib.resources` works for both, with no copy to keep in sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from snn_core.config import read_toml
from snn_core.errors import InputError

KINDS = ("reaching-session", "dvs-archive")

_MD5 = re.compile(r"[0-9a-f]{32}")
_REQUIRED = ("kind", "url", "md5", "citation")
_OPTIONAL = ("file", "size_mb", "monkey", "channels")
# docs/data.md: Utah arrays of 96 (M1) or 192 (M1 + S1) channels.
_CHANNEL_COUNTS = (96, 192)


@dataclass(frozen=True)
class DatasetEntry:
    """One downloadable data file.

    Attributes:
        name: the registry key, e.g. ``"indy_20160630_01"``.
        kind: ``"reaching-session"`` or ``"dvs-archive"``.
        url: where the file is published.
        md5: MD5 digest of the whole file, 32 lower-case hexadecimal digits.
        file: path of the file under a download root, in POSIX form.
        citation: the work to cite when using the file.
        size_mb: approximate size in MB, or None where unknown.
        monkey: ``"Indy"`` or ``"Loco"`` for reaching sessions, else None.
        channels: 96 or 192 for reaching sessions, else None.
    """

    name: str
    kind: str
    url: str
    md5: str
    file: str
    citation: str
    size_mb: float | None = None
    monkey: str | None = None
    channels: int | None = None


def default_registry_path() -> Path:
    """The registry shipped with the package (the link to ``datasets/registry.toml``)."""
    return Path(str(resources.files("bmi_decoder") / "registry.toml"))


def default_download_root() -> Path:
    """The repository's ``datasets/`` folder when running from a checkout, else ``./datasets``.

    docs/architecture.md makes ``datasets/`` both the registry's home and the default download root;
    in a checkout the packaged link resolves into it, in an installed wheel it does not.
    """
    canonical = default_registry_path().resolve()
    if canonical.parent.name == "datasets":
        return canonical.parent
    return Path("datasets")


def load_registry(path: str | Path | None = None) -> dict[str, DatasetEntry]:
    """Read and validate a registry TOML file.

    Args:
        path: the registry file; None reads the one shipped with the package.

    Returns:
        The entries by name, in file order.

    Raises:
        InputError: the file is missing or not TOML, or an entry lacks a field, has an unknown
            field or a value of the wrong form (e.g. an MD5 that is not 32 hex digits).
    """
    path = default_registry_path() if path is None else Path(path)
    table = read_toml(path)
    return {name: _entry(path, name, fields) for name, fields in table.items()}


def _entry(path: Path, name: str, fields: Any) -> DatasetEntry:
    if not isinstance(fields, dict):
        raise InputError(path, name, "a table of data set fields ([name] followed by key = value)")
    for key in _REQUIRED:
        if key not in fields:
            raise InputError(path, f"{name}.{key}", f"a value (required keys: {', '.join(_REQUIRED)})")
    unknown = sorted(set(fields) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise InputError(path, f"{name}.{unknown[0]}", f"one of the known keys {', '.join(_REQUIRED + _OPTIONAL)}")
    for key in ("kind", "url", "md5", "citation", "file", "monkey"):
        if key in fields and not isinstance(fields[key], str):
            raise InputError(path, f"{name}.{key}", "a string")

    kind, url, md5 = fields["kind"], fields["url"], fields["md5"]
    if kind not in KINDS:
        raise InputError(path, f"{name}.kind", f"one of {', '.join(KINDS)} (got {kind!r})")
    if not url.startswith(("https://", "http://")):
        raise InputError(path, f"{name}.url", f"an http:// or https:// URL (got {url!r})")
    if not _MD5.fullmatch(md5):
        raise InputError(path, f"{name}.md5", f"32 lower-case hexadecimal digits, an MD5 digest (got {md5!r})")
    file = fields.get("file", url.rstrip("/").rsplit("/", 1)[-1])
    parts = PurePosixPath(file).parts
    if not parts or file.startswith("/") or ".." in parts:
        raise InputError(path, f"{name}.file", f"a relative path inside the download root (got {file!r})")

    size_mb = fields.get("size_mb")
    if size_mb is not None and (isinstance(size_mb, bool) or not isinstance(size_mb, int | float) or size_mb <= 0):
        raise InputError(path, f"{name}.size_mb", f"a positive number (got {size_mb!r})")
    monkey, channels = fields.get("monkey"), fields.get("channels")
    if kind == "reaching-session":
        if monkey is None or channels is None:
            raise InputError(path, f"{name}.{'monkey' if monkey is None else 'channels'}", "a value for a reaching-session")
        if isinstance(channels, bool) or channels not in _CHANNEL_COUNTS:
            raise InputError(path, f"{name}.channels", f"96 or 192 (got {channels!r})")
    elif monkey is not None or channels is not None:
        raise InputError(
            path, f"{name}.{'monkey' if monkey is not None else 'channels'}", "no value: only reaching sessions have one"
        )

    return DatasetEntry(
        name=name,
        kind=kind,
        url=url,
        md5=md5,
        file=file,
        citation=fields["citation"],
        size_mb=None if size_mb is None else float(size_mb),
        monkey=monkey,
        channels=channels,
    )
