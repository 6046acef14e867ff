"""Licences of a department with a seal: signed claims, the seals' QR payload, the PDF record, the attestation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen, make_staff
from tests.licences.helpers import issue_food_licence
from yiwang.accounts.constants import Role
from yiwang.licences import selectors, services
from yiwang.licences.models import Licence
from yiwang.licences.services import case_documents, documents, qr, seals, trust
from yiwang.licences.services.issuance import qr_licence_id

pytestmark = pytest.mark.django_db


def test_a_sealed_licence_verifies_and_its_qr_payload_verifies_offline(market_seal: Any) -> None:
    licence = issue_food_licence(make_citizen("蒋十一"), business_type="餐饮服务经营者")
    assert licence.signer_key_id == market_seal.current_key.key_id
    structure = json.loads(licence.signature)
    assert structure["toSign"]["dataHash"] == licence.digest
    assert services.seal_intact(licence)

    verification = qr.verify_qr_payload(licence.qr_payload, trust.own_trust_list())
    assert verification.ok, verification.message
    assert verification.claims is not None
    assert verification.claims.licence_id == qr_licence_id(licence.identifier)
    assert "1.2.156.3005.2." + verification.claims.licence_id == licence.identifier
    assert verification.claims.document_digest.hex() == licence.digest
    assert ("主体业态", "餐饮服务经营者") in verification.claims.fields

    # One changed field in the stored row: the seal no longer matches, and the status page says so.
    Licence.objects.filter(pk=licence.pk).update(data={**licence.data, "premises": "别处"})
    licence.refresh_from_db()
    assert not services.seal_intact(licence)
    status = selectors.public_status(licence.identifier, licence.verification_code)
    assert status is not None and not status.seal_intact and "修改" in status.seal_message


def test_a_revoked_seal_key_is_reported_on_the_status_page(market_seal: Any) -> None:
    licence = issue_food_licence(make_citizen())
    seals.revoke_key(market_seal.current_key, "密钥泄露")
    status = selectors.public_status(licence.identifier, licence.verification_code)
    assert status is not None and not status.seal_intact and status.seal_message


def test_the_pdf_carries_the_sealed_structure_and_verifies(market_seal: Any) -> None:
    holder = make_citizen()
    licence = issue_food_licence(holder)
    client = Client()
    client.force_login(holder)
    content = client.get(f"/licences/{licence.pk}/pdf/").content
    record = documents.read_seal_record(content)
    assert record["signature_sm2"] == licence.signature and record["qr_payload"] == licence.qr_payload
    signed = services.claims_of(licence)
    from yiwang.licences.services._sealing import canonical_bytes

    assert seals.verify_document(canonical_bytes(signed), str(record["signature_sm2"]).encode()).ok
    forged = {**signed, "holder": "冒名者"}
    assert not seals.verify_document(canonical_bytes(forged), str(record["signature_sm2"]).encode()).ok


def test_the_share_attestation_is_signed_by_the_issuing_seal(market_seal: Any) -> None:
    holder = make_citizen()
    licence = issue_food_licence(holder)
    _share, token = services.create_share(licence, actor=holder, fields=["holder"])
    shown = services.open_share(token)
    assert shown.signer_key_id == market_seal.current_key.key_id
    from yiwang.licences.services._sealing import canonical_bytes

    verification = seals.verify_document(canonical_bytes(shown.attestation), shown.attestation_signature.encode())
    assert verification.ok


def test_change_of_a_sealed_licence_seals_the_new_version(market_seal: Any) -> None:
    licence = issue_food_licence(make_citizen())
    new = services.change_licence(
        licence, actor=make_staff(Role.APPROVER, "market"), data={"seats": "12"}, reason="变更"
    )
    assert new.signature and new.signature != licence.signature and services.seal_intact(new)
    assert qr.verify_qr_payload(new.qr_payload, trust.own_trust_list()).ok


def test_the_issuing_case_gets_a_sealed_decision_co_signed_by_the_approver(market_seal: Any) -> None:
    from tests.cases.conftest import staff_of
    from tests.licences.helpers import decided_food_case, food_type, run_worker

    food_type()
    citizen, market = make_citizen("沈十二"), staff_of("market")
    case = decided_food_case(citizen, market)
    run_worker()
    licence = Licence.objects.get(case_number=case.number)
    document = selectors.decision_of(case.number)
    assert document is not None and document.claims["licences"] == [licence.identifier]
    assert document.claims["applicant"] == case.applicant_name
    assert ["p", "审批意见：准予许可"] in document.claims["blocks"]
    assert ["p", f"电子证照：{licence.identifier}"] in document.claims["blocks"]
    from yiwang.licences.services._sealing import canonical_bytes

    verification = seals.verify_document(canonical_bytes(document.claims), document.signature.encode())
    assert verification.ok, verification.message
    assert json.loads(document.signature)["toSign"]["propertyInfo"]["staffKeyId"]  # the approver co-signed
    # Handled again: still one document.
    case_documents.seal_case_document(case=case, kind="decision", licences=[licence])
    from yiwang.licences.models import SealedDocument

    assert SealedDocument.objects.filter(case_number=case.number, kind="decision").count() == 1

    holder = Client()
    holder.force_login(citizen)
    response = holder.get(f"/licences/decisions/{case.number}/pdf/")
    assert response.status_code == 200
    record = documents.read_seal_record(response.content, "decision-seal.json")
    assert record["signature_sm2"] == document.signature
    assert f"/licences/decisions/{case.number}/pdf/" in holder.get(f"/licences/{licence.pk}/").content.decode()
    stranger = Client()
    stranger.force_login(make_citizen())
    assert stranger.get(f"/licences/decisions/{case.number}/pdf/").status_code == 404
    police = Client()
    police.force_login(make_staff(Role.APPROVER, "police"))
    assert police.get(f"/licences/decisions/{case.number}/pdf/").status_code == 404
