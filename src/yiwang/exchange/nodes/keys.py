"""This node's Ed25519 signing key (private half in the key store) and the public keys of its peers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import IntegrityError, transaction

from yiwang.core.keystore import get_key_store

from .constants import CODE_PATTERN
from .models import LocalKey

_CODE_RE = re.compile(CODE_PATTERN)
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


@dataclass(frozen=True)
class Signer:
    """The active key of this node, loaded once per process."""

    node_code: str
    fingerprint: str
    private_key: Ed25519PrivateKey
    public_key: bytes

    @property
    def key_id(self) -> str:
        return f"{self.node_code}:{self.fingerprint}"


_signer: Signer | None = None
_lock = threading.Lock()


def fingerprint(public_key: bytes) -> str:
    """The first 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def store_key_id(fingerprint_hex: str) -> str:
    return f"exchange-{fingerprint_hex}"


def node_code() -> str:
    code = str(settings.YIWANG_EXCHANGE_NODE_CODE)
    if not _CODE_RE.fullmatch(code):
        raise ValueError(f"YIWANG_EXCHANGE_NODE_CODE must match {CODE_PATTERN}, not {code!r}")
    return code


def _load_or_create() -> LocalKey:
    key = LocalKey.objects.filter(active=True).first()
    if key is not None:
        return key
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(*_RAW)
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    print_ = fingerprint(public)
    get_key_store().put(store_key_id(print_), raw_private)
    try:
        with transaction.atomic():
            return LocalKey.objects.create(fingerprint=print_, public_key=public, active=True)
    except IntegrityError:
        # Another process made the first key at the same moment; its key wins, ours stays unused in the store.
        return LocalKey.objects.get(active=True)


def signer() -> Signer:
    """This node's active signing key, created on first use (the private half goes to the key store)."""
    global _signer
    current = _signer
    if current is None:
        with _lock:
            if _signer is None:
                key = _load_or_create()
                private = Ed25519PrivateKey.from_private_bytes(get_key_store().get(store_key_id(key.fingerprint)))
                _signer = Signer(node_code(), key.fingerprint, private, bytes(key.public_key))
            current = _signer
    return current


def reset_signer() -> None:
    """Forget the cached key (tests; a process after the key changed)."""
    global _signer
    with _lock:
        _signer = None


def decode_public_key(text: str) -> bytes:
    """A raw Ed25519 public key from its Base64 form (32 bytes); ValueError otherwise."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the public key is not Base64") from exc
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    Ed25519PublicKey.from_public_bytes(raw)
    return raw


def public_key_of(fingerprint_hex: str) -> Ed25519PublicKey | None:
    """One of this node's own public keys (current or earlier) by fingerprint, for checking its log."""
    key = LocalKey.objects.filter(fingerprint=fingerprint_hex).first()
    return None if key is None else Ed25519PublicKey.from_public_bytes(bytes(key.public_key))
