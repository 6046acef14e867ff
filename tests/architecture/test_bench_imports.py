"""Benchmarks are not run by ``make test``, so a moved module would break them unnoticed; this reads their imports.

Every ``from yiwang… import name`` in bench/ and tools/ (at any depth, since
benchmarks import after configuring Django) must name a module that imports
and a name it defines.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted([*(ROOT / "bench").glob("*.py"), *(ROOT / "tools").rglob("*.py")])


def _yiwang_imports(path: Path) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "yiwang":
            found.extend((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names if alias.name.split(".")[0] == "yiwang")
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_yiwang_name_a_script_imports_exists(script: Path) -> None:
    missing = []
    for module_name, name in _yiwang_imports(script):
        module = importlib.import_module(module_name)
        if name not in (None, "*") and not hasattr(module, name):
            try:
                importlib.import_module(f"{module_name}.{name}")
            except ImportError:
                missing.append(f"{module_name}.{name}")
    assert missing == [], f"{script.name} imports names that no longer exist: {missing}"
