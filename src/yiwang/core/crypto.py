"""Personal-data protection: encryption at rest, blind indexes and display masks.

See docs/adr/0004-personal-data-and-audit.md for the reasoning.

* :func:`encrypt` / :func:`decrypt`: SM4-GCM (GB/T 32907 block cipher in an
  authenticated mode) with a random 96-bit nonce; tokens look like
  ``v1:<kid>:<base64(nonce + ciphertext + tag)>`` and the key id is bound to
  the ciphertext as associated data.
* Key ring: ``YIWANG_PII_KEYS`` = ``kid:base64(16 bytes),kid2:…``; the first
  key encrypts, every listed key decrypts, so a new key is put first, the
  ``pii-rotate`` command re-encrypts, and the old key is removed afterwards.
* :func:`blind_index`: HMAC-SM3 under ``YIWANG_BLIND_INDEX_KEY`` (32 bytes),
  so an encrypted column can still be looked up by exact value.
* Masks for showing identifiers on screen, and a registry of encrypted
  columns for the rotation command.

In development the keys, when not set, are generated once into
``VAR_DIR/pii_keys`` and ``VAR_DIR/blind_index_key``; in production they must
come from the environment (settings refuses to start otherwise).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.core.exceptions import ImproperlyConfigured

from .identifiers import DocumentType

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet

TOKEN_VERSION = "v1"  # noqa: S105  (a format tag, not a secret)
PII_KEY_BYTES = 16  # SM4 keys are 128 bits
BLIND_INDEX_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
PII_KEYS_ENV = "YIWANG_PII_KEYS"
BLIND_INDEX_KEY_ENV = "YIWANG_BLIND_INDEX_KEY"
PII_KEYS_FILE = "pii_keys"
BLIND_INDEX_KEY_FILE = "blind_index_key"
_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Random keys have about 15.5 (16-byte) and 30 (32-byte) distinct byte
# values; fewer than 10 and 20 happen by chance with probability about 1e-8
# and 1e-10. Fewer means a placeholder was pasted in: zero bytes,
# "1234567812345678", a repeated word.
_MIN_DISTINCT = {PII_KEY_BYTES: 10, BLIND_INDEX_KEY_BYTES: 20}


class DecryptionError(ValueError):
    """A token could not be decrypted: malformed, tampered with, or under a key not in the ring."""


class KeyConfigurationError(ImproperlyConfigured):
    """The personal-data keys are missing, malformed or weak."""


@dataclass(frozen=True)
class KeyRing:
    """The SM4 keys by id (the active one encrypts) and the blind-index key."""

    active_kid: str
    keys: Mapping[str, bytes]
    blind_index_key: bytes


# --- key configuration -------------------------------------------------------


def _decode_key(encoded: str, size: int, what: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigurationError(f"{what} is not valid base64") from exc
    if len(key) != size:
        raise KeyConfigurationError(f"{what} must be {size} bytes, base64-encoded (got {len(key)})")
    if len(set(key)) < _MIN_DISTINCT[size]:
        raise KeyConfigurationError(f"{what} is weak (too few distinct bytes); generate it randomly")
    return key


def parse_pii_keys(raw: str) -> dict[str, bytes]:
    """Parse ``kid:base64,kid:base64`` into an ordered dict (first = active); KeyConfigurationError if bad."""
    keys: dict[str, bytes] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        if not sep or not _KID_RE.fullmatch(kid):
            raise KeyConfigurationError(
                f"{PII_KEYS_ENV} entries must look like kid:base64 with a kid of letters, digits, '-' or '_'"
            )
        if kid in keys:
            raise KeyConfigurationError(f"{PII_KEYS_ENV} lists key id {kid!r} twice")
        keys[kid] = _decode_key(encoded, PII_KEY_BYTES, f"{PII_KEYS_ENV} key {kid!r}")
    if not keys:
        raise KeyConfigurationError(f"{PII_KEYS_ENV} must list at least one key as kid:base64(16 random bytes)")
    return keys


def parse_blind_index_key(raw: str) -> bytes:
    """Decode the base64 blind-index key (32 bytes); KeyConfigurationError if bad."""
    return _decode_key(raw, BLIND_INDEX_KEY_BYTES, BLIND_INDEX_KEY_ENV)


def key_configuration_problems(pii_keys: str | None, blind_index_key: str | None) -> list[str]:
    """Name every problem with the two key variables as production would receive them (empty if fine)."""
    problems = []
    if not (pii_keys or "").strip():
        problems.append(f"{PII_KEYS_ENV} must be set (kid:base64 of 16 random bytes, comma-separated)")
    else:
        try:
            parse_pii_keys(pii_keys or "")
        except KeyConfigurationError as exc:
            problems.append(str(exc))
    if not (blind_index_key or "").strip():
        problems.append(f"{BLIND_INDEX_KEY_ENV} must be set (base64 of 32 random bytes)")
    else:
        try:
            parse_blind_index_key(blind_index_key or "")
        except KeyConfigurationError as exc:
            problems.append(str(exc))
    return problems


def new_pii_key_entry(kid: str) -> str:
    """Return a fresh ``kid:base64`` entry for ``YIWANG_PII_KEYS``."""
    if not _KID_RE.fullmatch(kid):
        raise ValueError("kid may contain letters, digits, '-' and '_' (at most 32)")
    return f"{kid}:{base64.b64encode(os.urandom(PII_KEY_BYTES)).decode('ascii')}"


def new_blind_index_key() -> str:
    """Return a fresh base64 value for ``YIWANG_BLIND_INDEX_KEY``."""
    return base64.b64encode(os.urandom(BLIND_INDEX_KEY_BYTES)).decode("ascii")


def _development_key_file(path: Path, make: str) -> str:
    # Same idea as settings._development_secret_key, but several processes
    # (gunicorn workers, xdist) may start at once on a fresh var/: losing the
    # race must not leave two processes with different keys, or data written
    # by one could never be read again. The content is written to a private
    # temporary file first and hard-linked into place, which either creates
    # the complete file or fails because another process already did.
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(make + "\n")
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def _load_key_ring() -> KeyRing:
    from django.conf import settings

    raw_keys = os.environ.get(PII_KEYS_ENV, "").strip()
    raw_blind = os.environ.get(BLIND_INDEX_KEY_ENV, "").strip()
    if not (raw_keys and raw_blind) and getattr(settings, "PRODUCTION", False):
        # settings refuses to start in this state; this guards code that
        # reads keys in a process configured some other way.
        raise KeyConfigurationError(f"{PII_KEYS_ENV} and {BLIND_INDEX_KEY_ENV} must be set in production")
    if not raw_keys:
        raw_keys = _development_key_file(Path(settings.VAR_DIR) / PII_KEYS_FILE, new_pii_key_entry("dev1"))
    if not raw_blind:
        raw_blind = _development_key_file(Path(settings.VAR_DIR) / BLIND_INDEX_KEY_FILE, new_blind_index_key())
    keys = parse_pii_keys(raw_keys)
    return KeyRing(active_kid=next(iter(keys)), keys=keys, blind_index_key=parse_blind_index_key(raw_blind))


_ring: KeyRing | None = None
_ring_lock = threading.Lock()


def key_ring() -> KeyRing:
    """Return the key ring, loading it on first use and caching it for the life of the process."""
    global _ring
    ring = _ring
    if ring is None:
        with _ring_lock:
            if _ring is None:
                _ring = _load_key_ring()
            ring = _ring
    return ring


def reset_keys() -> None:
    """Forget the cached key ring, so the next call reads the environment again (tests, key changes)."""
    global _ring
    with _ring_lock:
        _ring = None


# --- encryption --------------------------------------------------------------


def sm4_gcm_seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """SM4-GCM with a fresh random nonce: ``nonce + ciphertext + tag``, bound to ``associated``."""
    nonce = os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(associated)
    return nonce + encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def sm4_gcm_open(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    """The plaintext of :func:`sm4_gcm_seal`'s output; ``InvalidTag`` if it or ``associated`` changed."""
    nonce, ciphertext, tag = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:-TAG_BYTES], sealed[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(associated)
    return decryptor.update(ciphertext) + decryptor.finalize()


def encrypt(plaintext: str) -> str:
    """Encrypt text under the active key: ``v1:<kid>:<base64(nonce + ciphertext + tag)>``.

    Every call uses a fresh random nonce, so equal values give different
    tokens; use :func:`blind_index` to look a value up.
    """
    ring = key_ring()
    kid = ring.active_kid
    sealed = sm4_gcm_seal(ring.keys[kid], plaintext.encode("utf-8"), kid.encode("ascii"))
    blob = base64.b64encode(sealed).decode("ascii")
    return f"{TOKEN_VERSION}:{kid}:{blob}"


def _split_token(token: str) -> tuple[str, bytes]:
    version, _, rest = token.partition(":")
    kid, _, blob = rest.partition(":")
    if version != TOKEN_VERSION or not _KID_RE.fullmatch(kid) or not blob:
        raise DecryptionError("不是可识别的个人信息密文（应为 v1:<密钥编号>:<密文>）")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("个人信息密文的编码已损坏") from exc
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("个人信息密文过短，已损坏")
    return kid, raw


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt` under any key in the ring; DecryptionError otherwise."""
    kid, raw = _split_token(token)
    key = key_ring().keys.get(kid)
    if key is None:
        raise DecryptionError(f"个人信息密文使用的密钥 {kid!r} 不在密钥环中")
    try:
        plaintext = sm4_gcm_open(key, raw, kid.encode("ascii"))
    except InvalidTag as exc:
        raise DecryptionError(f"个人信息密文校验失败：已被篡改，或不是用密钥 {kid!r} 加密的") from exc
    return plaintext.decode("utf-8")


def token_key_id(token: str) -> str:
    """Return the key id a token was encrypted under (DecryptionError if it is not a token)."""
    return _split_token(token)[0]


def needs_rotation(token: str) -> bool:
    """True when the token is not under the active key and should be re-encrypted."""
    return token_key_id(token) != key_ring().active_kid


def reencrypt(token: str) -> str:
    """Return the token re-encrypted under the active key (unchanged if it already is)."""
    return encrypt(decrypt(token)) if needs_rotation(token) else token


def blind_index(value: str, purpose: str) -> str:
    """Return the hex HMAC-SM3 of ``purpose + "\\x00" + value`` under the blind-index key.

    Store it beside the encrypted column and look rows up by it. ``purpose``
    (e.g. ``"id_number"``, ``"mobile"``) keeps equal values in different
    fields from sharing an index entry. Normalise ``value`` first (e.g. with
    :func:`yiwang.core.identifiers.normalise_document_number`), or the same
    number typed two ways will not match.
    """
    if not purpose or "\x00" in purpose:
        raise ValueError("purpose must be a non-empty name without NUL characters")
    message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return hmac.new(key_ring().blind_index_key, message, "sm3").hexdigest()


# --- display masks -----------------------------------------------------------


def _mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    # Too short to keep both ends without showing nearly everything: hide it all.
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_id_number(number: str) -> str:
    """Keep the first 3 and last 4 characters: ``110***********123X``."""
    return _mask_middle(number, 3, 4)


def mask_mobile(number: str) -> str:
    """Keep the first 3 and last 4 digits: ``138****5678``."""
    return _mask_middle(number, 3, 4)


def mask_name(name: str) -> str:
    """Keep the first character only: ``张*``, ``欧阳娜娜`` → ``欧***``."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_document(document_type: str, number: str) -> str:
    """Mask a document number for display: ID-like 18-character numbers as :func:`mask_id_number`, others keep
    the first character and the last 3."""
    if document_type in (DocumentType.RESIDENT_ID, DocumentType.FOREIGN_PERMANENT_RESIDENCE):
        return mask_id_number(number)
    return _mask_middle(number, 1, 3)


# --- encrypted columns and key rotation --------------------------------------


@dataclass(frozen=True, order=True)
class EncryptedField:
    """A column that holds :func:`encrypt` tokens."""

    model_label: str
    field_name: str

    def __str__(self) -> str:
        return f"{self.model_label}.{self.field_name}"


_encrypted_fields: set[EncryptedField] = set()
_LABEL_RE = re.compile(r"[a-z_][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")


def register_encrypted_field(model_label: str, field_name: str) -> None:
    """Declare that ``model_label`` (``"accounts.Person"``) stores tokens in ``field_name``.

    Call it from the owning app's ``AppConfig.ready()``, so that ``yiwang
    pii-rotate`` finds the column. Registering twice is harmless.
    """
    if not _LABEL_RE.fullmatch(model_label) or not field_name.isidentifier():
        raise ValueError(f"not a model label and field name: {model_label!r}, {field_name!r}")
    _encrypted_fields.add(EncryptedField(model_label, field_name))


def encrypted_fields() -> list[EncryptedField]:
    """Every registered encrypted column, sorted."""
    return sorted(_encrypted_fields)


def resolve_model(label: str) -> type[Model]:
    """Return the model class for ``"app_label.ModelName"`` (LookupError if there is none)."""
    from django.apps import apps

    return apps.get_model(label)


def _pending_rotation(model: type[Model], field_name: str) -> QuerySet[Model]:
    # Tokens under the active key start with this prefix (the trailing colon
    # keeps key "k1" from matching "k10"); NULL and "" mean "no value".
    prefix = f"{TOKEN_VERSION}:{key_ring().active_kid}:"
    return (
        model._base_manager.exclude(**{f"{field_name}__isnull": True})
        .exclude(**{field_name: ""})
        .exclude(**{f"{field_name}__startswith": prefix})
    )


def rotate_model_field(model: type[Model], field_name: str, *, batch_size: int = 500) -> int:
    """Re-encrypt under the active key every token in ``model.field_name`` that is not; return how many.

    Rows are taken in primary-key order, ``batch_size`` at a time, each batch
    locked (``select_for_update``) and rewritten in its own transaction, so a
    large table is never locked as a whole and an interrupted run simply
    continues where it stopped when started again. Empty and NULL values are
    skipped. Only the one column is written; ``save()`` and signals are not
    involved.
    """
    from django.db import transaction

    pending = _pending_rotation(model, field_name).order_by("pk")
    rotated = 0
    last_pk = None
    while True:
        with transaction.atomic():
            batch = pending if last_pk is None else pending.filter(pk__gt=last_pk)
            rows = list(batch.select_for_update().values_list("pk", field_name)[:batch_size])
            if not rows:
                return rotated
            changed = []
            for pk, token in rows:
                try:
                    new_token = reencrypt(token)
                except DecryptionError as exc:
                    raise DecryptionError(f"{model._meta.label}.{field_name} pk={pk}: {exc}") from exc
                changed.append(model(pk=pk, **{field_name: new_token}))
            model._base_manager.bulk_update(changed, [field_name])
            rotated += len(changed)
            last_pk = rows[-1][0]


def count_needing_rotation(model: type[Model], field_name: str) -> int:
    """How many non-empty tokens in ``model.field_name`` are not under the active key."""
    return _pending_rotation(model, field_name).count()
