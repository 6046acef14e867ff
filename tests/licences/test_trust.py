"""Trust lists: this platform's signed list, pinning and importing another platform's, refusing bad ones."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest
from django.utils import timezone

from tests.licences.gmssl_support import gmssl_sm2
from tests.licences.qr_support import claims
from yiwang.core import sm2
from yiwang.licences.models import ForeignPlatform, Seal
from yiwang.licences.services import qr, seals, trust
from yiwang.licences.services.canonical import canonical_json, utc_text
from yiwang.licences.services.seal_types import VerificationCode

pytestmark = pytest.mark.django_db


def _foreign(platform_id: str = "gd-yiwang", **document_changes: Any) -> tuple[bytes, bytes, bytes, bytes, str]:
    """Another platform's root key, a seal key, its signed list and a licence payload it issued."""
    root_private = sm2.generate_private_key()
    root_public = sm2.public_key_der(root_private)
    seal_private = sm2.generate_private_key()
    seal_public = sm2.public_key_der(seal_private)
    now = timezone.now().replace(microsecond=0)
    document: dict[str, Any] = {
        "format": trust.FORMAT,
        "platform": {"id": platform_id, "name": "广东政务服务网"},
        "issuedAt": utc_text(now - dt.timedelta(minutes=1)),
        "nextUpdate": utc_text(now + dt.timedelta(days=7)),
        "rootKey": {"keyId": sm2.key_id(root_public), "algorithm": "SM2",
                    "publicKey": base64.b64encode(root_public).decode()},
        "keys": [{
            "keyId": sm2.key_id(seal_public), "algorithm": "SM2",
            "publicKey": base64.b64encode(seal_public).decode(),
            "owner": {"kind": "seal", "id": "gd-market-01", "name": "广东省市场监督管理局", "department": "gd-market"},
            "validFrom": utc_text(now - dt.timedelta(days=1)), "validTo": utc_text(now + dt.timedelta(days=365)),
            "retiredAt": None, "revokedAt": None, "revocationReason": "",
        }],
    }  # fmt: skip
    document.update(document_changes)
    raw = canonical_json(document)
    payload = qr.encode_signed(
        replace(claims(), platform_id=platform_id, key_id=sm2.key_id(seal_public), signed_at=now), seal_private
    )
    return root_private, root_public, raw, sm2.sign(root_private, raw), payload


def test_the_published_list_is_canonical_signed_and_verifies_with_gmssl(market_seal: Seal) -> None:
    document, signature = trust.build_trust_list()
    assert document == canonical_json(json.loads(document))
    data = json.loads(document)
    assert data["format"] == "yiwang-trust-list/1"
    assert data["platform"]["id"] == trust.platform_id()
    assert [k["keyId"] for k in data["keys"]] == [market_seal.current_key.key_id]
    assert data["keys"][0]["owner"] == {"kind": "seal", "id": market_seal.code, "name": market_seal.name,
                                        "department": "market"}  # fmt: skip
    root_public = base64.b64decode(data["rootKey"]["publicKey"])
    assert sm2.key_id(root_public) == data["rootKey"]["keyId"]
    gm = gmssl_sm2(root_public[-64:], asn1=True)
    assert gm.verify_with_sm3(signature.hex(), document)
    parsed = trust.parse_trust_list(document, signature, root_public)
    assert market_seal.current_key.key_id in parsed.keys


def test_a_key_made_earlier_in_the_same_second_is_counted_at_once(
    market_seal: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key stamped at s.4 and a request at s.6: the list must already say issuedAt = s, or the list
    # fetched one second later differs and a detached signature fetched then no longer matches it.
    trust.build_trust_list()  # the platform's root key is made on first use; make it before the clock stops
    made = market_seal.current_key.created_at.astimezone(dt.UTC)
    monkeypatch.setattr(trust.timezone, "now", lambda: made + dt.timedelta(microseconds=1))
    document, _ = trust.build_trust_list()
    assert json.loads(document)["issuedAt"] == utc_text(made.replace(microsecond=0))


def test_revoked_and_rotated_keys_stay_listed(market_seal: Seal) -> None:
    old = market_seal.current_key
    seals.rotate_key(market_seal)
    seals.revoke_key(old, "私钥泄露")
    data = json.loads(trust.build_trust_list()[0])
    entries = {k["keyId"]: k for k in data["keys"]}
    assert entries[old.key_id]["revokedAt"] and entries[old.key_id]["revocationReason"] == "私钥泄露"
    assert entries[old.key_id]["retiredAt"]
    assert len(entries) == 2


def test_own_payloads_verify_online(market_seal: Seal) -> None:
    text = qr.encode_qr_payload(claims(), department_code="market")
    result = trust.verify_payload(text)
    assert result.ok, result.message
    assert result.claims is not None and result.claims.platform_id == trust.platform_id()
    assert result.key_id == market_seal.current_key.key_id
    seals.revoke_key(market_seal.current_key, "印章停用")
    assert trust.verify_payload(text).code == VerificationCode.KEY_REVOKED


def test_a_pinned_platform_s_list_is_imported_and_its_licences_verify() -> None:
    _, root_public, document, signature, payload = _foreign()
    assert trust.verify_payload(payload).code == VerificationCode.UNTRUSTED_PLATFORM
    trust.pin_platform("gd-yiwang", "广东", base64.b64encode(root_public).decode())
    # Pinned but no list imported yet: still refused.
    assert trust.verify_payload(payload).code == VerificationCode.UNTRUSTED_PLATFORM
    trust.import_trust_list("gd-yiwang", document, signature)
    result = trust.verify_payload(payload)
    assert result.ok and result.platform_id == "gd-yiwang" and result.signer == "广东省市场监督管理局"
    trust.distrust_platform(ForeignPlatform.objects.get(platform_id="gd-yiwang"))
    assert trust.verify_payload(payload).code == VerificationCode.UNTRUSTED_PLATFORM


def test_bad_lists_are_refused_with_clear_codes() -> None:
    root_private, root_public, document, signature, _ = _foreign()
    trust.pin_platform("gd-yiwang", "广东", root_public)
    cases = {
        "bad_signature": (document.replace(b"\xe5\xb9\xbf", b"\xe5\xb9\xbb", 1), signature),
        "bad_signature_other_key": (document, sm2.sign(sm2.generate_private_key(), document)),
    }
    for name, (doc, sig) in cases.items():
        with pytest.raises(trust.TrustListError) as refused:
            trust.import_trust_list("gd-yiwang", doc, sig)
        assert refused.value.code == "bad_signature", name
    # Signed correctly but wrong: another platform, out of date, malformed.
    for changes, code in (
        ({"platform": {"id": "zj-yiwang", "name": "浙江"}}, "wrong_platform"),
        ({"nextUpdate": "2020-01-01T00:00:00Z"}, "expired"),
        ({"issuedAt": "2099-01-01T00:00:00Z"}, "not_yet_valid"),
        ({"keys": [{"keyId": "x"}]}, "malformed"),
        ({"format": "other/9"}, "malformed"),
    ):
        data = json.loads(document)
        data.update(changes)
        raw = canonical_json(data)
        with pytest.raises(trust.TrustListError) as refused:
            trust.import_trust_list("gd-yiwang", raw, sm2.sign(root_private, raw))
        assert refused.value.code == code, changes
    with pytest.raises(trust.TrustListError) as refused:
        trust.import_trust_list("never-pinned", document, signature)
    assert refused.value.code == "not_found"


def test_an_older_list_does_not_replace_a_newer_one() -> None:
    root_private, root_public, document, signature, _ = _foreign()
    trust.pin_platform("gd-yiwang", "广东", root_public)
    trust.import_trust_list("gd-yiwang", document, signature)
    data = json.loads(document)
    data["issuedAt"] = utc_text(timezone.now() - dt.timedelta(days=1))
    older = canonical_json(data)
    with pytest.raises(trust.TrustListError) as refused:
        trust.import_trust_list("gd-yiwang", older, sm2.sign(root_private, older))
    assert refused.value.code == "rollback"


def test_an_imported_list_past_its_next_update_refuses_verification() -> None:
    _, root_public, document, signature, payload = _foreign()
    trust.pin_platform("gd-yiwang", "广东", root_public)
    trust.import_trust_list("gd-yiwang", document, signature)
    result = trust.verify_payload(payload, now=timezone.now() + dt.timedelta(days=8))
    assert result.code == VerificationCode.TRUST_LIST_EXPIRED and "过期" in result.message


def test_pinning_checks_its_input() -> None:
    with pytest.raises(trust.TrustListError):
        trust.pin_platform("gd yiwang", "x", sm2.public_key_der(sm2.generate_private_key()))
    with pytest.raises(trust.TrustListError):
        trust.pin_platform("gd-yiwang", "x", "not a key")
    with pytest.raises(trust.TrustListError):
        trust.pin_platform(trust.platform_id(), "x", sm2.public_key_der(sm2.generate_private_key()))
    public = sm2.public_key_der(sm2.generate_private_key())
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(public).decode() + "\n-----END PUBLIC KEY-----\n"
    assert trust.pin_platform("gd-yiwang", "广东", pem).root_key_id == sm2.key_id(public)
