"""docs/licences.md's test vectors, checked by an independent implementation (pure-Python gmssl) and by ours.

The vectors are read from the page itself, so the page and the code cannot drift apart; any one-byte edit
of the payload or of the trust list makes verification fail.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from functools import cache
from pathlib import Path

import pytest
from gmssl import func as gm_func
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3

from tests.licences.gmssl_support import gmssl_sm2
from yiwang.core import sm2
from yiwang.licences.services import qr, trust
from yiwang.licences.services.seal_types import TrustList, VerificationCode

DOC = Path(__file__).resolve().parents[2] / "docs" / "licences.md"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
DEFAULT_ID = b"1234567812345678"
AT = dt.datetime(2026, 12, 8, tzinfo=dt.UTC)


@cache
def vectors() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    found = dict(re.findall(r"<!-- vector:(\w+) -->\n```[a-z]*\n(.*?)\n```", text, flags=re.DOTALL))
    assert {"payload", "seal_public_key", "trust_list", "trust_list_signature", "root_public_key"} <= found.keys()
    return found


def independent_sm3(data: bytes) -> bytes:
    return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(data)))


def independent_base45(text: str) -> bytes:
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = [ALPHABET.index(c) for c in text[i : i + 3]]
        value = sum(v * 45**k for k, v in enumerate(chunk))
        out += value.to_bytes(2 if len(chunk) == 3 else 1, "big")
    return bytes(out)


def curve() -> bytes:
    """a || b || xG || yG as gmssl's table holds them."""
    table = gm_sm2.default_ecc_table
    return bytes.fromhex(table["a"] + table["b"] + table["g"])


def independent_verify(public_der: bytes, message: bytes, r_s: bytes) -> bool:
    """gmssl's SM2 over SM3(Z || M), Z computed here from GB/T 32918.5's constants."""
    assert len(public_der) == 91 and public_der[-65] == 0x04
    point = public_der[-64:]
    table = gm_sm2.default_ecc_table
    z = independent_sm3(
        (len(DEFAULT_ID) * 8).to_bytes(2, "big")
        + DEFAULT_ID
        + bytes.fromhex(table["a"] + table["b"] + table["g"])
        + point
    )
    e = independent_sm3(z + message)
    try:
        return bool(gmssl_sm2(point).verify(r_s.hex(), e))
    except (ValueError, ZeroDivisionError, TypeError):
        return False


def der_to_rs(der: bytes) -> bytes:
    from Cryptodome.Util.asn1 import DerSequence

    r, s = DerSequence().decode(der)
    return int(r).to_bytes(32, "big") + int(s).to_bytes(32, "big")


def test_key_id_z_and_e_match_the_page() -> None:
    v = vectors()
    seal_public = base64.b64decode(v["seal_public_key"])
    assert independent_sm3(seal_public)[:16].hex() == v["seal_key_id"]
    root_public = base64.b64decode(v["root_public_key"])
    assert independent_sm3(root_public)[:16].hex() == v["root_key_id"]
    body = independent_base45(v["payload"][4:])
    assert body.hex() == v["payload_body"]
    table = gm_sm2.default_ecc_table
    z = independent_sm3(
        b"\x00\x80" + DEFAULT_ID + bytes.fromhex(table["a"] + table["b"] + table["g"]) + seal_public[-64:]
    )
    assert z.hex() == v["seal_z"]
    assert independent_sm3(z + body[:-66]).hex() == v["payload_e"]


def test_the_payload_verifies_independently() -> None:
    v = vectors()
    assert v["payload"].startswith("YW1:")
    body = independent_base45(v["payload"][4:])
    tbs, tag, signature = body[:-66], body[-66:-64], body[-64:]
    assert tag == b"\x7f\x40" and tbs[0] == 0x01
    # The key named in the payload (tag 0x0A) is the seal key, which the trust list holds.
    assert bytes.fromhex(v["seal_key_id"]) in tbs
    assert v["seal_key_id"] in v["trust_list"] and v["seal_public_key"] in v["trust_list"]
    assert independent_verify(base64.b64decode(v["seal_public_key"]), tbs, signature)


def test_the_trust_list_verifies_independently() -> None:
    v = vectors()
    document = v["trust_list"].encode("utf-8")
    signature = der_to_rs(base64.b64decode(v["trust_list_signature"]))
    assert independent_verify(base64.b64decode(v["root_public_key"]), document, signature)


def _our_list() -> TrustList:
    v = vectors()
    return trust.parse_trust_list(
        v["trust_list"].encode(),
        base64.b64decode(v["trust_list_signature"]),
        base64.b64decode(v["root_public_key"]),
        check_current=False,
    )


def test_our_implementation_agrees() -> None:
    v = vectors()
    result = qr.verify_qr_payload(v["payload"], _our_list(), now=AT)
    assert result.ok, result.message
    assert result.claims is not None
    assert result.claims.licence_id == "44030020261207000123"
    assert result.claims.fields == (("经营者名称", "某某餐饮店"),)
    assert result.claims.holder_id_digest == qr.holder_digest("11010519491231002X", "44030020261207000123")
    assert result.claims.signed_at == dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)


def test_any_one_byte_edit_of_the_payload_fails() -> None:
    v = vectors()
    body = independent_base45(v["payload"][4:])
    public = base64.b64decode(v["seal_public_key"])
    trust_list = _our_list()
    for position in range(len(body)):
        edited = body[:position] + bytes(((body[position] + 1) % 256,)) + body[position + 1 :]
        ours = qr.verify_qr_payload("YW1:" + qr.base45_encode(edited), trust_list, now=AT)
        assert not ours.ok, position
        if position % 16 == 0:  # gmssl is slow (~30 verifications/s): a sample of positions
            framed = edited[-66:-64] == b"\x7f\x40"  # the signature field's tag and length
            assert not (framed and independent_verify(public, edited[:-66], edited[-64:])), position


@pytest.mark.parametrize("step", [1])
def test_any_one_byte_edit_of_the_trust_list_fails(step: int) -> None:
    v = vectors()
    document = v["trust_list"].encode()
    signature = base64.b64decode(v["trust_list_signature"])
    root = base64.b64decode(v["root_public_key"])
    for position in range(0, len(document), step):
        edited = document[:position] + bytes(((document[position] + 1) % 256,)) + document[position + 1 :]
        assert not sm2.verify(root, edited, signature), position
        if position % 97 == 0:
            assert not independent_verify(root, edited, der_to_rs(signature)), position
        with pytest.raises(trust.TrustListError) as refused:
            trust.parse_trust_list(edited, signature, root, check_current=False)
        assert refused.value.code == "bad_signature"


def test_expired_list_and_an_edited_character_of_the_text() -> None:
    v = vectors()
    late = qr.verify_qr_payload(v["payload"], _our_list(), now=dt.datetime(2028, 1, 1, tzinfo=dt.UTC))
    assert late.code == VerificationCode.TRUST_LIST_EXPIRED
    text = v["payload"]
    for position in range(4, len(text), 7):
        replacement = ALPHABET[(ALPHABET.index(text[position]) + 1) % 45]
        edited = text[:position] + replacement + text[position + 1 :]
        assert not qr.verify_qr_payload(edited, _our_list(), now=AT).ok, position
