"""Atomic file writes: a temporary file in the target's folder, then a rename.

The temporary name keeps the suffix so that writers choosing a format by it (savefig) still work,
and names the host and process that write it, so that the next run removes the leftovers of a
killed one (:func:`remove_stale_temporaries`) and never a temporary file another process is
still writing.

Reports, checkpoints and caches must never be left half-written (docs/architecture.md); a rename
within one file system is atomic on POSIX, so readers see the old file or the new one. A disk that
fills up during a write is one error, :class:`~snn_core.errors.DiskFull`, with the temporary file
removed. Writers in native code that crash rather than report a failed write (HDF5 and torch's
zip writer under ENOSPC) write into memory first and hand the bytes to :func:`write_bytes_atomic`;
those that can only write to a path check for room first (:func:`require_space`).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from snn_core.errors import DiskFull

# errno values that mean the file system (or the user's quota on it) is full
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})

# A failed write in native code (torch, HDF5) may surface as an exception without an errno; when
# the file system then has less than this left, the failure is reported as a full disk.
_NEARLY_FULL_BYTES = 1 << 20

# who writes a temporary file: host and process id, in a form safe inside a file name
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the process umask (POSIX reads the umask
    only by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


# mkstemp creates its file 0600; the renamed result gets the mode any new file would get, so that
# a report or checkpoint is as readable as the user's other files.
_NEW_FILE_MODE = _new_file_mode()


def _temporary_prefix(path: Path) -> str:
    return f".{path.stem}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporary files of ``path`` left by a writer on this host that no longer runs
    (killed mid-write: SIGKILL, power loss); return them.

    Temporary files of live processes, and of other hosts sharing the folder, are left alone.
    """
    path = Path(path)
    prefix, suffix = _temporary_prefix(path), f".tmp{path.suffix}"
    removed = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        owner = name[len(prefix) :].split(".", 1)[0]
        host, _, pid = owner.rpartition("-")
        if host != _HOST or not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        stale = path.parent / name
        try:
            stale.unlink()
        except FileNotFoundError:
            continue  # another run cleaned it up first
        removed.append(stale)
    return removed


def _is_disk_full(err: BaseException, folder: Path) -> bool:
    """Whether ``err`` (raised while writing into ``folder``) means the disk is full."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in NO_SPACE:
            return True
        seen = seen.__cause__ or seen.__context__
    if isinstance(err, OSError):  # an OSError with another errno is what it says
        return False
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    Usable with any writer that takes a file name (``savefig``, plain ``open``). Leftover
    temporary files of ``path`` from killed runs are removed first.

    Raises:
        DiskFull: the file system filled up during the write (the temporary file is removed).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f"{_temporary_prefix(path)}{_HOST}-{os.getpid()}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _NEW_FILE_MODE)
        os.replace(tmp_path, path)
    except Exception as err:
        if isinstance(err, DiskFull) or _is_disk_full(err, path.parent):
            raise DiskFull(path) from None
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: str | Path, data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` atomically (a full disk raises :class:`DiskFull`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode())


def require_space(path: str | Path, nbytes: int) -> None:
    """Refuse to start a write of about ``nbytes`` to ``path`` that the disk has no room for.

    For writers in native code that abort the process instead of reporting a full disk
    (dv_processing's AEDAT writer), and for memory-mapped files, where a full disk is a SIGBUS.

    Raises:
        DiskFull: the nearest existing folder of ``path`` has less than ``nbytes`` free.
    """
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if shutil.disk_usage(folder).free < nbytes:
        raise DiskFull(path)


def reserve_space(path: str | Path) -> None:
    """Allocate the blocks of the file at ``path`` up to its size, so that writes through a memory
    map of it cannot meet a full disk (a sparse file gets its blocks on first write: SIGBUS).

    Raises:
        DiskFull: the file system has no room for it.
    """
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as err:
        if err.errno in NO_SPACE:
            raise DiskFull(path) from None
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system that cannot: as before
            raise
    finally:
        os.close(fd)


def keep_aside(path: str | Path, suffix: str) -> Path:
    """Rename ``path`` to ``path + suffix``, or ``path + suffix + ".N"`` with the first N free,
    never replacing an earlier copy; return the new name.

    A hard link claims the name (it fails if the name exists, where a rename would replace it),
    then the original name is removed.
    """
    path = Path(path)
    for n in range(10_000):
        aside = path.with_name(f"{path.name}{suffix}" + (f".{n}" if n else ""))
        try:
            os.link(path, aside)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: a rename onto a name seen free
            if aside.exists():
                continue
            os.rename(path, aside)
            return aside
        path.unlink()
        return aside
    raise FileExistsError(f"{path}: 10,000 copies kept aside already")
