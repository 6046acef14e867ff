"""yiwang.core.sm2 against pure-Python gmssl, an independent SM2/SM3 implementation."""

from __future__ import annotations

import hashlib

import pytest
from gmssl import func as gm_func
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3

from tests.licences.gmssl_support import gmssl_sm2
from yiwang.core import sm2

# GB/T 32918.2 / GM/T 0003 Annex A style private key value (a fixed test key).
FIXED_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8


def _gm_sm3(data: bytes) -> bytes:
    return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(data)))


def _gm_signer(public_der: bytes, private_hex: str = "") -> gm_sm2.CryptSM2:
    return gmssl_sm2(sm2.public_key_point(public_der), private_hex=private_hex, asn1=True)


def _gm_e(public_der: bytes, message: bytes, user_id: bytes) -> bytes:
    # Z computed from the standard's curve constants as gmssl's table holds them.
    table = gm_sm2.default_ecc_table
    z_input = (
        (len(user_id) * 8).to_bytes(2, "big")
        + user_id
        + bytes.fromhex(table["a"] + table["b"] + table["g"])
        + sm2.public_key_point(public_der)
    )
    return _gm_sm3(_gm_sm3(z_input) + message)


@pytest.fixture(scope="module")
def key() -> bytes:
    return sm2.generate_private_key()


def test_sm3_matches_gmssl_and_the_standard_vector() -> None:
    # GB/T 32905 Annex A example 1.
    assert sm2.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm2.sm3(b"x" * 1000) == _gm_sm3(b"x" * 1000) == hashlib.new("sm3", b"x" * 1000).digest()


def test_keys_are_der_pkcs8_and_spki(key: bytes) -> None:
    public = sm2.public_key_der(key)
    assert key[0] == 0x30 and public[0] == 0x30
    assert len(public) == 91
    assert bytes.fromhex("06082a811ccf5501822d") in public  # the SM2 curve OID 1.2.156.10197.1.301
    assert sm2.public_key_point(public) == public[-64:]


def test_our_signature_verifies_with_gmssl(key: bytes) -> None:
    public = sm2.public_key_der(key)
    message = "电子证照 licence 123".encode()
    signature = sm2.sign(key, message)
    assert sm2.verify(public, message, signature)
    gm = _gm_signer(public)
    # gmssl's own Z (default ID) and ours agree.
    assert gm.verify_with_sm3(signature.hex(), message)
    assert gm.verify(signature.hex(), _gm_e(public, message, sm2.DEFAULT_USER_ID))
    assert not gm.verify_with_sm3(signature.hex(), message + b"!")


def test_gmssl_signature_verifies_with_ours(key: bytes) -> None:
    private_hex = f"{FIXED_D:064x}"
    # Build our DER key from the same scalar: sign with tongsuo via derive, compare public points.
    from tongsuopy.crypto import serialization
    from tongsuopy.crypto.asymciphers import ec

    private = ec.derive_private_key(FIXED_D, ec.SM2())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    gm = gmssl_sm2(public[-64:], private_hex=private_hex, asn1=True)
    assert gm._kg(FIXED_D, gm.ecc_table["g"]) == public[-64:].hex()
    message = b"message digest"
    signature = bytes.fromhex(gm.sign_with_sm3(message))
    assert sm2.verify(public, message, signature)
    assert not sm2.verify(public, b"message digesT", signature)


def test_a_custom_user_id_is_bound_into_the_signature(key: bytes) -> None:
    public = sm2.public_key_der(key)
    message = b"decision 2026-0001"
    user_id = b"staff:zhang@yiwang"
    signature = sm2.sign(key, message, user_id=user_id)
    assert sm2.verify(public, message, signature, user_id=user_id)
    assert not sm2.verify(public, message, signature)  # default ID: a different Z
    assert _gm_signer(public).verify(signature.hex(), _gm_e(public, message, user_id))


def test_raw_signature_round_trip(key: bytes) -> None:
    public = sm2.public_key_der(key)
    signature = sm2.sign(key, b"m")
    raw = sm2.signature_to_raw(signature)
    assert len(raw) == 64
    assert sm2.signature_from_raw(raw) == signature
    assert sm2.verify(public, b"m", sm2.signature_from_raw(raw))
    with pytest.raises(sm2.SM2Error):
        sm2.signature_from_raw(raw[:-1])
    with pytest.raises(sm2.SM2Error):
        sm2.signature_from_raw(b"\x00" * 64)


def test_key_id_is_truncated_sm3_of_the_spki(key: bytes) -> None:
    public = sm2.public_key_der(key)
    assert sm2.key_id(public) == _gm_sm3(public)[:16].hex()
    assert len(sm2.key_id(public)) == 32
    assert sm2.key_id(sm2.public_key_der(sm2.generate_private_key())) != sm2.key_id(public)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1],
        lambda s: s + b"\x00",
        lambda s: b"",
        lambda s: b"\x30\x00",
        lambda s: s[:5] + bytes([s[5] ^ 1]) + s[6:],
        lambda s: b"garbage" * 10,
    ],
)
def test_bad_signatures_are_false_not_errors(key: bytes, mangle) -> None:  # type: ignore[no-untyped-def]
    public = sm2.public_key_der(key)
    signature = sm2.sign(key, b"m")
    assert not sm2.verify(public, b"m", mangle(signature))
    # The library keeps working after refusing bad input (no stale error state).
    assert sm2.verify(public, b"m", signature)


def test_bad_keys_are_refused(key: bytes) -> None:
    signature = sm2.sign(key, b"m")
    assert not sm2.verify(b"not a key", b"m", signature)
    other = sm2.public_key_der(sm2.generate_private_key())
    assert not sm2.verify(other, b"m", signature)
    with pytest.raises(sm2.SM2Error):
        sm2.sign(b"not a key", b"m")
    with pytest.raises(sm2.SM2Error):
        sm2.public_key_der(b"\x30\x03\x02\x01\x00")
    with pytest.raises(sm2.SM2Error):
        sm2.load_public_key(b"junk")


def test_threads_sign_and_verify_at_once(key: bytes) -> None:
    from concurrent.futures import ThreadPoolExecutor

    public = sm2.public_key_der(key)
    other = sm2.public_key_der(sm2.generate_private_key())

    def work(index: int) -> tuple[bool, bool]:
        message = f"message {index}".encode()
        signature = sm2.sign(key, message)
        return sm2.verify(public, message, signature), sm2.verify(other, message, signature)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(200)))
    assert all(good and not wrong for good, wrong in results)
