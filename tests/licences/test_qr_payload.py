"""The QR payload: compact, signed, verifiable offline against a trust list; every edit is refused."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from tests.licences.qr_support import NOW, claims, key_and_list, signed
from yiwang.licences.services import qr
from yiwang.licences.services.seal_types import VerificationCode


def test_round_trip_and_offline_verification() -> None:
    private, key, trust = key_and_list()
    text = signed(private, key)
    assert text.startswith("YW1:")
    assert set(text[4:]) <= set(qr._BASE45)
    assert len(text) < 600  # fits a QR code of modest size (alphanumeric mode)
    result = qr.verify_qr_payload(text, trust, now=NOW)
    assert result.ok and result.code == VerificationCode.OK, result.message
    assert result.claims is not None
    assert result.claims.licence_id == "44030020261207000123"
    assert result.claims.fields == (("经营者名称", "某某餐饮店"), ("经营项目", "热食类食品制售"))
    assert result.claims.expires_on == dt.date(2031, 12, 6)
    assert result.claims.signed_at == NOW
    assert result.signer == "示范市市场监督管理局" and result.platform_id == "gd-yiwang"
    # Given as a list, a mapping, or inside a verification URL.
    assert qr.verify_qr_payload(text, [trust], now=NOW).ok
    assert qr.verify_qr_payload(text, {"gd-yiwang": trust}, now=NOW).ok
    url = "https://zwfw.example.gov.cn/licences/verify/?p=" + qr.urllib.parse.quote(text)
    assert qr.verify_qr_payload(url, trust, now=NOW).ok


def test_no_expiry_and_no_fields() -> None:
    private, key, trust = key_and_list()
    text = signed(private, key, expires_on=None, fields=())
    result = qr.verify_qr_payload(text, trust, now=NOW)
    assert result.ok and result.claims is not None and result.claims.expires_on is None


def test_every_one_byte_edit_of_the_body_is_refused() -> None:
    private, key, trust = key_and_list()
    body = qr.base45_decode(signed(private, key)[4:])
    for position in range(len(body)):
        for flip in (0x01, 0x80):
            edited = body[:position] + bytes((body[position] ^ flip,)) + body[position + 1 :]
            result = qr.verify_qr_payload("YW1:" + qr.base45_encode(edited), trust, now=NOW)
            assert not result.ok, (position, flip)
            assert result.code in {
                VerificationCode.MALFORMED, VerificationCode.BAD_SIGNATURE,
                VerificationCode.UNKNOWN_KEY, VerificationCode.UNTRUSTED_PLATFORM,
            }  # fmt: skip
    # Truncated or extended.
    for edited in (body[:-1], body + b"\x00", body[:40]):
        assert not qr.verify_qr_payload("YW1:" + qr.base45_encode(edited), trust, now=NOW).ok


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "YW1:", "YW2:ABC", "hello", "YW1:" + "A" * 5000, "YW1:abc", "YW1:::::", "YW1:A",
     "https://example/verify?q=1", "YW1:" + qr.base45_encode(b"\x01"), "YW1:" + qr.base45_encode(b"\x02\x01\x00")],
)  # fmt: skip
def test_garbage_is_malformed_not_an_error(garbage: str) -> None:
    _, _, trust = key_and_list()
    result = qr.verify_qr_payload(garbage, trust, now=NOW)
    assert not result.ok and result.code == VerificationCode.MALFORMED and result.message


def test_an_untrusted_platform_is_refused_by_name() -> None:
    private, key, _ = key_and_list("other-province")
    _, _, trust = key_and_list("gd-yiwang")
    result = qr.verify_qr_payload(signed(private, key, "other-province"), trust, now=NOW)
    assert result.code == VerificationCode.UNTRUSTED_PLATFORM and "other-province" in result.message


def test_a_key_missing_from_the_list_and_a_forged_signature() -> None:
    _, key, trust = key_and_list()
    other_private, other_key, _ = key_and_list()
    result = qr.verify_qr_payload(signed(other_private, other_key), trust, now=NOW)
    assert result.code == VerificationCode.UNKNOWN_KEY
    # Signed by another key while naming the trusted key's id: a forgery.
    impostor = replace(claims(), platform_id="gd-yiwang", key_id=key.key_id, signed_at=NOW)
    forged = qr.encode_signed(impostor, other_private)
    assert qr.verify_qr_payload(forged, trust, now=NOW).code == VerificationCode.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"revoked_at": NOW + dt.timedelta(days=1), "revocation_reason": "私钥泄露"}, VerificationCode.KEY_REVOKED),
        ({"valid_from": NOW + dt.timedelta(hours=1)}, VerificationCode.KEY_EXPIRED),
        ({"valid_to": NOW - dt.timedelta(seconds=1)}, VerificationCode.KEY_EXPIRED),
        ({"retired_at": NOW - dt.timedelta(days=1)}, VerificationCode.KEY_EXPIRED),
        ({"owner_kind": "staff"}, VerificationCode.UNKNOWN_KEY),
    ],
)
def test_key_state_at_signing_time(changes: dict[str, Any], code: VerificationCode) -> None:
    private, key, trust = key_and_list(**changes)
    result = qr.verify_qr_payload(signed(private, key), trust, now=NOW)
    assert result.code == code and not result.ok and result.message


def test_a_retired_or_expired_key_still_vouches_for_what_it_signed_in_time() -> None:
    private, key, trust = key_and_list(retired_at=NOW + dt.timedelta(days=1), valid_to=NOW + dt.timedelta(days=2))
    later = NOW + dt.timedelta(days=3)
    trust = replace(trust, next_update=later + dt.timedelta(days=1))
    assert qr.verify_qr_payload(signed(private, key), trust, now=later).ok


def test_expired_trust_list_and_expired_licence() -> None:
    private, key, trust = key_and_list()
    text = signed(private, key)
    result = qr.verify_qr_payload(text, trust, now=NOW + dt.timedelta(days=8))
    assert result.code == VerificationCode.TRUST_LIST_EXPIRED
    old = signed(private, key, expires_on=dt.date(2026, 12, 1))
    result = qr.verify_qr_payload(old, trust, now=NOW)
    assert result.code == VerificationCode.LICENCE_EXPIRED and not result.ok and result.claims is not None


def test_base45_matches_rfc_9285_examples() -> None:
    assert qr.base45_encode(b"AB") == "BB8"
    assert qr.base45_encode(b"Hello!!") == "%69 VD92EX0"
    assert qr.base45_encode(b"base-45") == "UJCLQE7W581"
    assert qr.base45_decode("QED8WEX0") == b"ietf!"
    with pytest.raises(qr.PayloadError):
        qr.base45_decode("GGW")  # 65535 < value: out of range
    with pytest.raises(qr.PayloadError):
        qr.base45_decode("abc")


def test_holder_digest_normalises_and_depends_on_the_licence() -> None:
    a = qr.holder_digest("11010519491231002x", "L1")
    assert a == qr.holder_digest(" 11010519491231002X ", "L1")
    assert a != qr.holder_digest("11010519491231002X", "L2")
    assert len(a) == 16


def test_claims_that_cannot_be_encoded_are_refused() -> None:
    private, key, _ = key_and_list()
    with pytest.raises(qr.PayloadError):
        signed(private, key, licence_id="")
    with pytest.raises(qr.PayloadError):
        signed(private, key, fields=tuple((f"f{i}", "v") for i in range(9)))
    with pytest.raises(qr.PayloadError):
        signed(private, key, "bad platform!")
    with pytest.raises(qr.PayloadError):
        signed(private, key, holder_id_digest=b"short")
