"""The sealed licence PDF: the same fields as the page, the seal record attached, the QR code, the download."""

from __future__ import annotations

import html
import io
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen, make_staff
from tests.licences.helpers import issue_food_licence
from yiwang.accounts.constants import Role
from yiwang.licences import services
from yiwang.licences.services import documents

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_pdf_carries_the_signed_claims_and_the_page_shows_the_same_fields() -> None:
    holder = make_citizen("卫十")
    licence = issue_food_licence(holder, business_type="餐饮服务经营者", seats="40")
    response = _client(holder).get(f"/licences/{licence.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    content = response.content
    assert content.startswith(b"%PDF-")

    record = documents.read_seal_record(content)
    assert record["claims"] == services.claims_of(licence)
    assert record["digest_sm3"] == licence.digest and record["signer_key_id"] == licence.signer_key_id

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) == 1
    assert reader.metadata is not None and reader.metadata.subject == licence.identifier
    contents = reader.pages[0].get_contents()
    assert contents is not None and b" 1 re\n" in contents.get_data()  # the QR code, drawn as vector modules

    page = html.unescape(_client(holder).get(f"/licences/{licence.pk}/").content.decode())
    face = documents.licence_face(licence)
    for label, value in face.rows:
        assert label in page and value in page
    assert licence.identifier in page


def test_the_issuing_departments_staff_download_it_and_others_get_404() -> None:
    licence = issue_food_licence(make_citizen())
    assert _client(make_staff(Role.REVIEWER, "market")).get(f"/licences/{licence.pk}/pdf/").status_code == 200
    assert _client(make_staff(Role.REVIEWER, "police")).get(f"/licences/{licence.pk}/pdf/").status_code == 404
    assert _client(make_citizen()).get(f"/licences/{licence.pk}/pdf/").status_code == 404


def test_the_public_status_page_explains_a_wrong_check_character() -> None:
    licence = issue_food_licence(make_citizen())
    wrong = licence.identifier[:-1] + ("0" if licence.identifier[-1] != "0" else "1")
    client = Client()
    refused = client.post("/licences/status/", {"identifier": wrong, "code": licence.verification_code})
    assert refused.status_code == 400 and "校验位错误" in refused.content.decode()
    unknown = client.post("/licences/status/", {"identifier": licence.identifier, "code": "ZZZZZZZZ"})
    assert unknown.status_code == 400 and "未找到该证照" in unknown.content.decode()
    shown = client.post("/licences/status/", {"identifier": licence.identifier, "code": licence.verification_code})
    assert shown.status_code == 200 and "证照内容与印章一致" in shown.content.decode()


def _check_cross_references(content: bytes) -> None:
    """Every object the cross-reference table lists starts where the table says."""
    import re

    start = int(content.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    table = content[start:].split(b"trailer", 1)[0].split(b"\n")
    assert table[0] == b"xref"
    first, count = map(int, table[1].split())
    entries = table[2 : 2 + count]
    assert first == 0 and len(entries) == count
    for number, entry in enumerate(entries[1:], start=1):
        offset = int(entry[:10])
        assert entry.endswith(b" n "), entry
        assert re.match(rb"%d 0 obj\n" % number, content[offset : offset + 20]), number


def test_licences_of_one_department_share_the_seal_but_each_pdf_carries_its_own_record(market_seal: Any) -> None:
    from pypdf import PdfReader

    first = issue_food_licence(make_citizen("甲一"), business_type="餐饮服务经营者")
    second = issue_food_licence(make_citizen("乙二"), business_type="食品销售经营者")
    for licence in (first, second):
        content = documents.licence_pdf(licence)
        _check_cross_references(content)
        reader = PdfReader(io.BytesIO(content), strict=True)
        metadata = reader.metadata
        assert metadata is not None and metadata.title == f"{licence.licence_type.name} {licence.identifier}"
        assert metadata.author == licence.department.name
        record = documents.read_seal_record(content)
        assert record["claims"] == services.claims_of(licence) and record["qr_payload"] == licence.qr_payload
        page = reader.pages[0]
        images = [name for name, obj in page["/Resources"]["/XObject"].items() if obj["/Subtype"] == "/Image"]
        assert len(images) == 1  # the seal image (its transparency is a soft mask of it)
        text = page.extract_text()
        # The reading order of the face: title, identifier, each label with its value, issuer, then the seal lines.
        name, identifier, holder = licence.licence_type.name, licence.identifier, licence.holder_name
        order = [name, identifier, "持证主体", holder, "发证机关", "已加盖电子印章"]
        positions = [text.index(part) for part in order]
        assert positions == sorted(positions), text
        assert licence.digest[:32] in text
    assert documents.licence_pdf(first) == documents.licence_pdf(first)  # the same licence, the same bytes


def test_an_unsealed_licence_pdf_draws_the_seal_and_says_it_is_unsealed() -> None:
    from pypdf import PdfReader

    licence = issue_food_licence(make_citizen())
    assert not licence.signature
    content = documents.licence_pdf(licence)
    _check_cross_references(content)
    page = PdfReader(io.BytesIO(content), strict=True).pages[0]
    assert "/XObject" not in page["/Resources"]  # no seal image: a drawn one
    text = page.extract_text()
    assert "未加盖电子印章" in text and licence.department.name[0] in text


def test_the_pdf_shows_the_seal_that_signed_the_licence_even_after_a_new_seal(market_seal: Any) -> None:
    from pypdf import PdfReader

    from yiwang.licences.models import SealStatus
    from yiwang.licences.services import seals

    licence = issue_food_licence(make_citizen("丙三"))
    before = documents.licence_pdf(licence)
    # The department's seal is withdrawn and a new one (another image) made: the licence keeps its own seal.
    type(market_seal).objects.filter(pk=market_seal.pk).update(status=SealStatus.REVOKED)
    newer = seals.create_seal("market", name="示范市市场监督管理局（新）")
    assert bytes(newer.image_png) != bytes(market_seal.image_png)
    assert documents.licence_pdf(licence) == before
    page = PdfReader(io.BytesIO(before)).pages[0]
    assert "/XObject" in page["/Resources"]  # the old seal's image, not a drawn seal
    assert seals.seal_image_of_key(licence.signer_key_id) == bytes(market_seal.image_png)
    assert seals.seal_image_of_key("no-such-key") is None
