"""The app boundaries of docs/adr/0010-app-boundaries.md hold, and the contracts would catch a breach.

``make lint`` runs the contracts on the real tree; these tests also prove
that they are not vacuous: a copy of the tree with one forbidden import
added must fail, naming the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(source_root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source_root), str(ROOT / "tools" / "lint")])}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=source_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src" / "yiwang", tmp_path / "yiwang", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_lower_app_importing_a_higher_one_breaks_the_layers(tree_copy: Path) -> None:
    (tree_copy / "yiwang" / "core" / "reach_up.py").write_text("from yiwang.cases import services\n")
    result = _lint(tree_copy)
    assert result.returncode != 0
    assert "yiwang.core is not allowed to import yiwang.cases" in result.stdout
    assert "yiwang.core.reach_up -> yiwang.cases.services" in result.stdout


def test_importing_another_apps_models_breaks_the_public_face(tree_copy: Path) -> None:
    (tree_copy / "yiwang" / "feedback" / "peek.py").write_text("from yiwang.cases.models import Case\n")
    result = _lint(tree_copy)
    assert result.returncode != 0
    assert "yiwang.feedback.peek imports yiwang.cases.models" in result.stdout


def test_a_type_only_import_is_not_a_dependency(tree_copy: Path) -> None:
    (tree_copy / "yiwang" / "feedback" / "typed.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from yiwang.cases.models import Case\n"
    )
    result = _lint(tree_copy)
    assert "yiwang.feedback.typed" not in result.stdout
