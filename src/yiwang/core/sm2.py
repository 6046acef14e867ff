"""SM2 signatures and SM3 digests (商用密码: GB/T 32918, GM/T 0009, GB/T 32905).

The kernel's only door to SM2, so an application never touches the binding.
Backed by tongsuopy (the Tongsuo project's binding of its OpenSSL fork); the
tests check every function against pure-Python gmssl as an independent
implementation.

Formats, fixed here and relied upon by docs/licences.md:

* Private keys are **DER, PKCS#8, unencrypted** (``generate_private_key``);
  keep them in a :mod:`yiwang.core.keystore`, never in the database.
* Public keys are **DER SubjectPublicKeyInfo** with the id-ecPublicKey
  algorithm and the SM2 curve OID 1.2.156.10197.1.301, uncompressed point
  (91 bytes).
* Signatures are SM2 over SM3 with the signer's Z value
  ``Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)`` (ENTL = bit length
  of ID, two bytes big-endian), ``e = SM3(Z || M)``. :func:`sign` returns the
  **DER** ``SEQUENCE { INTEGER r, INTEGER s }`` (GM/T 0009);
  :func:`signature_to_raw` / :func:`signature_from_raw` convert to and from
  the 64-byte ``r || s`` used where space counts (QR payloads).
* The default signer ID is ``1234567812345678`` (GM/T 0009 §10).
* :func:`key_id` is the lowercase hex of the first 16 bytes of
  ``SM3(SubjectPublicKeyInfo DER)`` (32 characters).

We compute Z ourselves and have Tongsuo sign ``e`` (EVP_PKEY_sign on an SM2
key signs a ready digest), because tongsuopy exposes no way to set a signer
ID other than the default; this keeps user IDs a parameter rather than an
accident of the binding.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from tongsuopy.backends.tongsuo.backend import backend as _backend
from tongsuopy.crypto import serialization as _serialization
from tongsuopy.crypto.asymciphers import ec as _ec

DEFAULT_USER_ID = b"1234567812345678"
ALGORITHM = "SM2"  # the name used for keys in trust lists and models
KEY_ID_BYTES = 16
RAW_SIGNATURE_BYTES = 64

# GB/T 32918.5 recommended curve parameters.
_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
_CURVE_PREFIX = b"".join(v.to_bytes(32, "big") for v in (_A, _B, _GX, _GY))


class SM2Error(ValueError):
    """A key or signature could not be used (malformed, wrong curve, wrong kind)."""


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data`` (GB/T 32905)."""
    return hashlib.new("sm3", data).digest()


def generate_private_key() -> bytes:
    """A fresh SM2 private key as DER PKCS#8 (unencrypted: store it in a key store)."""
    key = _ec.generate_private_key(_ec.SM2())
    return bytes(
        key.private_bytes(
            _serialization.Encoding.DER, _serialization.PrivateFormat.PKCS8, _serialization.NoEncryption()
        )
    )


@functools.lru_cache(maxsize=256)
def _load_private(private_key: bytes) -> Any:
    try:
        key = _serialization.load_der_private_key(private_key, None)
    except Exception as exc:  # the binding raises several kinds for bad DER
        _backend._lib.ERR_clear_error()
        raise SM2Error("not a DER PKCS#8 SM2 private key") from exc
    if not isinstance(key, _ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
        raise SM2Error("the private key is not on the SM2 curve")
    return key


@functools.lru_cache(maxsize=1024)
def _load_public(public_key_der: bytes) -> tuple[Any, bytes]:
    """The key object and its point ``xA || yA`` (64 bytes)."""
    try:
        key = _serialization.load_der_public_key(public_key_der)
    except Exception as exc:
        _backend._lib.ERR_clear_error()
        raise SM2Error("not a DER SubjectPublicKeyInfo SM2 public key") from exc
    if not isinstance(key, _ec.EllipticCurvePublicKey) or key.curve.name != "SM2":
        raise SM2Error("the public key is not on the SM2 curve")
    numbers = key.public_numbers()
    return key, numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def _public_der_of(private: Any) -> bytes:
    return bytes(
        private.public_key().public_bytes(_serialization.Encoding.DER, _serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def public_key_der(private_key: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a DER PKCS#8 SM2 private key."""
    return _public_der_of(_load_private(private_key))


def load_public_key(public_key_der: bytes) -> bytes:
    """Check that ``public_key_der`` is an SM2 public key and return it unchanged (SM2Error if not)."""
    _load_public(public_key_der)
    return public_key_der


# An initialised EVP_PKEY_CTX per key and thread: setting one up costs about as much as a sixth of a
# verification, and a context is not safe to share between threads.
_contexts = threading.local()
_MAX_CONTEXTS = 256


def _context(kind: str, der: bytes, evp_pkey: Any) -> Any:
    cache: dict[tuple[str, bytes], Any] | None = getattr(_contexts, "cache", None)
    if cache is None:
        cache = _contexts.cache = {}
    ctx = cache.get((kind, der))
    if ctx is None:
        lib, ffi = _backend._lib, _backend._ffi
        ctx = ffi.gc(lib.EVP_PKEY_CTX_new(evp_pkey, ffi.NULL), lib.EVP_PKEY_CTX_free)
        init = lib.EVP_PKEY_sign_init if kind == "sign" else lib.EVP_PKEY_verify_init
        if ctx == ffi.NULL or init(ctx) != 1:
            lib.ERR_clear_error()
            raise SM2Error("the SM2 context could not be set up")
        if len(cache) >= _MAX_CONTEXTS:
            cache.clear()
        cache[(kind, der)] = ctx
    return ctx


def _check_user_id(user_id: bytes) -> None:
    if len(user_id) * 8 > 0xFFFF:
        raise SM2Error("the SM2 user ID must be shorter than 8192 bytes")


@functools.lru_cache(maxsize=1024)
def z_value(public_key_der: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """The signer's Z value for ``user_id`` (GB/T 32918.2 §5.5)."""
    _check_user_id(user_id)
    _, point = _load_public(public_key_der)
    entl = (len(user_id) * 8).to_bytes(2, "big")
    return sm3(entl + user_id + _CURVE_PREFIX + point)


def message_digest(public_key_der: bytes, message: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """``e = SM3(Z || M)``, the value SM2 actually signs."""
    return sm3(z_value(public_key_der, user_id) + message)


@functools.lru_cache(maxsize=256)
def _private_public_der(private_key: bytes) -> bytes:
    return public_key_der(private_key)


def sign(private_key: bytes, message: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """Sign ``message`` with SM2 over SM3 (Z value for ``user_id``); DER ``SEQUENCE {r, s}``."""
    key = _load_private(private_key)
    digest = message_digest(_private_public_der(private_key), message, user_id=user_id)
    lib, ffi = _backend._lib, _backend._ffi
    ctx = _context("sign", private_key, key._evp_pkey)
    length = ffi.new("size_t *", 80)
    buffer = ffi.new("unsigned char[]", 80)
    if lib.EVP_PKEY_sign(ctx, buffer, length, digest, len(digest)) != 1:
        lib.ERR_clear_error()
        raise SM2Error("SM2 signing failed")
    return bytes(ffi.buffer(buffer)[: length[0]])


def _canonical_rs(signature: bytes) -> tuple[int, int] | None:
    """(r, s) of a strict-DER signature with both in [1, n-1]; None otherwise."""
    try:
        r, s = decode_dss_signature(signature)
    except (ValueError, TypeError):
        return None
    if not (0 < r < _N and 0 < s < _N) or encode_dss_signature(r, s) != signature:
        return None
    return r, s


def verify(public_key_der: bytes, message: bytes, signature: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> bool:
    """True when ``signature`` (DER) is a valid SM2 signature of ``message`` by the key.

    False for a wrong signature and for any malformed input (key, signature,
    user ID): a verifier must never crash on what an attacker sends.
    """
    if not isinstance(signature, bytes) or _canonical_rs(signature) is None:
        return False
    try:
        key, _ = _load_public(bytes(public_key_der))
        digest = message_digest(bytes(public_key_der), message, user_id=user_id)
    except SM2Error:
        return False
    lib = _backend._lib
    try:
        ctx = _context("verify", bytes(public_key_der), key._evp_pkey)
    except SM2Error:
        return False
    ok = lib.EVP_PKEY_verify(ctx, signature, len(signature), digest, len(digest)) == 1
    if not ok:
        lib.ERR_clear_error()
    return ok


def signature_to_raw(signature: bytes) -> bytes:
    """The 64-byte ``r || s`` (each 32 bytes big-endian) of a DER signature; SM2Error if malformed."""
    rs = _canonical_rs(signature)
    if rs is None:
        raise SM2Error("not a DER SM2 signature")
    return rs[0].to_bytes(32, "big") + rs[1].to_bytes(32, "big")


def signature_from_raw(raw: bytes) -> bytes:
    """The DER signature of a 64-byte ``r || s``; SM2Error if the length or values are out of range."""
    if len(raw) != RAW_SIGNATURE_BYTES:
        raise SM2Error("a raw SM2 signature is 64 bytes")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        raise SM2Error("SM2 signature values out of range")
    return bytes(encode_dss_signature(r, s))


def key_id(public_key_der: bytes) -> str:
    """Lowercase hex of the first 16 bytes of SM3 over the DER SubjectPublicKeyInfo (32 characters)."""
    return sm3(public_key_der)[:KEY_ID_BYTES].hex()


def public_key_point(public_key_der: bytes) -> bytes:
    """The uncompressed point ``xA || yA`` (64 bytes) of an SM2 public key; SM2Error if it is not one."""
    return _load_public(public_key_der)[1]
