"""The licences API: the wallet, 亮证 shares (holder and verifier) and the public status check.

Every endpoint is tried on its happy path, with bad input, anonymously and as someone else: another
person's licence or share reads exactly like a missing one, and a replayed or late share is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import make_citizen, make_staff
from tests.licences.helpers import food_type, issue_food_licence
from yiwang.accounts.constants import Role
from yiwang.accounts.models import Organisation
from yiwang.core.identifiers import make_credit_code
from yiwang.licences import services
from yiwang.licences.models import LicenceShare, ShareVerification
from yiwang.licences.services import _sealing, seals

pytestmark = pytest.mark.django_db

BASE = "/api/v1/licences"


def _client(user: Any | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body


def _company_licence(owner: Any) -> Any:
    organisation = Organisation.objects.create(
        name="示范接口餐饮有限公司",
        credit_code=make_credit_code("91", "990102", "MA7X0002"),
        legal_representative=owner.person,
    )
    return services.issue_licence(
        actor=None,
        licence_type=food_type(),
        person_id=owner.person_id,
        organisation_id=organisation.pk,
        data={"operator": organisation.name, "premises": "示范市"},
    )


def _wrong_check(identifier: str) -> str:
    last = identifier[-1]
    return identifier[:-1] + ("A" if last != "A" else "B")


# --- the wallet -----------------------------------------------------------------------------------------


def test_the_wallet_lists_own_and_organisation_licences_with_status_and_expiry() -> None:
    owner, stranger = make_citizen("接口甲"), make_citizen("接口乙")
    own = issue_food_licence(owner)
    company = _company_licence(owner)
    services.revoke_licence(own, actor=make_staff(Role.APPROVER, "market"), reason="经营者申请注销")
    theirs = issue_food_licence(stranger)

    body = _client(owner).get(f"{BASE}/wallet").json()
    assert body["count"] == 2
    rows = {row["id"]: row for row in body["items"]}
    assert set(rows) == {own.pk, company.pk} and theirs.pk not in rows
    assert rows[own.pk]["status"] == "revoked" and rows[own.pk]["status_label"] == "已注销"
    assert rows[company.pk]["status"] == "valid" and rows[company.pk]["holder_organisation_id"] is not None
    assert rows[company.pk]["valid_until"] == company.valid_until.isoformat()
    assert rows[company.pk]["expires_soon"] is False
    assert rows[company.pk]["identifier"] == company.identifier

    assert [row["id"] for row in _client(stranger).get(f"{BASE}/wallet").json()["items"]] == [theirs.pk]
    paged = _client(owner).get(f"{BASE}/wallet?limit=1&offset=1").json()
    assert paged["count"] == 2 and len(paged["items"]) == 1
    _problem(_client(owner).get(f"{BASE}/wallet?limit=0"), 422, "invalid_parameters")


def test_a_licence_expiring_within_the_reminder_window_is_flagged() -> None:
    holder = make_citizen()
    licence = issue_food_licence(holder)
    type(licence).objects.filter(pk=licence.pk).update(valid_until=timezone.localdate() + dt.timedelta(days=3))
    (row,) = _client(holder).get(f"{BASE}/wallet").json()["items"]
    assert row["expires_soon"] is True and row["status"] == "valid"
    type(licence).objects.filter(pk=licence.pk).update(valid_until=timezone.localdate() - dt.timedelta(days=1))
    (row,) = _client(holder).get(f"{BASE}/wallet").json()["items"]
    assert row["status"] == "expired" and row["expires_soon"] is False


def test_one_licence_shows_its_fields_seal_and_history_to_its_holder_only(market_seal: Any) -> None:
    holder, stranger = make_citizen("接口丙"), make_citizen()
    licence = issue_food_licence(holder, business_type="餐饮服务经营者")
    body = _client(holder).get(f"{BASE}/wallet/{licence.pk}").json()
    assert body["identifier"] == licence.identifier and body["verification_code"] == licence.verification_code
    fields = {f["key"]: f for f in body["fields"]}
    assert fields["business_type"]["value"] == "餐饮服务经营者" and fields["business_type"]["type"] == "choice"
    assert fields["premises"]["label"] == "经营场所"
    assert body["sealed"] is True and body["signer_key_id"] and len(body["digest_sm3"]) == 64
    assert body["qr_payload"].startswith("YW1:")
    assert [e["kind"] for e in body["history"]] == ["issued"]
    assert {"holder", "valid_until", "premises"} <= {f["key"] for f in body["shareable_fields"]}

    # Someone else, staff of the issuing department (the wallet is the holder's) and a missing id: one 404.
    for who in (stranger, make_staff(Role.APPROVER, "market")):
        body = _problem(_client(who).get(f"{BASE}/wallet/{licence.pk}"), 404, "not_found")
        assert licence.identifier not in json.dumps(body, ensure_ascii=False)
    _problem(_client(holder).get(f"{BASE}/wallet/99999999"), 404, "not_found")
    _problem(_client(holder).get(f"{BASE}/wallet/abc"), 422, "invalid_parameters")


def test_the_sealed_pdf_downloads_for_the_holder_only(market_seal: Any) -> None:
    holder, stranger = make_citizen(), make_citizen()
    licence = issue_food_licence(holder)
    response = _client(holder).get(f"{BASE}/wallet/{licence.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and licence.identifier.encode() in response.content
    assert f"licence-{licence.pk}-v1.pdf" in response["Content-Disposition"]
    _problem(_client(stranger).get(f"{BASE}/wallet/{licence.pk}/pdf"), 404, "not_found")
    _problem(_client().get(f"{BASE}/wallet/{licence.pk}/pdf"), 401, "not_authenticated")


def test_anonymous_callers_get_401_on_every_holder_endpoint() -> None:
    licence = issue_food_licence(make_citizen())
    anonymous = _client()
    for url in (f"{BASE}/wallet", f"{BASE}/wallet/{licence.pk}", f"{BASE}/shares"):
        _problem(anonymous.get(url), 401, "not_authenticated")
    _problem(_post(anonymous, f"{BASE}/wallet/{licence.pk}/shares", {"fields": ["holder"]}), 401, "not_authenticated")
    _problem(_post(anonymous, f"{BASE}/shares/1/withdraw"), 401, "not_authenticated")
    assert not LicenceShare.objects.exists()


# --- 亮证 -----------------------------------------------------------------------------------------------


def test_a_share_is_created_opened_once_and_the_replay_refused(market_seal: Any) -> None:
    holder = make_citizen("接口丁")
    licence = issue_food_licence(holder, premises="示范市保密路8号", business_type="餐饮服务经营者")
    created = _post(
        _client(holder),
        f"{BASE}/wallet/{licence.pk}/shares",
        {"fields": ["holder", "business_type", "no_such_field"], "minutes": 10, "purpose": "入驻商场"},
    )
    assert created.status_code == 201, created.content
    share = created.json()
    token = share["token"]
    assert share["fields"] == ["holder", "business_type"] and share["state"] == "active"
    assert share["purpose"] == "入驻商场" and share["verifications"] == []
    assert share["url"].endswith(f"/licences/shared/{token}/")
    assert LicenceShare.objects.get().token_hash != token

    verifier = _client()
    shown = _post(verifier, f"{BASE}/shares/open", {"token": token})
    assert shown.status_code == 200, shown.content
    view = shown.json()
    assert {f["label"]: f["value"] for f in view["fields"]} == {"持证主体": "接口丁", "主体业态": "餐饮服务经营者"}
    assert "示范市保密路8号" not in shown.content.decode()
    assert view["attestation"]["licence"] == licence.identifier and view["attestation"]["status"] == "valid"
    # The attestation is sealed: its SM3 digest is that of its canonical JSON and the seal verifies.
    canonical = _sealing.canonical_bytes(view["attestation"])
    assert view["attestation_digest_sm3"] == _sealing.sm3_hex(canonical)
    assert view["signer_key_id"] and seals.verify_document(canonical, view["attestation_signature"].encode()).ok

    body = _problem(_post(verifier, f"{BASE}/shares/open", {"token": token}), 410, "share_used")
    assert "已被使用" in body["detail"]

    history = _client(holder).get(f"{BASE}/shares").json()
    assert history["count"] == 1
    (row,) = history["items"]
    assert row["state"] == "used" and row["uses"] == 1
    assert [v["outcome"] for v in row["verifications"]] == ["shown", "share_used"]
    events = _client(holder).get(f"{BASE}/wallet/{licence.pk}").json()["history"]
    assert {"shared", "verified", "refused"} <= {e["kind"] for e in events}
    (refused,) = [e for e in events if e["kind"] == "refused"]
    assert refused["reason"] == "二维码已被使用过" and refused["kind_label"] == "亮证核验被拒绝"
    # The page says the same in words, not the refusal's code.
    page = _client(holder).get(f"/licences/{licence.pk}/").content.decode()
    assert "二维码已被使用过" in page and "share_used" not in page


def test_an_expired_or_withdrawn_share_is_refused_with_its_own_code() -> None:
    holder = make_citizen()
    licence = issue_food_licence(holder)
    client = _client(holder)
    late = _post(client, f"{BASE}/wallet/{licence.pk}/shares", {"fields": ["holder"], "minutes": 1}).json()
    LicenceShare.objects.filter(pk=late["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    body = _problem(_post(_client(), f"{BASE}/shares/open", {"token": late["token"]}), 410, "share_expired")
    assert "已过期" in body["detail"]

    pulled = _post(client, f"{BASE}/wallet/{licence.pk}/shares", {"fields": ["holder"]}).json()
    withdrawn = _post(client, f"{BASE}/shares/{pulled['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert withdrawn.json()["withdrawn_at"] is not None
    _problem(_post(_client(), f"{BASE}/shares/open", {"token": pulled["token"]}), 410, "share_withdrawn")
    by_share = {
        row["id"]: row["state"] for row in client.get(f"{BASE}/shares", {"licence_id": licence.pk}).json()["items"]
    }
    assert by_share == {late["id"]: "expired", pulled["id"]: "withdrawn"}


def test_opening_an_unknown_or_malformed_token_is_refused_and_records_nothing() -> None:
    verifier = _client()
    _problem(_post(verifier, f"{BASE}/shares/open", {"token": "no-such-token"}), 404, "not_found")
    _problem(_post(verifier, f"{BASE}/shares/open", {"token": "x" * 65}), 422, "invalid_parameters")
    _problem(_post(verifier, f"{BASE}/shares/open", {"token": ""}), 422, "invalid_parameters")
    _problem(_post(verifier, f"{BASE}/shares/open", {}), 422, "invalid_parameters")
    # The GET a link previewer would send does not open (nor use up) a share.
    assert verifier.get(f"{BASE}/shares/open").status_code == 405
    assert not ShareVerification.objects.exists()


def test_share_creation_refuses_bad_input_and_licences_that_are_not_valid() -> None:
    holder = make_citizen()
    licence = issue_food_licence(holder)
    client = _client(holder)
    url = f"{BASE}/wallet/{licence.pk}/shares"
    _problem(_post(client, url, {"fields": []}), 422, "invalid_parameters")
    _problem(_post(client, url, {"fields": ["no_such_field"]}), 400, "fields_required")
    body = _problem(_post(client, url, {"fields": ["holder"], "minutes": 7}), 400, "bad_minutes")
    assert "分钟" in body["detail"]
    _problem(_post(client, url, {"fields": ["holder"], "minutes": "soon"}), 422, "invalid_parameters")
    _problem(_post(client, url, {"fields": ["holder"], "purpose": "长" * 101}), 422, "invalid_parameters")
    services.revoke_licence(licence, actor=make_staff(Role.APPROVER, "market"), reason="测试注销")
    _problem(_post(client, url, {"fields": ["holder"]}), 409, "licence_not_valid")
    assert not LicenceShare.objects.exists()


def test_nobody_but_the_holder_shares_lists_or_withdraws_a_licences_shares() -> None:
    holder, stranger = make_citizen(), make_citizen()
    licence = issue_food_licence(holder)
    share = _post(_client(holder), f"{BASE}/wallet/{licence.pk}/shares", {"fields": ["holder"]}).json()
    for who in (stranger, make_staff(Role.DEPARTMENT_ADMIN, "market")):
        other = _client(who)
        _problem(_post(other, f"{BASE}/wallet/{licence.pk}/shares", {"fields": ["holder"]}), 404, "not_found")
        assert other.get(f"{BASE}/shares").json() == {"items": [], "count": 0}
        assert other.get(f"{BASE}/shares", {"licence_id": licence.pk}).json()["count"] == 0
        _problem(_post(other, f"{BASE}/shares/{share['id']}/withdraw"), 404, "not_found")
    assert LicenceShare.objects.get().withdrawn_at is None
    _problem(_post(_client(holder), f"{BASE}/shares/99999999/withdraw"), 404, "not_found")
    # The holder's list never carries the token (it was given once, at creation).
    assert share["token"] not in _client(holder).get(f"{BASE}/shares").content.decode()


# --- public status ---------------------------------------------------------------------------------------


def test_the_status_check_answers_anyone_with_identifier_and_code(market_seal: Any) -> None:
    licence = issue_food_licence(make_citizen("接口戊"))
    anonymous = _client()
    params = {"identifier": licence.identifier, "code": licence.verification_code}
    body = anonymous.get(f"{BASE}/status", params).json()
    assert body["identifier"] == licence.identifier and body["status"] == "valid" and body["status_label"] == "有效"
    assert body["holder_name"] == "接口戊" and body["seal_intact"] is True
    # The identifier as people type it: lower case, with spaces; the code in lower case.
    loose = {"identifier": " " + licence.identifier.lower() + " ", "code": licence.verification_code.lower()}
    assert anonymous.get(f"{BASE}/status", loose).json()["identifier"] == licence.identifier

    services.revoke_licence(licence, actor=make_staff(Role.APPROVER, "market"), reason="许可被撤销")
    body = anonymous.get(f"{BASE}/status", params).json()
    assert body["status"] == "revoked" and body["status_reason"] == "许可被撤销"


def test_the_status_check_tells_a_bad_check_character_from_an_unknown_licence() -> None:
    licence = issue_food_licence(make_citizen())
    anonymous = _client()
    code = licence.verification_code
    body = _problem(
        anonymous.get(f"{BASE}/status", {"identifier": _wrong_check(licence.identifier), "code": code}),
        400,
        "bad_identifier",
    )
    assert "校验位" in body["detail"] and body["field"] == "identifier"
    body = _problem(anonymous.get(f"{BASE}/status", {"identifier": "1.2.3", "code": code}), 400, "bad_identifier")
    assert "格式" in body["detail"]
    # A well-formed identifier with the wrong code reads exactly like an unknown licence.
    wrong_code = "Z" * len(code) if code != "Z" * len(code) else "Y" * len(code)
    body = _problem(
        anonymous.get(f"{BASE}/status", {"identifier": licence.identifier, "code": wrong_code}), 404, "unknown_licence"
    )
    assert licence.holder_name not in json.dumps(body, ensure_ascii=False)
    _problem(anonymous.get(f"{BASE}/status", {"identifier": licence.identifier}), 422, "invalid_parameters")
    _problem(anonymous.get(f"{BASE}/status", {"identifier": "1" * 121, "code": code}), 422, "invalid_parameters")
