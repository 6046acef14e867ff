"""Fixtures for the hotline: the default dispatch rules, an operator, department staff, a supervisor."""

from __future__ import annotations

from typing import Any

import pytest

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role


@pytest.fixture
def rules(db: None) -> None:
    from yiwang.hotline.demo import load_dispatch_rules

    load_dispatch_rules()


@pytest.fixture
def no_model(settings: Any, tmp_path: Any) -> None:
    """No classifier trained: suggestions are empty and orders wait for an operator."""
    settings.VAR_DIR = tmp_path


@pytest.fixture
def operator(db: None) -> Any:
    return make_staff(Role.HOTLINE_OPERATOR, None)


@pytest.fixture
def supervisor(db: None) -> Any:
    return make_staff(Role.SUPERVISOR, None)


@pytest.fixture
def caller(db: None) -> Any:
    return make_citizen("孙来电")


def handler(department: str) -> Any:
    return make_staff(Role.REVIEWER, department)
