"""Sealed case documents: 受理回执, 不予受理决定书, 补正告知书 and decisions, sealed when the case gets there.

Each document's content is checked, its seal verified (and an altered row
detected), its QR payload verified offline and on /licences/verify/, the print
page compared with the sealed record word for word, and its PDF downloaded by
those who may and refused to everyone else.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from tests.accounts.factories import full_number, make_citizen, make_staff
from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, Staff, item_code
from tests.licences.archive_fixtures import run_worker
from tests.licences.helpers import food_type
from yiwang.accounts import services as account_services
from yiwang.accounts.constants import Relationship, Role
from yiwang.accounts.models import DataAccessRecord
from yiwang.cases import services as case_services
from yiwang.cases.definitions import for_item
from yiwang.core.identifiers import DocumentType
from yiwang.licences import selectors
from yiwang.licences.models import ArchiveEntry, SealedDocument
from yiwang.licences.services import archive as archive_services
from yiwang.licences.services import case_documents, documents, qr, seals, trust
from yiwang.licences.services.seal_types import VerificationCode

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealing(archive_env: Path) -> Any:
    """The archive's own directories and key store, and a seal for market made in it."""
    return seals.create_seal("market", bottom_text="行政审批专用章")


def _client(user: Any = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _food_case(citizen: Any) -> Any:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    return case


def _accepted(citizen: Any, market: Staff) -> Any:
    case = case_services.perform(_food_case(citizen), "accept", actor=market.clerk)
    run_worker()
    return case


def _request_correction(case: Any, market: Staff, problem: str) -> Any:
    material = next(m for m in for_item(case.item).materials if m.required and not m.from_source)
    return case_services.perform(
        case,
        "request_correction",
        actor=market.reviewer,
        items=[{"kind": "material", "key": material.key, "problem": problem}],
    )


def _texts(content: dict[str, Any]) -> list[str]:
    """Every piece of text a document's blocks hold."""
    found: list[str] = []
    for kind, value in content["blocks"]:
        if kind in {"p", "h"}:
            found.append(value)
        elif kind == "rows":
            found += [text for row in value for text in row]
        else:
            found += value["head"] + [text for row in value["rows"] for text in row]
    return [text for text in found if text]


def _pdf(user: Any, document: SealedDocument) -> bytes:
    url = f"/licences/cases/{document.case_number}/documents/{document.kind}/{document.sequence}/pdf/"
    response = _client(user).get(url)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    return bytes(response.content)


def _assert_sealed(document: SealedDocument, *, co_signed: bool) -> None:
    verification = case_documents.verify_case_document(document)
    assert verification is not None and verification.ok, verification
    structure = json.loads(document.signature)
    assert bool(structure["toSign"]["propertyInfo"]["staffKeyId"]) is co_signed
    # The QR payload verifies offline against the published trust list and names this very document.
    checked = qr.verify_qr_payload(document.qr_payload, trust.own_trust_list())
    assert checked.ok, checked.message
    assert checked.claims is not None
    assert checked.claims.licence_id == f"DOC:{document.case_number}:{document.kind}:{document.sequence}"
    assert checked.claims.licence_type == document.title
    assert checked.claims.document_digest.hex() == document.digest
    assert checked.claims.expires_on is None


def test_acceptance_seals_a_receipt_whose_pdf_print_page_and_qr_agree(
    sealing: Any, citizen: Any, market: Staff
) -> None:
    case = _accepted(citizen, market)
    document = selectors.case_document(case.number, "receipt")
    assert document is not None and document.sequence == 1 and document.title == "受理回执"
    claims = document.claims
    assert claims["id"] == f"DOC:{case.number}:receipt:1" and claims["applicant"] == "赵一"
    rows = dict(claims["blocks"][0][1])
    assert rows["办件编号"] == case.number and rows["查询码"] == case.verification_code
    assert rows["受理时间"] == timezone.localtime(case.accepted_at).strftime("%Y-%m-%d %H:%M")
    assert ["h", "收到的申请材料"] in claims["blocks"]
    _assert_sealed(document, co_signed=False)

    pdf = _pdf(citizen, document)
    record = documents.read_seal_record(pdf, "receipt-seal.json")
    assert record["claims"] == claims and record["signature_sm2"] == document.signature
    assert record["qr_payload"] == document.qr_payload and record["digest_sm3"] == document.digest
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and reader.metadata.subject == claims["id"]

    # The print page shows the sealed record itself: every text of it, and its digest.
    page = html.unescape(_client(citizen).get(f"/cases/{case.number}/print/receipt/").content.decode())
    for text in _texts(claims):
        assert text in page, text
    assert document.digest in page and "下载签章版 PDF" in page
    assert 'class="qr"><title>文书二维码</title>' in page  # the same QR code as on the PDF


def test_the_verify_page_checks_a_document_qr_and_refuses_an_edited_one(
    sealing: Any, citizen: Any, market: Staff
) -> None:
    case = _accepted(citizen, market)
    document = selectors.case_document(case.number, "receipt")
    assert document is not None
    page = html.unescape(_client().get("/licences/verify/", {"p": document.qr_payload}).content.decode())
    assert "核验通过：该文书由" in page and "文书编号" in page and "存档文书的摘要与二维码一致" in page
    assert "赵*" in page and "赵一" not in page  # the payload names the applicant masked
    # The API answers the same check (a program tells a document by its id).
    answer = _client().get("/api/v1/licences/verify", {"p": document.qr_payload}).json()
    assert answer["ok"] and answer["claims"]["licence_id"] == f"DOC:{case.number}:receipt:1"
    assert answer["claims"]["document_digest"] == document.digest and answer["claims"]["expires_on"] is None

    body = bytearray(qr.base45_decode(document.qr_payload.removeprefix(qr.PREFIX)))
    body[20] ^= 0x01
    edited = qr.PREFIX + qr.base45_encode(bytes(body))
    assert qr.verify_qr_payload(edited, trust.own_trust_list()).code in {
        VerificationCode.BAD_SIGNATURE,
        VerificationCode.MALFORMED,
    }
    refused = html.unescape(_client().get("/licences/verify/", {"p": edited}).content.decode())
    assert "未通过" in refused and "核验通过" not in refused


def test_an_altered_document_row_no_longer_matches_its_seal(sealing: Any, citizen: Any, market: Staff) -> None:
    case = _accepted(citizen, market)
    document = selectors.case_document(case.number, "receipt")
    assert document is not None
    document.claims["applicant"] = "钱二"
    verification = case_documents.verify_case_document(document)
    assert verification is not None and verification.code == VerificationCode.ALTERED


def test_each_correction_notice_is_sealed_as_its_own_document(sealing: Any, citizen: Any, market: Staff) -> None:
    case = _request_correction(_accepted(citizen, market), market, "平面布局图未标明各功能区")
    run_worker()
    first = selectors.case_document(case.number, "correction", 1)
    assert first is not None and first.title == "补正告知书"
    assert "平面布局图未标明各功能区" in _texts(first.claims)
    _assert_sealed(first, co_signed=False)

    # Corrected, resubmitted, and asked again: a second notice, the first unchanged.
    material = next(m for m in for_item(case.item).materials if m.required and not m.from_source)
    case_services.attach_file(
        case.application,
        actor=citizen,
        material_key=material.key,
        name="布局图.pdf",
        stream=io.BytesIO(builders.pdf_bytes("corrected")),
    )
    case = case_services.perform(case.number, "resubmit", actor=citizen)
    case = _request_correction(case, market, "营业执照复印件不清晰")
    run_worker()
    run_worker()  # a second pass changes nothing: still two notices
    notices = SealedDocument.objects.filter(case_number=case.number, kind="correction").order_by("sequence")
    assert [n.sequence for n in notices] == [1, 2]
    second = notices[1]
    assert "营业执照复印件不清晰" in _texts(second.claims) and "营业执照复印件不清晰" not in _texts(first.claims)
    first.refresh_from_db()
    assert case_documents.verify_case_document(first).ok  # type: ignore[union-attr]
    assert documents.read_seal_record(_pdf(citizen, first), "correction-seal.json")["claims"] == first.claims
    assert documents.read_seal_record(_pdf(citizen, second), "correction-seal.json")["claims"] == second.claims
    # The print page shows the latest notice unless ?n= names one; the case page links both prints and PDFs.
    client = _client(citizen)
    printed = html.unescape(client.get(f"/cases/{case.number}/print/correction/").content.decode())
    assert "营业执照复印件不清晰" in printed and second.digest in printed
    printed_first = html.unescape(client.get(f"/cases/{case.number}/print/correction/?n=1").content.decode())
    assert "平面布局图未标明各功能区" in printed_first and first.digest in printed_first
    assert "营业执照复印件不清晰" not in printed_first
    assert second.digest in html.unescape(client.get(f"/cases/{case.number}/print/correction/?n=2").content.decode())
    for bad in ("0", "3", "-1", "x", "", "1.0"):
        assert client.get(f"/cases/{case.number}/print/correction/?n={bad}").status_code == 404, bad
    page = html.unescape(client.get(f"/cases/{case.number}/").content.decode())
    assert f"/licences/cases/{case.number}/documents/correction/1/pdf/" in page
    assert f"/licences/cases/{case.number}/documents/correction/2/pdf/" in page
    assert f"/cases/{case.number}/print/correction/?n=1" in page and "补正告知书（第2次）" in page


def test_a_rejection_is_sealed_and_co_signed_by_the_official(sealing: Any, citizen: Any, market: Staff) -> None:
    case = case_services.perform(
        _food_case(citizen),
        "reject",
        actor=market.clerk,
        reason="申请事项不属于本机关职权范围",
        legal_basis="《行政许可法》第三十二条",
    )
    run_worker()
    document = selectors.case_document(case.number, "rejection")
    assert document is not None and document.title == "不予受理决定书"
    texts = _texts(document.claims)
    assert "理由：申请事项不属于本机关职权范围" in texts and "依据：《行政许可法》第三十二条" in texts
    assert any(text.endswith("决定不予受理。") for text in texts)
    _assert_sealed(document, co_signed=True)
    # 不予受理 closes the case: its archive package holds this document, sealed before the package was made.
    package = json.loads(archive_services.package_file(ArchiveEntry.objects.get(ref=case.number)).read_bytes())
    assert [(d["kind"], d["digest_sm3"]) for d in package["documents"]] == [("rejection", document.digest)]
    assert selectors.case_document(case.number, "receipt") is None  # never accepted: no 受理回执
    # An event naming a document the case does not have seals nothing and raises nothing.
    assert case_documents.seal_for_event(case=case, action="refuse", event_id=0) is None
    assert case_documents.seal_for_event(case=case, action="submit", event_id=0) is None
    assert not SealedDocument.objects.filter(case_number=case.number, kind="decision").exists()


def _decision_stage(citizen: Any, market: Staff) -> Any:
    case = _accepted(citizen, market)
    return case_services.perform(case, "complete_task", actor=market.reviewer, reason="审查通过")


def test_a_decision_that_issues_no_licence_is_sealed_at_once_co_signed_by_the_approver(
    sealing: Any, citizen: Any, market: Staff
) -> None:
    case = case_services.perform(_decision_stage(citizen, market), "approve", actor=market.approver, reason="符合条件")
    run_worker()
    document = selectors.decision_of(case.number)
    assert document is not None and document.title == "准予行政许可决定书"
    assert "审批意见：符合条件" in _texts(document.claims) and "licences" not in document.claims
    _assert_sealed(document, co_signed=True)
    assert json.loads(document.signature)["toSign"]["propertyInfo"]["signer"]
    # 制证 afterwards issues nothing here and makes no second decision.
    case_services.perform(case, "issue_certificate", actor=market.clerk)
    run_worker()
    assert SealedDocument.objects.filter(case_number=case.number, kind="decision").count() == 1


def test_a_refusal_is_sealed_with_its_reason_and_basis(sealing: Any, citizen: Any, market: Staff) -> None:
    case = case_services.perform(
        _decision_stage(citizen, market),
        "refuse",
        actor=market.approver,
        reason="经营场所不符合要求",
        legal_basis="《食品经营许可管理办法》第十一条",
    )
    run_worker()
    document = selectors.decision_of(case.number)
    assert document is not None and document.title == "不予行政许可决定书"
    texts = _texts(document.claims)
    assert "理由：经营场所不符合要求" in texts and "依据：《食品经营许可管理办法》第十一条" in texts
    _assert_sealed(document, co_signed=True)
    printed = html.unescape(_client(citizen).get(f"/cases/{case.number}/print/decision/").content.decode())
    for text in texts:
        assert text in printed, text


def test_a_decision_that_issues_a_licence_waits_for_it(sealing: Any, citizen: Any, market: Staff) -> None:
    food_type()
    case = case_services.perform(_decision_stage(citizen, market), "approve", actor=market.approver, reason="准予")
    run_worker()
    assert selectors.decision_of(case.number) is None
    case_services.perform(case, "issue_certificate", actor=market.clerk)
    run_worker()
    document = selectors.decision_of(case.number)
    assert document is not None and len(document.claims["licences"]) == 1
    _assert_sealed(document, co_signed=True)


def test_a_department_without_a_seal_still_gets_its_documents_unsigned(
    archive_env: Path, citizen: Any, market: Staff
) -> None:
    case = _accepted(citizen, market)
    document = selectors.case_document(case.number, "receipt")
    assert document is not None and document.signature == "" and document.qr_payload == ""
    assert case_documents.verify_case_document(document) is None  # digest matches, nothing signed
    record = documents.read_seal_record(_pdf(citizen, document), "receipt-seal.json")
    assert record["signature_sm2"] == "" and record["digest_sm3"] == document.digest
    assert "未加盖电子印章" in _client(citizen).get(f"/cases/{case.number}/").content.decode()


def test_only_the_applicant_side_and_the_handlers_download(sealing: Any, citizen: Any, market: Staff) -> None:
    case = _accepted(citizen, market)
    document = selectors.case_document(case.number, "receipt")
    assert document is not None
    url = f"/licences/cases/{case.number}/documents/receipt/1/pdf/"
    assert _client(citizen).get(url).status_code == 200
    assert not DataAccessRecord.objects.exists()  # the applicant's own name: no record
    # The clerk who accepted handled the case: allowed, and the read of the name is recorded.
    assert _client(market.clerk).get(url).status_code == 200
    record = DataAccessRecord.objects.get(person=citizen.person)
    assert record.accessor == market.clerk and record.fields == ["name"]
    # Staff who may open the case but never handled it: 403 (the PDF cannot mask the name), and no link.
    supervisor = make_staff(Role.SUPERVISOR)
    assert _client(supervisor).get(url).status_code == 403
    staff_page = _client(supervisor).get(f"/workbench/cases/{case.number}/").content.decode()
    assert "仅申请人和经办人员可下载" in staff_page and url not in staff_page
    # Their print page shows the sealed record with the applicant's name masked, as before sealing.
    printed = html.unescape(_client(supervisor).get(f"/cases/{case.number}/print/receipt/").content.decode())
    assert document.digest in printed and "赵*" in printed and "赵一" not in printed
    assert _client(make_staff(Role.COUNTER_CLERK, "police")).get(url).status_code == 403
    # Who may not see the case at all: 404, as for a missing one; nobody signed in: the login page.
    assert _client(make_citizen("孙三")).get(url).status_code == 404
    assert _client(make_staff(Role.APPROVER, "police")).get(url).status_code == 404
    anonymous = _client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    # Bad input: a kind that does not exist, a sequence never sealed, a case that does not exist.
    for bad in (
        f"/licences/cases/{case.number}/documents/licence/1/pdf/",
        f"/licences/cases/{case.number}/documents/receipt/2/pdf/",
        f"/licences/cases/{case.number}/documents/rejection/1/pdf/",
        "/licences/cases/MARKET-20000101-999999/documents/receipt/1/pdf/",
    ):
        assert _client(citizen).get(bad).status_code == 404, bad
    assert _client(citizen).get(f"/licences/cases/{case.number}/documents/receipt/x/pdf/").status_code == 404


def test_a_delegate_who_applied_downloads_the_grantors_documents(sealing: Any, citizen: Any, market: Staff) -> None:
    code = item_code(FOOD_LICENCE, "market")
    delegate = make_citizen("钱二")
    delegation = account_services.grant_delegation(
        actor=citizen,
        agent_document_type=DocumentType.RESIDENT_ID,
        agent_document_number=full_number(delegate.person),
        relationship=Relationship.CHILD,
        valid_until=timezone.now() + dt.timedelta(days=30),
        scope=[code],
    )
    acting = account_services.act_for_by_delegation(actor=delegate, delegation=delegation, item_codes=[code])
    application = case_services.start_application(
        actor=delegate, applicant=case_services.applicant_for(delegate, acting=acting), item_code=code
    )
    builders.fill(application, delegate)
    (case,) = case_services.submit_application(application, actor=delegate)
    case_services.perform(case, "accept", actor=market.clerk)
    run_worker()
    url = f"/licences/cases/{case.number}/documents/receipt/1/pdf/"
    assert _client(delegate).get(url).status_code == 200
    assert _client(citizen).get(url).status_code == 200


def test_case_pages_link_the_pdfs_and_the_archive_package(sealing: Any, citizen: Any, market: Staff) -> None:
    case = _decision_stage(citizen, market)
    case = case_services.perform(case, "approve", actor=market.approver, reason="符合条件")
    run_worker()
    decision = selectors.decision_of(case.number)
    assert decision is not None
    pdf_link = f"/licences/cases/{case.number}/documents/decision/1/pdf/"
    archive_link = f"/archive/cases/{case.number}/"
    applicant_page = _client(citizen).get(f"/cases/{case.number}/").content.decode()
    staff_page = _client(market.approver).get(f"/workbench/cases/{case.number}/").content.decode()
    for page in (applicant_page, staff_page):
        assert pdf_link in page and archive_link not in page
    case_services.perform(case, "issue_certificate", actor=market.clerk)
    case_services.perform(case, "close", actor=market.clerk)
    run_worker()
    assert selectors.is_archived(case.pk)
    # The package holds the sealed documents as issued, seal included.
    entry = ArchiveEntry.objects.get(ref=case.number)
    package = json.loads(archive_services.package_file(entry).read_bytes())
    archived = {d["kind"]: d for d in package["documents"]}
    assert set(archived) == {"receipt", "decision"}
    assert archived["decision"]["claims"] == decision.claims
    assert archived["decision"]["sealed_structure"] == decision.signature
    for user, url in ((citizen, f"/cases/{case.number}/"), (market.approver, f"/workbench/cases/{case.number}/")):
        assert archive_link in _client(user).get(url).content.decode()
    assert _client(citizen).get(archive_link).status_code == 200


def test_a_document_pdf_verifies_with_an_independent_implementation(sealing: Any, citizen: Any, market: Staff) -> None:
    """As docs/licences.md ("Sealed case documents") tells an outside verifier: gmssl, the published trust list,
    the PDF's attachment and its QR payload; nothing of the platform's own verification."""
    import base64

    from tests.licences.test_docs_vectors import der_to_rs, independent_base45, independent_sm3, independent_verify

    case = case_services.perform(
        _food_case(citizen), "reject", actor=market.clerk, reason="不属于本机关职权", legal_basis="第三十二条"
    )
    run_worker()
    document = selectors.case_document(case.number, "rejection")
    assert document is not None
    record = documents.read_seal_record(_pdf(citizen, document), "rejection-seal.json")
    keys = {k["keyId"]: k for k in json.loads(_client().get("/licences/trust-list.json").content)["keys"]}

    def canonical(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def check(record: dict[str, Any]) -> bool:
        digest = independent_sm3(canonical(record["claims"])).hex()
        structure = json.loads(str(record["signature_sm2"]))
        to_sign = canonical(structure["toSign"])
        seal_key = keys[structure["toSign"]["eseal"]["keyId"]]
        staff_key = keys[structure["toSign"]["propertyInfo"]["staffKeyId"]]
        return (
            digest == record["digest_sm3"] == structure["toSign"]["dataHash"]
            and seal_key["owner"]["kind"] == "seal"
            and staff_key["owner"]["kind"] == "staff"
            and independent_verify(
                base64.b64decode(seal_key["publicKey"]), to_sign, der_to_rs(base64.b64decode(structure["signature"]))
            )
            and independent_verify(
                base64.b64decode(staff_key["publicKey"]),
                to_sign,
                der_to_rs(base64.b64decode(structure["staffSignature"])),
            )
        )

    assert check(record)
    # The QR payload: signed by the seal key, its digest field (0x0B, the last before the signature) the same.
    body = independent_base45(str(record["qr_payload"])[4:])
    tbs, signature = body[:-66], body[-64:]
    assert tbs[-34:-32] == b"\x0b\x20" and tbs[-32:].hex() == record["digest_sm3"]
    seal_public = base64.b64decode(keys[document.signer_key_id]["publicKey"])
    assert independent_verify(seal_public, tbs, signature)
    assert b"DOC:" + case.number.encode() + b":rejection:1" in tbs
    # Any edit of the claims is caught.
    edited = json.loads(json.dumps(record))
    edited["claims"]["blocks"][2][1] = "理由：另有理由"
    assert not check(edited)
