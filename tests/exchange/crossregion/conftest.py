"""Fixtures for 跨省通办: this node ("node-a") with its key in memory and a registered peer ("node-b") whose key the
tests hold; materials stored under the test's temporary directory; an item this node offers its peers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.exchange.nodes.conftest import PEER, make_signer, node, peer, public_b64
from yiwang.exchange.crossregion import services
from yiwang.exchange.nodes import keys
from yiwang.exchange.nodes import services as nodes

__all__ = ["PEER", "make_signer", "node", "peer", "public_b64"]


@pytest.fixture(autouse=True)
def _materials_in_tmp(settings: Any, tmp_path: Path) -> None:
    storages = dict(settings.STORAGES)
    storages["materials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "materials")},
    }
    settings.STORAGES = storages


@pytest.fixture
def offered(db: None) -> dict[str, Any]:
    """The first item of the seed catalogue this node offers its peers, as it travels."""
    items = services.offered_items()
    assert items, "the seed catalogue offers no item for 跨省通办"
    return next((i for i in items if i["materials"] and i["fields"]), items[0])


@pytest.fixture
def peer_info(peer: keys.Signer) -> nodes.PeerInfo:
    return next(p for p in nodes.peers() if p.code == PEER)
