"""The one check every output path of every command goes through, before any work.

An output must never cost the user a file: it may not be one of the command's inputs (the config
included, also through symbolic or hard links), an existing file that is not an earlier output of
the same kind (a progress file set in a config to a recording, a report named after the user's
notes), a FIFO, device or folder, or a path through a symbolic link loop; and it must lie where
this process can create files (not under ``/proc``, a read-only mount or a file). Each refusal is
one :class:`~snn_core.errors.InputError` naming the path and the option or config key that set it.

"An earlier output of the same kind" is judged by the file's first bytes (its format's magic
number): cheap, and enough to tell a checkpoint from a recording, a config or a text file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from snn_core.atomic import NO_SPACE
from snn_core.errors import DiskFull, InputError

_HDF5 = b"\x89HDF\r\n\x1a\n"
_HEAD_BYTES = 1024  # enough for every signature below (HDF5 after a 512-byte user block)


@dataclass(frozen=True)
class OutputKind:
    """A kind of file the commands write, recognised by its first bytes.

    Args:
        what: the kind in words, for messages (``"a decoder checkpoint"``).
        recognise: whether the first :data:`_HEAD_BYTES` bytes of a file are of this kind.
    """

    what: str
    recognise: Callable[[bytes], bool]


def _torch_archive(head: bytes) -> bool:
    # torch.save writes a zip archive; files of torch before 1.6 are a bare pickle
    return head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")


def _json(head: bytes) -> bool:
    return head.lstrip()[:1] in (b"{", b"[")


CHECKPOINT = OutputKind("a checkpoint written by an earlier run (a torch archive)", _torch_archive)
PROGRESS = OutputKind("a progress file of an earlier run (a torch archive)", _torch_archive)
MAT = OutputKind("a MATLAB v7.3 recording", lambda h: h.startswith(b"MATLAB 7.3") or h[512:520] == _HDF5)
NWB = OutputKind("an NWB recording (HDF5)", lambda h: h.startswith(_HDF5))
NIR = OutputKind("a NIR graph (HDF5)", lambda h: h.startswith(_HDF5))
JSON = OutputKind("a JSON report of an earlier run", _json)
MARKDOWN = OutputKind("a Markdown report of an earlier run", lambda h: h.startswith(b"#"))
PNG = OutputKind("a PNG figure", lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"))
NPY = OutputKind("a NumPy array file", lambda h: h.startswith(b"\x93NUMPY"))
AEDAT4 = OutputKind("an AEDAT 4 recording", lambda h: h.startswith(b"#!AER-DAT4.0"))


def _resolve(path: Path) -> Path | None:
    """``path`` with every symbolic link followed; None for a link loop (Python 3.11 raises
    RuntimeError there, 3.13 OSError)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links too
    except OSError:
        return False


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(_HEAD_BYTES)


def _check_existing_file(path: Path, target: Path, option: str, source: str | Path, kind: OutputKind) -> None:
    mode = target.stat().st_mode
    if stat.S_ISDIR(mode):
        raise InputError(source, option, f"a file, not an existing folder ({path})")
    if not stat.S_ISREG(mode):
        raise InputError(source, option, f"a regular file, but {path} is a FIFO, socket or device")
    try:
        head = _head(target)
    except OSError as err:
        raise InputError(source, option, f"a file this process can replace, but {path} cannot be read ({err.strerror})") from None
    if head and not kind.recognise(head):
        raise InputError(
            source, option, f"a new file or {kind.what}, but {path} holds something else, which writing would replace"
        )


def _check_writable(path: Path, folder: Path, option: str, source: str | Path) -> None:
    """Check the permission bits, then create (and remove) a file in ``folder``: the only test
    that also catches ``/proc``, read-only mounts and access control lists, which the bits do not
    show."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(source, option, f"a writable location, but {folder} is not writable")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
    except OSError as err:
        if err.errno in NO_SPACE:
            raise DiskFull(path) from None
        raise InputError(source, option, f"a writable location, but {folder} is not writable ({err.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def check_output(
    path: str | Path,
    option: str,
    inputs: Iterable[str | Path | None] = (),
    *,
    kind: OutputKind | None = None,
    folder: bool = False,
    contents: Mapping[str, OutputKind] | None = None,
    source: str | Path | None = None,
) -> None:
    """Refuse, before any work, an output that would cost the user a file or cannot be written.

    Args:
        path: the file (or folder) a command is about to write.
        option: the command-line option, argument or config key that named it.
        inputs: the files the command reads, config included (None entries, i.e. options not
            given, are skipped).
        kind: what the command writes at ``path`` (a file): an existing file there must be of
            this kind, i.e. an earlier output of the same command. Required for files.
        folder: whether ``path`` is a folder to write files into, rather than a file.
        contents: for a folder, the files the command writes in it and their kinds, each
            checked like a file output.
        source: the file to name in messages when the path came from one (a config); default
            ``path`` itself.

    Raises:
        InputError: naming ``source`` and ``option``, for any of the refusals above.
        DiskFull: the file system has no room for even an empty file.
    """
    if not folder and kind is None:
        raise TypeError("check_output: the kind of a file output is required")
    path = Path(path)
    source = path if source is None else source
    target = _resolve(path)
    if target is None:
        raise InputError(source, option, f"a path without a symbolic link loop, but {path} has one")
    for given in inputs:
        if given is None:
            continue
        given = Path(given)
        if _resolve(given) == target or _same_file(given, target):
            raise InputError(source, option, f"a path other than the input {given}, which writing would replace")
    if target.exists():
        if folder and not target.is_dir():
            raise InputError(source, option, f"a folder, not an existing file ({path})")
        if not folder:
            _check_existing_file(path, target, option, source, kind)
    # the nearest folder that exists is where the missing ones (and atomic temporary files) are made
    existing = target if folder else target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(source, option, f"a location under a folder, but {existing} is a file")
    _check_writable(path, existing, option, source)
    for name, content_kind in (contents or {}).items():
        check_output(path / name, option, inputs, kind=content_kind, source=source)
