"""The packages' public API: every name in ``__all__`` imports, from where it is defined, lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ("snn_core", "bmi_decoder", "vision_bench")
HEAVY = ("torch", "optuna", "matplotlib", "tonic", "numba", "h5py", "pynwb")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_imports(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ and len(set(module.__all__)) == len(module.__all__)
    namespace: dict = {}
    exec(f"from {package} import *", namespace)  # noqa: S102 - the star import is what is tested
    assert set(module.__all__) <= set(namespace)
    for name in module.__all__:
        value = getattr(module, name)
        assert namespace[name] is value
        defined_in = getattr(value, "__module__", None)
        if defined_in is not None:  # a class or function: its home module is part of the package
            assert defined_in.split(".")[0] == package, (name, defined_in)
    assert set(module.__all__) <= set(dir(module))


@pytest.mark.parametrize("package", PACKAGES)
def test_unknown_name_is_an_attribute_error(package: str) -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = importlib.import_module(package).no_such_name


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_a_package_imports_no_heavy_dependency(package: str) -> None:
    """The command lines and worker processes import these packages first: the public API is
    resolved on use, so a bare import stays as cheap as it was before it existed."""
    probe = f"import sys, {package}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
