"""docs/architecture.md cannot go stale unnoticed: every app, every layer and every ADR is in it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _text() -> str:
    return ARCHITECTURE.read_text(encoding="utf-8")


def _our_apps() -> set[str]:
    names = (config.name for config in apps.get_app_configs())
    return {name.removeprefix("yiwang.") for name in names if name.startswith("yiwang.")}


def _layers_contract() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(contract for contract in contracts if contract["type"] == "layers")["layers"]
    return [layer.removeprefix("yiwang.") for layer in layers]


def test_every_installed_app_has_a_row_in_the_apps_table() -> None:
    rows = set(re.findall(r"^\| `([a-z_.]+)` \|", _text(), flags=re.M))
    ours = {
        config.name.removeprefix("yiwang.") for config in apps.get_app_configs() if config.name.startswith("yiwang.")
    }
    assert ours - rows == set(), f"apps missing from docs/architecture.md: {sorted(ours - rows)}"
    assert rows - ours == set(), f"docs/architecture.md describes apps that are not installed: {sorted(rows - ours)}"


def test_every_app_is_in_the_layers_contract() -> None:
    # A nested app (exchange.nodes) is part of the layer of the app it sits in.
    ours = {
        config.name.removeprefix("yiwang.").split(".")[0]
        for config in apps.get_app_configs()
        if config.name.startswith("yiwang.")
    }
    assert ours == set(_layers_contract())


def test_the_documented_layers_are_the_contracts_layers() -> None:
    match = re.search(r"^Layers, lowest first: (.+)$", _text(), flags=re.M)
    assert match, "docs/architecture.md must state the layers on a line starting 'Layers, lowest first:'"
    documented = re.findall(r"`([a-z_]+)`", match.group(1))
    assert documented == list(reversed(_layers_contract()))


def test_every_decision_record_is_listed() -> None:
    text = _text()
    records = sorted(path.name for path in (ROOT / "docs" / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert records, "no ADRs found"
    missing = [name for name in records if f"adr/{name}" not in text]
    assert missing == [], f"ADRs not listed in docs/architecture.md: {missing}"
