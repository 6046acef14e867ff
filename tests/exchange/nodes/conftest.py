"""Fixtures for the node exchange: this node ("node-a") with a key in memory, and a registered peer ("node-b")
whose private key the tests hold, so they can write the peer's messages themselves."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.licences.conftest import MemoryKeyStore
from yiwang.core import keystore
from yiwang.exchange.nodes import keys, services

NODE = "node-a"
PEER = "node-b"
SERVER = "http://testserver"


def make_signer(code: str) -> keys.Signer:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return keys.Signer(code, keys.fingerprint(public), private, public)


def public_b64(signer: keys.Signer) -> str:
    return base64.b64encode(signer.public_key).decode()


@pytest.fixture(autouse=True)
def node(settings: Any, db: None) -> Iterator[keys.Signer]:
    settings.YIWANG_KEY_STORE = "tests.licences.conftest.MemoryKeyStore"
    settings.YIWANG_EXCHANGE_NODE_CODE = NODE
    MemoryKeyStore.keys = {}
    keystore.reset_key_store()
    keys.reset_signer()
    yield keys.signer()
    keys.reset_signer()
    keystore.reset_key_store()


@pytest.fixture
def peer() -> keys.Signer:
    """node-b, registered on node-a; the tests sign as node-b with its private key."""
    signer = make_signer(PEER)
    services.add_peer(PEER, "http://node-b.example", public_b64(signer), name="乙节点")
    return signer
