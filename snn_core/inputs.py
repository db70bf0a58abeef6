"""The check every input file of a command goes through before it is opened.

Opening a FIFO for reading blocks until something writes to it, so a FIFO (or a terminal, a
socket) named as a checkpoint or a config would hang a command forever; a symbolic link loop
would end in a traceback. Both are refused here, with one line, before anything is opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from snn_core.errors import InputError


def check_input_file(path: str | Path, what: str) -> None:
    """Refuse an input that is not an existing regular file, without opening it.

    Args:
        path: the file a command is about to read.
        what: what it should be, in words (``"decoder checkpoint"``), for the message.

    Raises:
        InputError: naming ``path``: missing, a folder, a FIFO, socket or device, a symbolic
            link loop, or not accessible.
    """
    try:
        mode = os.stat(path).st_mode  # follows symbolic links, as opening would
    except FileNotFoundError:
        raise InputError(path, "file", f"an existing file (a {what})") from None
    except OSError as err:  # ELOOP (a symbolic link loop), EACCES, ENAMETOOLONG, ...
        raise InputError(path, "file", f"a readable {what} ({err.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InputError(path, "file", f"a {what} file, not a folder")
    if not stat.S_ISREG(mode):
        raise InputError(path, "file", f"a {what} (a regular file), not a FIFO, socket or device")
