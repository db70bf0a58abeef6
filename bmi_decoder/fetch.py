"""Download a registry entry: resumable, MD5-verified, never a corrupt file under the final name.

The Zenodo sessions are 90 MB to 1.2 GB (docs/data.md), so a cut connection must not cost the bytes
already received: the download goes to ``<file>.part``, a later attempt (or a later run) asks the
server only for the rest with an HTTP ``Range`` request, and only a file whose MD5 matches the
registry is renamed onto the final name. The rename is atomic (one file system), which gives the
same guarantee as :func:`snn_core.atomic.atomic_path`; the ``.part`` name is fixed rather than
random because a later run must find it to resume.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from bmi_decoder.registry import DatasetEntry
from snn_core.errors import InputError

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0
_ATTEMPTS = 3
_RETRY_DELAY_S = 2.0
_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)")


class DownloadError(OSError):
    """The network failed (no connection, server error, repeated cuts); running again resumes."""


def file_md5(path: Path) -> str:
    """MD5 hex digest of a file."""
    return _md5_of(path).hexdigest()


def _md5_of(path: Path) -> hashlib._Hash:
    """An MD5 object fed with a file, read in chunks (sessions reach 1.2 GB), ready for more bytes."""
    digest = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest


def source_url(entry: DatasetEntry, base_url: str | None = None) -> str:
    """The URL to download ``entry`` from: its own, or ``<base_url>/<file name>`` on a mirror."""
    if base_url is None:
        return entry.url
    if not base_url.startswith(("http://", "https://")):
        raise InputError("--base-url", "scheme", f"an http:// or https:// URL (got {base_url!r})")
    return f"{base_url.rstrip('/')}/{PurePosixPath(entry.file).name}"


def fetch(entry: DatasetEntry, root: str | Path, base_url: str | None = None, progress: bool = True) -> Path:
    """Download ``entry`` to ``<root>/<entry.file>`` unless a verified copy is already there.

    Args:
        entry: the registry entry.
        root: the download root.
        base_url: a mirror folder serving the file under its own name; None uses ``entry.url``.
        progress: show a tqdm progress bar.

    Returns:
        The path of the verified file.

    Raises:
        InputError: the server refuses the URL (HTTP 4xx), the download's MD5 differs from the
            registry (the partial file is removed), or a file already under the final name has
            another MD5 (it is left alone).
        DownloadError: the network failed ``_ATTEMPTS`` times in a row; the ``.part`` file keeps
            what arrived, and running again resumes from there.
    """
    final = Path(root) / entry.file
    if final.exists():
        found = file_md5(final)
        if found != entry.md5:
            raise InputError(final, "md5", f"{entry.md5} (the file there has {found}; move it away to download again)")
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    url = source_url(entry, base_url)

    for attempt in range(_ATTEMPTS):
        try:
            digest = _download(url, part, entry.name, progress)
            break
        except (OSError, http.client.HTTPException) as err:
            if attempt == _ATTEMPTS - 1:
                kept = part.stat().st_size if part.exists() else 0
                where = f"the {kept:,} bytes received are kept in {part}" if kept else "no bytes were received"
                raise DownloadError(f"{url}: {err}; {where}: run again to resume") from err
            time.sleep(_RETRY_DELAY_S * (attempt + 1))
    if digest != entry.md5:
        # A corrupt .part cannot be repaired by resuming it, so it goes; the final name was never used.
        part.unlink()
        raise InputError(final, "md5", f"{entry.md5} (the download from {url} has {digest} and was removed)")
    os.replace(part, final)
    return final


def _download(url: str, part: Path, label: str, progress: bool) -> str:
    """One HTTP request that completes ``part``; returns the MD5 of the whole file.

    Raises:
        InputError: HTTP 4xx other than an unsatisfiable range.
        OSError, http.client.HTTPException: the network failed or the transfer was cut short.
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            # Range starts at or past the end: the .part is already whole (a run cut between the
            # last byte and the rename) or longer than the file (then start again).
            header = err.headers.get("Content-Range")
            total = _content_range(header)[1] if header else None
            if total == offset:
                return file_md5(part)
            part.unlink()
            raise http.client.HTTPException(f"the server has no bytes from {offset} on; starting over") from err
        if 400 <= err.code < 500:
            raise InputError(url, "HTTP status", f"200 or 206 (got {err.code} {err.reason})") from err
        raise

    with response:
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise http.client.HTTPException(f"server sent bytes from {start}, not from {offset}")
            digest = _md5_of(part) if offset else hashlib.md5()
            mode = "ab"
        else:
            # 200: the server ignored the Range header and sends the whole file, so start over.
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            offset, digest, mode = 0, hashlib.md5(), "wb"
        with (
            part.open(mode) as out,
            tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=label, disable=not progress
            ) as bar,
        ):
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    received = part.stat().st_size
    if total is not None and received < total:
        raise http.client.IncompleteRead(b"", total - received)
    return digest.hexdigest()


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total length) from ``Content-Range: bytes 100-199/200`` or ``bytes */200``."""
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    if match is None:
        raise http.client.HTTPException(f"malformed Content-Range header {header!r}")
    start, total = match.groups()
    return (None if start is None else int(start)), (None if total == "*" else int(total))
