"""Attachments of work orders: photos and PDFs at filing (web, phone, API), with grid reports and with a
department's reply; checked by the case app's upload rules, stored in the same transaction as the order,
downloadable only by those who may see the whole order.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image, ImageOps

from tests.accounts.factories import make_citizen
from tests.multipart import post_multipart
from yiwang.core import uploads
from yiwang.core.audit import AuditEvent
from yiwang.hotline import services
from yiwang.hotline.constants import Source, WorkOrderKind, WorkOrderState
from yiwang.hotline.models import Attachment, WorkOrder
from yiwang.hotline.services import intake

from .conftest import handler
from .test_views import INSIDE_XINGFU, NOISE, NOISE_TEXT, client_for, load_grid, unsure_suggestions

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rules")]
API = "/api/v1/hotline"


@pytest.fixture(autouse=True)
def _materials_in_tmp(settings: Any, tmp_path: Path) -> Path:
    storages = dict(settings.STORAGES)
    storages["materials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "materials")},
    }
    settings.STORAGES = storages
    settings.VAR_DIR = tmp_path  # no classifier model
    # Under DEBUG the settings pick the EICAR demo scanner; the test that wants it says so.
    settings.YIWANG_VIRUS_SCANNER = ""
    return tmp_path / "materials"


@pytest.fixture(autouse=True)
def _suggestions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not sure enough to dispatch: the operator dispatches, so the test decides which department handles it.
    monkeypatch.setattr(intake, "suggest", unsure_suggestions)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- files ----------------------------------------------------------------------------------------------


def jpeg_bytes(colour: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def kept(data: bytes, content_type: str = "image/jpeg") -> bytes:
    """The bytes the platform keeps of a photo: the same picture re-encoded without its metadata."""
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(data)) as image:
        ImageOps.exif_transpose(image).save(buffer, "JPEG" if content_type == "image/jpeg" else "PNG", quality=92)
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG")
    return buffer.getvalue()


def pdf(*objects: bytes, catalog_extra: bytes = b"") -> bytes:
    """A one-page PDF written object by object: 1 catalog, 2 pages, 3 page, then ``objects`` from 4 on."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        *objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref)
    return bytes(out)


def photo(name: str = "现场照片.jpg", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes() if data is None else data, content_type="image/jpeg")


def scripted_pdf() -> SimpleUploadedFile:
    data = pdf(b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>", catalog_extra=b"/OpenAction 4 0 R")
    return SimpleUploadedFile("告知书.pdf", data, content_type="application/pdf")


def text_as_jpeg() -> SimpleUploadedFile:
    return SimpleUploadedFile("照片.jpg", "这其实是一段文字，不是照片".encode(), content_type="image/jpeg")


def oversized_photo() -> SimpleUploadedFile:
    # A JPEG's first bytes and then padding: refused on its size before anything else is looked at.
    data = jpeg_bytes() + b"\0" * (services.MAX_ATTACHMENT_BYTES + 1)
    return SimpleUploadedFile("大照片.jpg", data, content_type="image/jpeg")


# --- the order every access test looks at -----------------------------------------------------------------


def complaint_with_photo(caller: Any, operator: Any, data: bytes) -> tuple[WorkOrder, Attachment]:
    """The caller's web complaint with one photo, dispatched by the operator to housing."""
    order = services.register(
        actor=caller,
        kind=WorkOrderKind.COMPLAINT,
        source=Source.WEB,
        title=NOISE,
        content=NOISE_TEXT,
        caller=services.CallerDetails(user=caller),
        attachments=[photo(data=data)],
    )
    order = services.perform(order, "dispatch", actor=operator, department="housing", category="城乡建设")
    return order, order.attachments.get()


def test_a_photo_filed_online_is_stored_with_its_checksum_and_reaches_the_handling_department(
    caller: Any, operator: Any, supervisor: Any, _materials_in_tmp: Path
) -> None:
    data = jpeg_bytes()
    client = client_for(caller)
    form = client.get("/hotline/new/").content.decode()
    assert 'enctype="multipart/form-data"' in form
    assert 'type="file" name="attachments"' in form and "multiple" in form
    assert 'accept="image/jpeg,image/png,application/pdf"' in form
    response = client.post(
        "/hotline/new/",
        {"kind": "complaint", "title": NOISE, "content": NOISE_TEXT, "attachments": [photo(data=data)]},
    )
    order = WorkOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/hotline/mine/{order.number}/"
    attachment = order.attachments.get()
    data = kept(data)
    assert (attachment.name, attachment.content_type, attachment.size) == ("现场照片.jpg", "image/jpeg", len(data))
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert attachment.uploaded_by_id == caller.pk
    assert attachment.name not in attachment.storage_name  # stored under a random name
    assert [p.read_bytes() for p in stored_files(_materials_in_tmp)] == [data]
    assert order.events.get(action="register").detail["attachments"] == 1
    assert AuditEvent.objects.filter(event="hotline.attachment_added", target=f"hotline.WorkOrder:{order.number}")

    link = f"/hotline/orders/{order.number}/attachments/{attachment.pk}/"
    mine = html.unescape(client.get(f"/hotline/mine/{order.number}/").content.decode())
    assert "现场照片.jpg" in mine and link in mine

    services.perform(order, "dispatch", actor=operator, department="housing", category="城乡建设")
    housing = handler("housing")
    for user in (caller, housing, operator, supervisor):
        download = client_for(user).get(link)
        assert download.status_code == 200, user
        assert b"".join(download.streaming_content) == data
        assert download["Content-Type"] == "image/jpeg"
        assert download["Content-Disposition"].startswith("attachment;")
        assert "filename*=utf-8''%E7%8E%B0%E5%9C%BA%E7%85%A7%E7%89%87.jpg" in download["Content-Disposition"]
        assert download["X-Content-Type-Options"] == "nosniff"
    desk = html.unescape(client_for(housing).get(f"/hotline/desk/{order.number}/").content.decode())
    assert "现场照片.jpg" in desk and link in desk
    assert AuditEvent.objects.filter(event="hotline.attachment_downloaded", actor=housing).exists()


def test_strangers_and_other_departments_get_404(caller: Any, operator: Any) -> None:
    order, attachment = complaint_with_photo(caller, operator, jpeg_bytes())
    link = f"/hotline/orders/{order.number}/attachments/{attachment.pk}/"
    for user in (make_citizen("吴路人"), handler("market")):
        assert client_for(user).get(link).status_code == 404
    assert Client().get(link).status_code == 302  # to the login page
    # Another order's file by its number: the file must belong to the order named in the path.
    own = services.register(
        actor=(stranger := make_citizen("钱另一人")),
        kind=WorkOrderKind.HELP,
        source=Source.WEB,
        title="路灯不亮",
        content="小区门口路灯坏了一周",
        caller=services.CallerDetails(user=stranger),
    )
    assert client_for(stranger).get(f"/hotline/orders/{own.number}/attachments/{attachment.pk}/").status_code == 404
    assert client_for(caller).get(f"/hotline/orders/{order.number}/attachments/999999/").status_code == 404


def test_the_public_progress_page_never_shows_files(caller: Any, operator: Any) -> None:
    order, attachment = complaint_with_photo(caller, operator, jpeg_bytes())
    page = html.unescape(
        Client().post("/hotline/track/", {"number": order.number, "code": order.verification_code}).content.decode()
    )
    assert order.title in page
    assert attachment.name not in page and "/attachments/" not in page
    tracked = Client().get(f"{API}/track", {"number": order.number, "code": order.verification_code}).json()
    assert "attachments" not in tracked


def test_an_anonymous_reports_photo_goes_to_the_department_without_the_reporter(caller: Any, operator: Any) -> None:
    report = services.register(
        actor=caller,
        kind=WorkOrderKind.REPORT,
        source=Source.WEB,
        title="工地夜间违规施工",
        content=NOISE_TEXT,
        caller=services.CallerDetails(user=caller, anonymous=True),
        attachments=[photo()],
    )
    services.perform(report, "dispatch", actor=operator, department="housing")
    housing = handler("housing")
    page = html.unescape(client_for(housing).get(f"/hotline/desk/{report.number}/").content.decode())
    assert "现场照片.jpg" in page and "匿名举报的附件可能含有举报人的信息" in page
    assert caller.display_name not in page
    attachment = report.attachments.get()
    assert client_for(housing).get(f"/hotline/orders/{report.number}/attachments/{attachment.pk}/").status_code == 200
    assert (
        client_for(handler("market")).get(f"/hotline/orders/{report.number}/attachments/{attachment.pk}/").status_code
        == 404
    )


# --- refusals: the whole submission, nothing kept ----------------------------------------------------------


REFUSALS = [
    ("pdf_active_content", lambda: [scripted_pdf()], "告知书.pdf", "脚本"),
    ("file_type_not_allowed", lambda: [text_as_jpeg()], "照片.jpg", "不支持这种文件格式"),
    # A real PNG photo named .jpg: the type is read from the content, not the name.
    (
        "file_type_mismatch",
        lambda: [photo("照片.jpg", png_bytes())],
        "照片.jpg",
        "扩展名与实际内容不符",
    ),
    ("file_too_large", lambda: [photo(), oversized_photo()], "大照片.jpg", "10 MB"),
    (
        "too_many_attachments",
        lambda: [photo(f"照片{n}.jpg") for n in range(services.MAX_ATTACHMENTS + 1)],
        "",
        "一次最多上传5个附件",
    ),
    ("empty_file", lambda: [SimpleUploadedFile("空.jpg", b"")], "空.jpg", "文件是空的"),
]


@pytest.mark.parametrize(("code", "files", "named", "says"), REFUSALS, ids=[row[0] for row in REFUSALS])
def test_a_bad_file_refuses_the_work_order_and_nothing_is_kept(
    caller: Any, _materials_in_tmp: Path, code: str, files: Any, named: str, says: str
) -> None:
    with pytest.raises(services.HotlineError) as refused:
        services.register(
            actor=caller,
            kind=WorkOrderKind.COMPLAINT,
            source=Source.WEB,
            title=NOISE,
            content=NOISE_TEXT,
            caller=services.CallerDetails(user=caller),
            attachments=files(),
        )
    assert refused.value.code == code and refused.value.extra["field"] == "attachments"
    assert says in refused.value.message
    if named:
        assert f"附件“{named}”未被接收" in refused.value.message
    assert not WorkOrder.objects.exists() and not Attachment.objects.exists()
    assert stored_files(_materials_in_tmp) == []


@pytest.mark.parametrize(("code", "files", "named", "says"), REFUSALS[:4], ids=[row[0] for row in REFUSALS[:4]])
def test_the_filing_page_shows_the_refusal_next_to_the_files_and_keeps_the_text(
    caller: Any, _materials_in_tmp: Path, code: str, files: Any, named: str, says: str
) -> None:
    response = client_for(caller).post(
        "/hotline/new/",
        {"kind": "complaint", "title": NOISE, "content": NOISE_TEXT, "location": "幸福小区", "attachments": files()},
    )
    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert 'id="id_attachments_error"' in page and f"附件“{named}”未被接收" in page and says in page
    assert NOISE in page and NOISE_TEXT in page and "幸福小区" in page  # nothing typed is lost
    assert not WorkOrder.objects.exists() and stored_files(_materials_in_tmp) == []


def test_six_files_on_the_page_are_refused(caller: Any, _materials_in_tmp: Path) -> None:
    response = client_for(caller).post(
        "/hotline/new/",
        {
            "kind": "complaint",
            "title": NOISE,
            "content": NOISE_TEXT,
            "attachments": [photo(f"照片{n}.jpg") for n in range(6)],
        },
    )
    assert response.status_code == 400
    assert "一次最多上传5个附件，您选择了6个" in html.unescape(response.content.decode())
    assert not WorkOrder.objects.exists() and stored_files(_materials_in_tmp) == []


def test_a_virus_found_by_the_scanner_refuses_the_order(caller: Any, settings: Any, _materials_in_tmp: Path) -> None:
    settings.YIWANG_VIRUS_SCANNER = "yiwang.core.uploads.eicar_scan"
    with pytest.raises(services.HotlineError) as refused:
        services.register(
            actor=caller,
            kind=WorkOrderKind.COMPLAINT,
            source=Source.WEB,
            title=NOISE,
            content=NOISE_TEXT,
            caller=services.CallerDetails(user=caller),
            attachments=[photo(data=jpeg_bytes() + uploads.EICAR)],
        )
    assert refused.value.code == "virus_found"
    assert not WorkOrder.objects.exists() and stored_files(_materials_in_tmp) == []


def test_a_failure_after_the_files_were_stored_takes_them_away_again(
    caller: Any, monkeypatch: pytest.MonkeyPatch, _materials_in_tmp: Path
) -> None:
    def broken_event(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    # The registration event is written after the files, in the same transaction.
    monkeypatch.setattr(intake, "add_event", broken_event)
    with pytest.raises(RuntimeError):
        services.register(
            actor=caller,
            kind=WorkOrderKind.COMPLAINT,
            source=Source.WEB,
            title=NOISE,
            content=NOISE_TEXT,
            caller=services.CallerDetails(user=caller),
            attachments=[photo(), photo("第二张.jpg", jpeg_bytes("black"))],
        )
    assert not WorkOrder.objects.exists()
    assert stored_files(_materials_in_tmp) == []


# --- phone intake, grid reports, the department's reply ------------------------------------------------------


def test_the_operator_attaches_what_the_caller_sent_at_phone_intake(operator: Any, _materials_in_tmp: Path) -> None:
    client = client_for(operator)
    assert 'enctype="multipart/form-data"' in client.get("/hotline/desk/intake/").content.decode()
    letter = pdf()
    response = client.post(
        "/hotline/desk/intake/",
        {
            "kind": "complaint",
            "title": NOISE,
            "content": NOISE_TEXT,
            "caller_name": "李来电",
            "phone": "13800138000",
            "attachments": [SimpleUploadedFile("投诉信.pdf", letter, content_type="application/pdf")],
        },
    )
    order = WorkOrder.objects.get()
    assert response.status_code == 302 and order.source == Source.PHONE
    attachment = order.attachments.get()
    assert (attachment.name, attachment.content_type, attachment.uploaded_by_id) == (
        "投诉信.pdf",
        "application/pdf",
        operator.pk,
    )
    download = client.get(f"/hotline/orders/{order.number}/attachments/{attachment.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == letter

    refused = client.post(
        "/hotline/desk/intake/",
        {
            "kind": "complaint",
            "title": "另一件事",
            "content": NOISE_TEXT,
            "caller_name": "李来电",
            "phone": "13800138000",
            "attachments": [scripted_pdf()],
        },
    )
    assert refused.status_code == 400 and "附件“告知书.pdf”未被接收" in html.unescape(refused.content.decode())
    assert WorkOrder.objects.count() == 1 and len(stored_files(_materials_in_tmp)) == 1


def test_a_grid_report_with_a_photo_is_routed_to_the_grid_worker_as_before(
    caller: Any, _materials_in_tmp: Path
) -> None:
    worker = load_grid()
    client = client_for(caller)
    page = client.get("/hotline/grid/report/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="attachments"' in page
    data = jpeg_bytes()
    response = client.post(
        "/hotline/grid/report/",
        {
            "category": "市政设施",
            "title": "井盖缺失",
            "content": "路口井盖缺失，夜间危险",
            "longitude": str(INSIDE_XINGFU[0]),
            "latitude": str(INSIDE_XINGFU[1]),
            "attachments": [photo("井盖.jpg", data)],
        },
    )
    order = WorkOrder.objects.get()
    assert response.status_code == 302
    assert (order.kind, order.state, order.grid_cell.code, order.assignee_id, order.department.code) == (
        WorkOrderKind.GRID,
        WorkOrderState.DISPATCHED,
        "SF-01-001",
        worker.pk,
        "xingfu_street",
    )
    attachment = order.attachments.get()
    assert attachment.sha256 == hashlib.sha256(kept(data)).hexdigest()
    link = f"/hotline/orders/{order.number}/attachments/{attachment.pk}/"
    assert client_for(worker).get(link).status_code == 200
    assert client_for(make_citizen("吴路人")).get(link).status_code == 404
    # The public grid map lists the report, never its photo.
    public = html.unescape(Client().get("/hotline/grid/").content.decode())
    assert order.number in public and "井盖.jpg" not in public and "/attachments/" not in public


def test_a_grid_report_with_a_bad_photo_is_not_reported(caller: Any, _materials_in_tmp: Path) -> None:
    load_grid()
    with pytest.raises(services.HotlineError) as refused:
        services.report_grid_problem(
            actor=caller,
            title="井盖缺失",
            content="路口井盖缺失",
            category="市政设施",
            longitude=INSIDE_XINGFU[0],
            latitude=INSIDE_XINGFU[1],
            attachments=[photo(), text_as_jpeg()],
        )
    assert refused.value.code == "file_type_not_allowed"
    assert not WorkOrder.objects.exists() and stored_files(_materials_in_tmp) == []


def test_the_department_replies_with_a_photo_the_caller_can_download(caller: Any, operator: Any) -> None:
    order, _first = complaint_with_photo(caller, operator, jpeg_bytes())
    housing = handler("housing")
    services.perform(order.number, "acknowledge", actor=housing)
    client = client_for(housing)
    page = client.get(f"/hotline/desk/{order.number}/").content.decode()
    # Only the reply form takes files.
    assert page.count('enctype="multipart/form-data"') == 1 and 'name="reply-attachments"' in page
    order.refresh_from_db()
    fixed = jpeg_bytes("grey")
    response = client.post(
        f"/hotline/desk/{order.number}/actions/reply/",
        {
            "reply-expected_version": str(order.version),
            "reply-reply": "已责令工地夜间停工，附整改后现场照片。",
            "reply-attachments": [photo("整改后.jpg", fixed)],
        },
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == WorkOrderState.REPLIED
    reply_file = order.attachments.get(name="整改后.jpg")
    assert reply_file.uploaded_by_id == housing.pk
    assert order.events.get(action="reply").detail == {"attachments": 1}
    mine = html.unescape(client_for(caller).get(f"/hotline/mine/{order.number}/").content.decode())
    assert "整改后.jpg" in mine
    download = client_for(caller).get(f"/hotline/orders/{order.number}/attachments/{reply_file.pk}/")
    assert b"".join(download.streaming_content) == kept(fixed)


def test_a_reply_with_a_bad_file_is_not_sent(caller: Any, operator: Any, _materials_in_tmp: Path) -> None:
    order, _first = complaint_with_photo(caller, operator, jpeg_bytes())
    housing = handler("housing")
    order = services.perform(order.number, "acknowledge", actor=housing)
    response = client_for(housing).post(
        f"/hotline/desk/{order.number}/actions/reply/",
        {
            "reply-expected_version": str(order.version),
            "reply-reply": "已处理。",
            "reply-attachments": [scripted_pdf()],
        },
    )
    page = html.unescape(response.content.decode())
    assert response.status_code == 400 and "附件“告知书.pdf”未被接收" in page and "已处理。" in page
    order.refresh_from_db()
    assert order.state == WorkOrderState.HANDLING and order.attachments.count() == 1
    assert len(stored_files(_materials_in_tmp)) == 1
    # Files go with a reply only.
    with pytest.raises(services.HotlineError) as refused:
        services.perform(
            order.number, "request_extension", actor=housing, reason="需要现场勘查", days=5, attachments=[photo()]
        )
    assert refused.value.code == "attachments_not_accepted"


# --- the API ---------------------------------------------------------------------------------------------------


def test_the_api_files_with_attachments_as_multipart(caller: Any, operator: Any, _materials_in_tmp: Path) -> None:
    client = client_for(caller)
    data = jpeg_bytes()
    response = client.post(
        f"{API}/orders/multipart",
        {
            "kind": "complaint",
            "title": NOISE,
            "content": NOISE_TEXT,
            "attachments": [photo(data=data), photo("b.png", png_bytes())],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(a["name"], a["content_type"]) for a in body["attachments"]] == [
        ("现场照片.jpg", "image/jpeg"),
        ("b.png", "image/png"),
    ]
    assert body["attachments"][0]["sha256"] == hashlib.sha256(kept(data)).hexdigest()
    download = client.get(body["attachments"][0]["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == kept(data)
    # The JSON endpoint answers with the list too (empty), and the order's details list the files.
    plain = client.post(
        f"{API}/orders",
        json.dumps({"kind": "help", "title": "路灯不亮", "content": "小区门口路灯坏了一周"}),
        content_type="application/json",
    )
    assert plain.status_code == 201 and plain.json()["attachments"] == []
    number = body["number"]
    assert len(client.get(f"{API}/orders/{number}").json()["attachments"]) == 2
    assert client_for(handler("market")).get(f"{API}/orders/{number}").status_code == 404

    refused = client.post(
        f"{API}/orders/multipart",
        {"kind": "complaint", "title": "另一件事", "content": NOISE_TEXT, "attachments": [scripted_pdf()]},
    )
    problem = refused.json()
    assert refused.status_code == 400
    assert (problem["code"], problem["field"], problem["file"]) == ("pdf_active_content", "attachments", "告知书.pdf")
    assert "附件“告知书.pdf”未被接收" in problem["detail"]
    assert WorkOrder.objects.count() == 2 and len(stored_files(_materials_in_tmp)) == 2
    assert Client().post(f"{API}/orders/multipart", {"kind": "help"}).status_code == 401


@pytest.mark.parametrize("name", ["../../etc/passwd.jpg", "photo\u202egpj.jpg", "a\x00.jpg"])
def test_a_dangerous_attachment_name_is_refused_and_the_file_named_by_its_position(
    caller: Any, _materials_in_tmp: Path, name: str
) -> None:
    """Issue 12 item 6: the name as sent is checked, not the one Django's parser cleaned."""
    fields = {"kind": "complaint", "title": NOISE, "content": NOISE_TEXT}
    files = [("attachments", "现场 照片.jpg", jpeg_bytes()), ("attachments", name, jpeg_bytes())]
    refused = post_multipart(client_for(caller), f"{API}/orders/multipart", fields, files)
    problem = refused.json()
    assert refused.status_code == 400, problem
    assert (problem["code"], problem["file"]) == ("unsafe_name", "第2个附件")
    assert "文件名不符合要求" in problem["detail"]
    assert not WorkOrder.objects.exists() and stored_files(_materials_in_tmp) == []
    accepted = post_multipart(client_for(caller), f"{API}/orders/multipart", fields, files[:1])
    assert accepted.status_code == 201 and accepted.json()["attachments"][0]["name"] == "现场 照片.jpg"


def test_the_api_grid_report_with_a_photo(caller: Any) -> None:
    worker = load_grid()
    response = client_for(caller).post(
        f"{API}/grid/reports/multipart",
        {
            "title": "人行道井盖缺失",
            "content": "幸福小学门口人行道井盖缺失",
            "category": "市政设施",
            "longitude": str(INSIDE_XINGFU[0]),
            "latitude": str(INSIDE_XINGFU[1]),
            "attachments": [photo("井盖.jpg")],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grid_cell"] == "SF-01-001" and [a["name"] for a in body["attachments"]] == ["井盖.jpg"]
    assert WorkOrder.objects.get().assignee_id == worker.pk
    without = client_for(caller).post(
        f"{API}/grid/reports/multipart",
        {
            "title": "路灯不亮",
            "content": "幸福小学门口路灯不亮",
            "category": "市政设施",
            "longitude": str(INSIDE_XINGFU[0]),
            "latitude": str(INSIDE_XINGFU[1]),
        },
    )
    assert without.status_code == 201 and without.json()["attachments"] == []


def test_photos_are_kept_upright_and_without_their_metadata(caller: Any, _materials_in_tmp: Path) -> None:
    # A phone photo: taken on its side (orientation 6) with the camera and place in its EXIF.
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif[0x010F] = "ExamplePhone"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (31.0, 14.0, 5.0)  # GPSLatitudeRef, GPSLatitude
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, "JPEG", exif=exif)
    assert Image.open(io.BytesIO(buffer.getvalue())).getexif().get(0x010F) == "ExamplePhone"

    services.register(
        actor=caller,
        kind=WorkOrderKind.REPORT,
        source=Source.WEB,
        title="路灯损坏",
        content="人民路上的路灯已经坏了一周，晚上很黑。",
        caller=services.CallerDetails(user=caller, anonymous=True),
        attachments=[photo("路灯.jpg", buffer.getvalue())],
    )
    (stored,) = stored_files(_materials_in_tmp)
    with Image.open(stored) as image:
        assert image.size == (20, 40)  # turned upright
        assert not image.getexif()  # no camera, no place
    attachment = Attachment.objects.get()
    assert attachment.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert attachment.size == stored.stat().st_size
