"""The public trust list and verification page and API; the administrators' seals page."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_staff
from tests.licences.qr_support import claims
from yiwang.accounts.constants import Role
from yiwang.core import sm2
from yiwang.licences.models import Seal
from yiwang.licences.services import qr, seals, trust

pytestmark = pytest.mark.django_db


def test_trust_list_document_and_signature_match(client: Client, market_seal: Seal) -> None:
    response = client.get("/licences/trust-list.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    document = response.content
    header_signature = base64.b64decode(response[trust.SIGNATURE_HEADER])
    detached = base64.b64decode(client.get("/licences/trust-list.sig").content)
    root = base64.b64decode(json.loads(document)["rootKey"]["publicKey"])
    # Fetched separately, the detached signature still covers the same bytes.
    assert sm2.verify(root, document, header_signature)
    assert sm2.verify(root, document, detached)
    api = client.get("/api/v1/licences/trust-list").json()
    assert api["document"].encode() == document
    assert sm2.verify(root, document, base64.b64decode(api["signature"]))
    assert api["root_key_id"] == sm2.key_id(root)


def test_a_key_change_moves_the_issue_time_forward(client: Client, market_seal: Seal) -> None:
    first = json.loads(client.get("/licences/trust-list.json").content)
    seals.rotate_key(market_seal)
    second = json.loads(client.get("/licences/trust-list.json").content)
    assert second["issuedAt"] >= first["issuedAt"]
    assert len(second["keys"]) == 2


def test_verify_page_and_api(client: Client, market_seal: Seal) -> None:
    text = qr.encode_qr_payload(claims(), department_code="market")
    page = client.get("/licences/verify/", {"p": text})
    assert page.status_code == 200
    body = page.content.decode()
    assert "有效" in body and "44030020261207000123" in body and "某某餐饮店" in body
    posted = client.post("/licences/verify/", {"payload": text})
    assert posted.status_code == 200 and "核验通过" in posted.content.decode()
    answer = client.get("/api/v1/licences/verify", {"p": text}).json()
    assert answer["ok"] is True and answer["code"] == "ok"
    assert answer["claims"]["licence_id"] == "44030020261207000123"
    assert answer["claims"]["fields"] == [["经营者名称", "某某餐饮店"], ["经营项目", "热食类食品制售"]]
    answer = client.post("/api/v1/licences/verify", {"payload": text}, content_type="application/json").json()
    assert answer["ok"] is True


@pytest.mark.parametrize(
    "payload",
    ["", "garbage", "YW1:", "YW1:%%%%", "YW1:" + "Z" * 3000, "https://x/?p=YW1:AAA", "\x00\x01", "😀" * 100],
)
def test_bad_input_answers_clearly_never_a_500(client: Client, payload: str, market_seal: Seal) -> None:
    page = client.post("/licences/verify/", {"payload": payload})
    assert page.status_code in (200, 400)
    if payload.strip():
        assert "未通过" in page.content.decode() or "过长" in page.content.decode()
    answer = client.post("/api/v1/licences/verify", {"payload": payload}, content_type="application/json")
    assert answer.status_code == 200
    assert answer.json()["ok"] is False and answer.json()["code"] == "malformed"


def test_api_refuses_what_is_not_a_request(client: Client) -> None:
    too_long = client.post("/api/v1/licences/verify", {"payload": "A" * 5000}, content_type="application/json")
    assert too_long.status_code == 422 and too_long["Content-Type"].startswith("application/problem+json")
    assert client.post("/api/v1/licences/verify", "{", content_type="application/json").status_code in (400, 422)
    assert client.get("/api/v1/licences/verify").status_code == 422
    assert client.post("/licences/verify/", {"payload": "A" * 5000}).status_code == 400


def test_an_altered_payload_is_refused_on_the_page(client: Client, market_seal: Seal) -> None:
    text = qr.encode_qr_payload(claims(), department_code="market")
    body = bytearray(qr.base45_decode(text[4:]))
    body[20] ^= 0x01
    answer = client.get("/api/v1/licences/verify", {"p": "YW1:" + qr.base45_encode(bytes(body))}).json()
    assert answer["ok"] is False and answer["code"] in ("bad_signature", "malformed")


def test_seals_page_and_rotation_for_department_admins(client: Client, market_seal: Seal) -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "market")
    client.force_login(admin)
    page = client.get("/licences/seals/")
    assert page.status_code == 200 and market_seal.code in page.content.decode()
    old = market_seal.current_key
    response = client.post(f"/licences/seals/{market_seal.pk}/rotate/")
    assert response.status_code == 302
    market_seal.refresh_from_db()
    assert market_seal.current_key != old


def test_another_department_s_admin_cannot_rotate(client: Client, market_seal: Seal) -> None:
    client.force_login(make_staff(Role.DEPARTMENT_ADMIN, "police"))
    assert market_seal.code not in client.get("/licences/seals/").content.decode()
    old = market_seal.current_key
    assert client.post(f"/licences/seals/{market_seal.pk}/rotate/").status_code == 404
    market_seal.refresh_from_db()
    assert market_seal.current_key == old


def test_other_staff_have_no_seals_page(client: Client, approver: Any) -> None:
    client.force_login(approver)
    assert client.get("/licences/seals/").status_code == 403


def test_the_seals_desk_is_listed_for_administrators_only(market_seal: Seal, approver: Any) -> None:
    from yiwang.core.desks import desks_for

    admin = make_staff(Role.DEPARTMENT_ADMIN, "market")
    assert any(label == "电子印章" for _url, label in desks_for(admin))
    assert not any(label == "电子印章" for _url, label in desks_for(approver))


def test_the_verify_page_lists_trusted_platforms(client: Client) -> None:
    assert "尚未导入其他平台的信任列表" in client.get("/licences/verify/").content.decode()
