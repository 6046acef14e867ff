"""Where private signing keys live: a small interface an HSM or KMS can implement.

The database holds only public keys and key ids; the private halves go to the
key store named by the ``YIWANG_KEY_STORE`` setting (a dotted class path,
default :class:`FileKeyStore`). A replacement implements :class:`KeyStore`
(``put`` / ``get`` / ``has`` by key id) and is constructed without
arguments.

:class:`FileKeyStore` keeps one file per key under ``YIWANG_KEY_STORE_DIR``
(default ``VAR_DIR/keystore``), each ``ks1:<base64(nonce + ciphertext +
tag)>``: the key encrypted with SM4-GCM under ``YIWANG_KEY_STORE_KEY``
(base64 of 16 random bytes), the key id bound as associated data so a file
renamed to another id does not decrypt. As with the personal-data keys
(:mod:`yiwang.core.crypto`), development generates the key once into
``VAR_DIR/key_store_key``; production refuses to start without it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from django.utils.module_loading import import_string

from .crypto import KeyConfigurationError, _decode_key, _development_key_file, sm4_gcm_open, sm4_gcm_seal

KEY_STORE_ENV = "YIWANG_KEY_STORE"
KEY_STORE_KEY_ENV = "YIWANG_KEY_STORE_KEY"
KEY_STORE_DIR_ENV = "YIWANG_KEY_STORE_DIR"
KEY_STORE_KEY_FILE = "key_store_key"
DEFAULT_KEY_STORE = "yiwang.core.keystore.FileKeyStore"
_FORMAT = "ks1"
_KEY_BYTES = 16
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MAX_CACHED_KEYS = 256
_KEY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class KeyStoreError(Exception):
    """A key could not be stored or read (missing, tampered with, or the store is misconfigured)."""


class KeyNotFound(KeyStoreError):
    """No private key is stored under that key id."""


@runtime_checkable
class KeyStore(Protocol):
    """Private keys by key id. ``put`` never replaces a different key under the same id."""

    def put(self, key_id: str, private_key: bytes) -> None:
        """Store ``private_key`` under ``key_id`` (KeyStoreError if another key already has the id)."""

    def get(self, key_id: str) -> bytes:
        """The private key stored under ``key_id`` (KeyNotFound if none)."""

    def has(self, key_id: str) -> bool:
        """True when a private key is stored under ``key_id``."""


def _check_key_id(key_id: str) -> None:
    if not _KEY_ID_RE.fullmatch(key_id):
        raise KeyStoreError(f"key ids are 1-64 letters, digits, '-' or '_', not {key_id!r}")


def key_store_problems(raw_key: str | None) -> list[str]:
    """Production checks for the file store's master key (empty if fine)."""
    if not (raw_key or "").strip():
        return [f"{KEY_STORE_KEY_ENV} must be set (base64 of 16 random bytes) to encrypt signing keys at rest"]
    try:
        _decode_key(raw_key or "", _KEY_BYTES, KEY_STORE_KEY_ENV)
    except KeyConfigurationError as exc:
        return [str(exc)]
    return []


class FileKeyStore:
    """Keys encrypted with SM4-GCM, one file per key id, in a directory only this process's user reads."""

    def __init__(self, directory: Path | None = None, master_key: bytes | None = None) -> None:
        # Unless given, the directory and master key follow the settings at each use, so a test (or a
        # process) that changes VAR_DIR gets its own store; production reads them from the environment.
        if master_key is not None and len(master_key) != _KEY_BYTES:
            raise KeyConfigurationError("the key store's master key is 16 bytes (SM4)")
        self._directory = directory
        self._fixed_key = master_key
        # Key id -> (the identity of the file it was read from, with the master key; the private key).
        self._cache: dict[str, tuple[tuple[object, ...], bytes]] = {}
        self._master_key  # noqa: B018  (refuse at once when production has no key)

    @property
    def directory(self) -> Path:
        if self._directory is not None:
            return self._directory
        from django.conf import settings

        raw_dir = os.environ.get(KEY_STORE_DIR_ENV, "").strip()
        return Path(raw_dir) if raw_dir else Path(settings.VAR_DIR) / "keystore"

    @property
    def _master_key(self) -> bytes:
        if self._fixed_key is not None:
            return self._fixed_key
        from django.conf import settings

        raw = os.environ.get(KEY_STORE_KEY_ENV, "").strip()
        if not raw:
            if getattr(settings, "PRODUCTION", False):
                raise KeyConfigurationError(f"{KEY_STORE_KEY_ENV} must be set in production")
            fresh = base64.b64encode(os.urandom(_KEY_BYTES)).decode("ascii")
            raw = _development_key_file(Path(settings.VAR_DIR) / KEY_STORE_KEY_FILE, fresh)
        return _decode_key(raw, _KEY_BYTES, KEY_STORE_KEY_ENV)

    def _path(self, key_id: str) -> Path:
        _check_key_id(key_id)
        return self.directory / f"{key_id}.key"

    def _encrypt(self, key_id: str, private_key: bytes) -> str:
        sealed = sm4_gcm_seal(self._master_key, private_key, key_id.encode("ascii"))
        return f"{_FORMAT}:{base64.b64encode(sealed).decode('ascii')}\n"

    def _decrypt(self, key_id: str, text: str) -> bytes:
        version, _, blob = text.strip().partition(":")
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyStoreError(f"key file for {key_id} is damaged") from exc
        if version != _FORMAT or len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise KeyStoreError(f"key file for {key_id} is not in the {_FORMAT} format")
        try:
            return sm4_gcm_open(self._master_key, raw, key_id.encode("ascii"))
        except InvalidTag as exc:
            raise KeyStoreError(f"key file for {key_id} fails its check: altered, or another master key") from exc

    def put(self, key_id: str, private_key: bytes) -> None:
        """Store ``private_key`` under ``key_id``; storing the same key again is harmless."""
        path = self._path(key_id)
        if path.exists():
            if self.get(key_id) != private_key:
                raise KeyStoreError(f"another private key is already stored under {key_id}")
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written to a private temporary file and hard-linked into place, so a
        # reader never sees half a key and two writers cannot both win.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(self._encrypt(key_id, private_key))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                if self.get(key_id) != private_key:
                    raise KeyStoreError(f"another private key is already stored under {key_id}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def get(self, key_id: str) -> bytes:
        """The private key stored under ``key_id``; KeyNotFound if none, KeyStoreError if damaged.

        A key read once is remembered with the identity of its file (device, inode, size, modification time) and
        the master key: while a ``stat`` finds the same file, it is not read and decrypted again (a licence signs
        twice). A removed, replaced or rewritten file, or another master key, is read afresh; a removed one
        raises KeyNotFound as before. Whether a key may still sign is the seals' question, asked of the database
        before every signature; the store only hands out what it holds.
        """
        path = self._path(key_id)
        try:
            status = os.stat(path)
        except FileNotFoundError:
            raise KeyNotFound(f"no private key is stored under {key_id}") from None
        master_key = self._master_key
        identity = (str(path), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, master_key)
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] == identity:
            return cached[1]
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise KeyNotFound(f"no private key is stored under {key_id}") from None
        private_key = self._decrypt(key_id, text)
        if len(self._cache) >= _MAX_CACHED_KEYS:
            self._cache.clear()
        self._cache[key_id] = (identity, private_key)
        return private_key

    def has(self, key_id: str) -> bool:
        """True when a key file exists for ``key_id``."""
        return self._path(key_id).exists()


_store: KeyStore | None = None
_store_lock = threading.Lock()


def get_key_store() -> KeyStore:
    """The configured key store (``settings.YIWANG_KEY_STORE``, else the env, else FileKeyStore), cached."""
    global _store
    store = _store
    if store is None:
        with _store_lock:
            if _store is None:
                from django.conf import settings

                path = getattr(settings, "YIWANG_KEY_STORE", "") or os.environ.get(KEY_STORE_ENV, "")
                made = import_string(path or DEFAULT_KEY_STORE)()
                if not isinstance(made, KeyStore):
                    raise KeyConfigurationError(f"{path} does not implement put/get/has")
                _store = made
            store = _store
    return store


def reset_key_store() -> None:
    """Forget the cached store (tests, or after changing the setting)."""
    global _store
    with _store_lock:
        _store = None
