"""Department seals and staff keys: creation, sealing, verification, rotation and revocation."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from tests.licences.gmssl_support import gmssl_sm2
from yiwang.core import sm2
from yiwang.licences.models import KeyPurpose, Seal, SigningKey
from yiwang.licences.services import seals
from yiwang.licences.services.canonical import canonical_json
from yiwang.licences.services.seal_types import VerificationCode

pytestmark = pytest.mark.django_db
CONTENT = "营业执照 91440300MA5XXXXXX1 某某餐饮店".encode()


def test_a_seal_has_an_image_a_key_in_the_store_and_no_private_key_in_the_database(
    market_seal: Seal, memory_key_store: Any
) -> None:
    assert market_seal.department.code == "market"
    image = bytes(market_seal.image_png)
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert market_seal.image_digest == sm2.sm3(image).hex()
    key = market_seal.current_key
    assert key is not None and key.purpose == KeyPurpose.SEAL and key.seal == market_seal
    assert key.key_id == sm2.key_id(bytes(key.public_key_der))
    private = memory_key_store.keys[key.key_id]
    assert sm2.public_key_der(private) == bytes(key.public_key_der)
    assert seals.seal_image_png("market") == image
    assert seals.seal_image_png("police") is None


def test_seal_and_verify_a_document(market_seal: Seal) -> None:
    sealed = seals.seal_document(department_code="market", content=CONTENT)
    assert sealed.key_id == market_seal.current_key.key_id
    assert sealed.digest == sm2.sm3(CONTENT)
    assert sealed.seal_name == market_seal.name and sealed.seal_image_png == bytes(market_seal.image_png)
    result = seals.verify_document(CONTENT, sealed)
    assert result.ok and result.code == VerificationCode.OK
    assert seals.verify_document(CONTENT, sealed.structure).ok  # the stored bytes alone suffice


def test_the_structure_follows_gbt_38540_and_verifies_with_gmssl(market_seal: Seal) -> None:
    sealed = seals.seal_document(department_code="market", content=CONTENT)
    record = json.loads(sealed.structure)
    to_sign = record["toSign"]
    assert set(to_sign) == {"version", "eseal", "timeInfo", "dataHash", "propertyInfo", "signatureAlgorithm"}
    assert to_sign["eseal"]["esID"] == market_seal.code
    assert to_sign["eseal"]["pictureDigest"] == market_seal.image_digest
    assert to_sign["dataHash"] == sm2.sm3(CONTENT).hex()
    # An independent implementation checks the signature over the canonical toSign bytes.
    message = canonical_json(to_sign)
    public = bytes(market_seal.current_key.public_key_der)
    gm = gmssl_sm2(public[-64:], asn1=True)
    assert gm.verify_with_sm3(sealed.signature.hex(), message)


def test_altered_content_and_structures_are_refused(market_seal: Seal) -> None:
    sealed = seals.seal_document(department_code="market", content=CONTENT)
    assert seals.verify_document(CONTENT + b" ", sealed).code == VerificationCode.ALTERED
    record = json.loads(sealed.structure)
    record["toSign"]["eseal"]["name"] = "伪造的印章"
    forged = canonical_json(record)
    assert seals.verify_document(CONTENT, forged).code == VerificationCode.BAD_SIGNATURE
    record = json.loads(sealed.structure)
    record["toSign"]["eseal"]["keyId"] = "0" * 32
    assert seals.verify_document(CONTENT, canonical_json(record)).code == VerificationCode.UNKNOWN_KEY
    for garbage in (b"", b"not json", b"[]", b'{"toSign": 1}', b"\xff\xfe", b"{" * 5000):
        result = seals.verify_document(CONTENT, garbage)
        assert not result.ok and result.code == VerificationCode.MALFORMED
        assert result.message


def test_staff_co_signature(market_seal: Seal, approver: Any) -> None:
    sealed = seals.seal_document(department_code="market", content=CONTENT, signer_user=approver)
    staff_key = SigningKey.objects.get(purpose=KeyPurpose.STAFF, user=approver)
    assert sealed.staff_key_id == staff_key.key_id
    assert sealed.signer == approver.display_name
    assert sm2.verify(
        bytes(staff_key.public_key_der), canonical_json(json.loads(sealed.structure)["toSign"]), sealed.staff_signature
    )
    assert seals.verify_document(CONTENT, sealed).ok
    # The same key serves the next decision.
    assert seals.issue_staff_key(approver) == staff_key
    seals.revoke_key(staff_key, "离职")
    result = seals.verify_document(CONTENT, sealed)
    assert result.code == VerificationCode.KEY_REVOKED and "离职" in result.message
    # A new key is issued for the next signature.
    assert seals.issue_staff_key(approver) != staff_key


def test_rotation_keeps_old_signatures_verifiable(market_seal: Seal) -> None:
    before = seals.seal_document(department_code="market", content=CONTENT)
    old_key = market_seal.current_key
    new_key = seals.rotate_key(market_seal)
    old_key.refresh_from_db()
    assert old_key.retired_at is not None and new_key != old_key
    after = seals.seal_document(department_code="market", content=CONTENT)
    assert after.key_id == new_key.key_id
    assert seals.verify_document(CONTENT, before).ok
    assert seals.verify_document(CONTENT, after).ok


def test_a_signature_after_the_key_stopped_signing_is_refused(market_seal: Seal) -> None:
    old_key = market_seal.current_key
    seals.rotate_key(market_seal, at=timezone.now() - dt.timedelta(minutes=2))
    old_key.refresh_from_db()
    # Someone holding the retired key's private half signs later: refused.
    sealed = seals.seal_document(department_code="market", content=CONTENT)
    record = json.loads(sealed.structure)
    record["toSign"]["eseal"]["keyId"] = old_key.key_id
    message = canonical_json(record["toSign"])
    record["signature"] = base64.b64encode(seals.sign_with_key(old_key, message)).decode()
    result = seals.verify_document(CONTENT, canonical_json(record))
    assert result.code == VerificationCode.KEY_EXPIRED


def test_a_signature_outside_the_keys_validity_is_refused(market_seal: Seal) -> None:
    key = market_seal.current_key
    sealed = seals.seal_document(department_code="market", content=CONTENT)
    record = json.loads(sealed.structure)
    record["toSign"]["timeInfo"] = "2001-01-01T00:00:00Z"  # before the key existed
    record["signature"] = base64.b64encode(seals.sign_with_key(key, canonical_json(record["toSign"]))).decode()
    result = seals.verify_document(CONTENT, canonical_json(record))
    assert result.code == VerificationCode.KEY_EXPIRED and "有效期" in result.message


def test_a_signature_stays_valid_after_the_key_expires(market_seal: Seal) -> None:
    sealed = seals.seal_document(department_code="market", content=CONTENT)
    SigningKey.objects.filter(pk=market_seal.current_key.pk).update(valid_to=timezone.now() + dt.timedelta(seconds=1))
    SigningKey.objects.filter(pk=market_seal.current_key.pk).update(
        valid_from=sealed.signed_at - dt.timedelta(days=1), valid_to=sealed.signed_at + dt.timedelta(seconds=1)
    )
    assert seals.verify_document(CONTENT, sealed).ok
    # …and the expired key signs nothing more.
    with pytest.raises(seals.SealError) as refused:
        seals.seal_document(department_code="market", content=CONTENT, at=sealed.signed_at + dt.timedelta(days=1))
    assert refused.value.code == "no_seal"


def test_revocation_refuses_every_signature_of_the_key(market_seal: Seal) -> None:
    sealed = seals.seal_document(department_code="market", content=CONTENT)
    seals.revoke_key(market_seal.current_key, "私钥泄露")
    result = seals.verify_document(CONTENT, sealed)
    assert not result.ok and result.code == VerificationCode.KEY_REVOKED
    assert "私钥泄露" in result.message
    market_seal.refresh_from_db()
    assert market_seal.current_key is None
    with pytest.raises(seals.SealError) as refused:
        seals.seal_document(department_code="market", content=CONTENT)
    assert refused.value.code == "no_seal"
    seals.rotate_key(market_seal)
    assert seals.verify_document(CONTENT, seals.seal_document(department_code="market", content=CONTENT)).ok


def test_bad_requests_are_refused_with_codes(market_seal: Seal) -> None:
    with pytest.raises(seals.SealError) as refused:
        seals.seal_document(department_code="police", content=CONTENT)
    assert refused.value.code == "no_seal" and refused.value.status == 409
    with pytest.raises(seals.SealError):
        seals.revoke_key(market_seal.current_key, "  ")
    with pytest.raises(seals.SealError):
        seals.create_seal("no-such-department")
    seals.revoke_key(market_seal.current_key, "测试")
    with pytest.raises(seals.SealError):
        seals.revoke_key(SigningKey.objects.get(key_id=market_seal.keys.get().key_id), "再次")


def test_a_missing_private_key_is_a_clear_refusal(market_seal: Seal, memory_key_store: Any) -> None:
    memory_key_store.keys.clear()
    with pytest.raises(seals.SealError) as refused:
        seals.seal_document(department_code="market", content=CONTENT)
    assert refused.value.code == "key_store" and refused.value.status == 503
