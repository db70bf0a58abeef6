"""The one error type for bad user input.

Every console script of the project promises the same contract (docs/architecture.md): bad input
gives exit status 2 and one line naming the file, the field and what was expected.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input: a file, a field in it, and what was expected there.

    Args:
        source: the file (or other input, e.g. ``"--decoders"``) at fault.
        field: the field, key or argument within it.
        expected: what was expected, in words.
    """

    def __init__(self, source: str | Path, field: str, expected: str) -> None:
        self.source = str(source)
        self.field = field
        self.expected = expected
        super().__init__(f"{self.source}: {field}: expected {expected}")


class NoTrialCompleted(RuntimeError):
    """Every trial of a search failed (e.g. training diverged, out of memory): there is no best.

    The console scripts report it as one line and exit status 1.
    """


class DiskFull(InputError):
    """A write ran out of room: the disk (or the user's quota) is full.

    Reported like bad input, one line and exit status 2 (``PATH: no space left on device``): the
    remedy is the user's (free space, or write elsewhere), and nothing half-written is left.
    """

    def __init__(self, path: str | Path) -> None:
        self.source = str(path)
        self.field = "disk"
        self.expected = "free space for the file"
        ValueError.__init__(self, f"{self.source}: no space left on device")
