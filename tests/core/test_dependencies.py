"""The lock files agree with pyproject.toml: every pinned dependency is locked at its pinned version."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _pins(text: str) -> dict[str, str]:
    return {_name(name): version for name, version in PIN_RE.findall(text)}


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _declared(*groups: list[str]) -> dict[str, str]:
    declared = _pins("\n".join(line for group in groups for line in group))
    assert declared, "pyproject.toml pins its dependencies with =="
    return declared


def _lock(name: str) -> str:
    return (ROOT / "requirements" / name).read_text()


@pytest.mark.parametrize(("lock", "extras"), [("run.txt", []), ("test.txt", ["test"])])
def test_every_pinned_dependency_is_locked_at_its_version(lock: str, extras: list[str]) -> None:
    project = _project()
    optional = project["optional-dependencies"]
    declared = _declared(project["dependencies"], *(optional[extra] for extra in extras))
    locked = _pins(_lock(lock))
    stale = {name: (version, locked.get(name)) for name, version in declared.items() if locked.get(name) != version}
    assert not stale, f"requirements/{lock} is out of date with pyproject.toml (run `make lock`): {stale}"


def test_every_locked_package_has_hashes_and_the_locks_agree() -> None:
    for lock in ("run.txt", "test.txt"):
        for entry in re.split(r"\n(?=\S)", _lock(lock)):
            if PIN_RE.match(entry):
                assert "--hash=sha256:" in entry, f"{lock}: {entry.splitlines()[0]} has no hash"
    run, test = _pins(_lock("run.txt")), _pins(_lock("test.txt"))
    assert {name: test.get(name) for name in run} == run


def test_the_optional_s3_extra_is_not_locked() -> None:
    s3 = _declared(_project()["optional-dependencies"]["s3"])
    for lock in ("run.txt", "test.txt"):
        assert not set(s3) & set(_pins(_lock(lock))), f"the s3 extra leaked into requirements/{lock}"


def test_a_stale_lock_would_be_noticed() -> None:
    assert _pins("django==5.2.19 \\\n    --hash=sha256:00\npsycopg[binary]==3.3.9\n") == {
        "django": "5.2.19",
        "psycopg": "3.3.9",
    }
