"""Atomic file writes: a temporary file in the target's folder, then a rename.

The temporary name keeps the suffix so that writers choosing a format by it (savefig) still work.

Reports, checkpoints and caches must never be left half-written (docs/architecture.md); a rename
within one file system is atomic on POSIX, so readers see the old file or the new one.
:func:`check_output` is what every command runs on its output paths before any work: an output
must never replace one of the command's inputs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from snn_core.errors import InputError


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the process umask (POSIX reads the umask
    only by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


# mkstemp creates its file 0600; the renamed result gets the mode any new file would get, so that
# a report or checkpoint is as readable as the user's other files.
_NEW_FILE_MODE = _new_file_mode()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    Usable with any writer that takes a file name (``torch.save``, ``h5py.File``, ``savefig``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _NEW_FILE_MODE)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def check_output(path: str | Path, option: str, inputs: Iterable[str | Path | None] = (), folder: bool = False) -> None:
    """Refuse, before any work, an output that would replace an input or cannot be written.

    Args:
        path: the file (or folder) a command is about to write.
        option: the command-line option or argument that named it, for the message.
        inputs: the files the command reads (None entries, i.e. options not given, are skipped).
        folder: whether ``path`` is a folder to write files into, rather than a file.

    Raises:
        InputError: naming ``path`` and ``option`` when it resolves (symbolic links followed) to
            one of ``inputs``, is a folder where a file is expected or a file where a folder is,
            or lies under a file or a folder this process cannot write to.
    """
    target = Path(path).resolve()
    for source in inputs:
        if source is not None and Path(source).resolve() == target:
            raise InputError(path, option, f"a path other than the input {source}, which writing would replace")
    if folder and target.exists() and not target.is_dir():
        raise InputError(path, option, "a folder, not an existing file")
    if not folder and target.is_dir():
        raise InputError(path, option, "a file, not an existing folder")
    # the nearest folder that exists is where the missing ones (and atomic temporary files) are made
    existing = target if folder else target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(path, option, f"a location under a folder, but {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(path, option, f"a writable location, but {existing} is not writable")
