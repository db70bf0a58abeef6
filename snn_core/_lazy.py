"""Lazy re-exports for the packages' ``__init__``: a public name is imported on first use.

``import bmi_decoder`` runs no more than it did before the packages listed a public API: the
command lines, worker processes and small scripts that need one submodule do not pay for torch,
optuna, tonic or matplotlib through the package's ``__init__`` (PEP 562 module ``__getattr__``,
as SciPy and scikit-learn load their submodules).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for a package that re-exports names lazily.

    Args:
        package: the package's ``__name__``.
        exports: submodule (relative to ``package``, e.g. ``"decoders"``) -> the public names
            it provides, in the order ``__all__`` lists them.

    Returns:
        ``(__all__, __getattr__, __dir__)`` to assign in the package's ``__init__``. A name is
        imported from its submodule on first access and then stored in the package, so later
        accesses are plain attribute lookups.
    """
    origin = {name: f"{package}.{module}" for module, names in exports.items() for name in names}
    public = list(origin)

    def __getattr__(name: str) -> Any:
        if name not in origin:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(origin[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return public, __getattr__, __dir__
