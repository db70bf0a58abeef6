"""The layout table in docs/architecture.md names every module of the three packages, and only
modules that exist: one table, kept in step with the tree."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("snn_core", "bmi_decoder", "vision_bench")
ARCHITECTURE = ROOT / "docs" / "architecture"


def layout_paths() -> list[str]:
    """The first cell of every row of the '## Layout' section's table, as written."""
    text = ARCHITECTURE.with_suffix(".md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for m in re.finditer(r"^\| `([^`]+)`", section, flags=re.MULTILINE)]


def package_modules() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py"
    }


def test_every_package_module_is_in_the_layout_table():
    missing = sorted(package_modules() - set(layout_paths()))
    assert not missing, f"add to docs/architecture's layout table: {missing}"


def test_every_path_in_the_layout_table_exists_once():
    paths = layout_paths()
    assert len(paths) == len(set(paths)), "a path is listed twice"
    gone = [p for p in paths if not (ROOT / p).exists()]
    assert not gone, f"listed in docs/architecture's layout table but not in the tree: {gone}"
