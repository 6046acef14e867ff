"""Safe intake of application materials: every refusal by its code, the scanner hook, storage and rollback."""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import io
import json
import logging
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.db import transaction
from PIL import Image, PngImagePlugin
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from yiwang.core import uploads
from yiwang.core.uploads import ScanStatus

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _materials_in_tmp(settings: Any, tmp_path: Path) -> None:
    storages = dict(settings.STORAGES)
    storages["materials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "materials")},
    }
    settings.STORAGES = storages


@pytest.fixture(autouse=True)
def _no_scanner_unless_asked(settings: Any) -> None:
    # Under DEBUG the settings pick the EICAR demo scanner; each test here says which scanner it wants.
    settings.YIWANG_VIRUS_SCANNER = ""


def refused(name: str, data: bytes | IO[bytes], **options: Any) -> uploads.UploadRejected:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    with pytest.raises(uploads.UploadRejected) as caught:
        uploads.check_upload(name, stream, **options)
    assert caught.value.message  # always something to tell the citizen
    return caught.value


def accepted(name: str, data: bytes, **options: Any) -> uploads.CheckedUpload:
    return uploads.check_upload(name, io.BytesIO(data), **options)


# --- files built for the tests ---


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def hand_made_pdf(catalog_extra: bytes = b"", page_extra: bytes = b"", *more: bytes) -> bytes:
    """A one-page PDF written object by object: 1 catalog, 2 pages, 3 page, then ``more`` from 4 on."""
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] " + page_extra + b" >>",
        *more,
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


def pdf_with_script_in_object_stream() -> bytes:
    """Catalog, pages and a JavaScript OpenAction packed in a compressed object stream, with an xref stream."""
    packed = [
        b"<< /Type /Catalog /Pages 3 0 R /OpenAction 5 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 200 200] >>",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
    ]
    offsets, body = [], b""
    for item in packed:
        offsets.append(len(body))
        body += item + b"\n"
    index = b" ".join(b"%d %d" % (number, offset) for number, offset in zip(range(2, 6), offsets, strict=True)) + b"\n"
    object_stream = zlib.compress(index + body)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    object_stream_offset = len(out)
    out += b"1 0 obj\n<< /Type /ObjStm /N 4 /First %d /Filter /FlateDecode /Length %d >>\nstream\n" % (
        len(index),
        len(object_stream),
    )
    out += object_stream + b"\nendstream\nendobj\n"
    xref_offset = len(out)
    rows = struct.pack(">BLH", 0, 0, 0xFFFF) + struct.pack(">BLH", 1, object_stream_offset, 0)
    rows += b"".join(struct.pack(">BLH", 2, 1, position) for position in range(4))
    rows += struct.pack(">BLH", 1, xref_offset, 0)
    xref_stream = zlib.compress(rows)
    out += (
        b"6 0 obj\n<< /Type /XRef /Size 7 /Root 2 0 R /W [1 4 2] /Index [0 7] /Filter /FlateDecode /Length %d >>\n"
        b"stream\n" % len(xref_stream)
    )
    out += xref_stream + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(out)


def png_bytes(size: tuple[int, int] = (8, 8), text: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "JPEG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header and carries no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">LLBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


OFD_XML = b'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0"/>'


def ofd_bytes(*extra: tuple[str | zipfile.ZipInfo, bytes]) -> bytes:
    return zip_bytes([("OFD.xml", OFD_XML), ("Doc_0/Document.xml", b"<ofd:Document/>"), *extra])


def patch_entry(data: bytes, name: str, local_offset: int, central_offset: int, value: int, fmt: str = "<L") -> bytes:
    """Rewrite one field of an entry, in its local header and in its central directory record."""
    patched = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    struct.pack_into(fmt, patched, info.header_offset + local_offset, value)
    position = struct.unpack_from("<L", data, data.rindex(b"PK\x05\x06") + 16)[0]
    while data[position : position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, position + 28)
        if data[position + 46 : position + 46 + name_length] == name.encode():
            struct.pack_into(fmt, patched, position + central_offset, value)
        position += 46 + name_length + extra_length + comment_length
    return bytes(patched)


def understate_size(data: bytes, name: str, declared: int) -> bytes:
    return patch_entry(data, name, 22, 24, declared)


EICAR = uploads.EICAR.decode()


class EndlessStream:
    """A seekable stream of ``total`` bytes that counts what is read from it and keeps none of it."""

    def __init__(self, total: int, head: bytes = b"%PDF-1.7\n") -> None:
        self.total = total
        self.head = head
        self.position = 0
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        assert n is not None and n >= 0, "a huge stream must never be read whole"
        n = min(n, self.total - self.position)
        data = bytes(self.head[self.position : self.position + n]).ljust(n, b"\0")
        self.position += n
        self.bytes_read += n
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = offset if whence == 0 else self.total + offset if whence == 2 else self.position + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return True


# --- accepted files ---


def test_a_clean_pdf_is_accepted_with_its_size_and_digest() -> None:
    data = pdf_bytes()
    stream = io.BytesIO(data)
    checked = uploads.check_upload("营业执照（副本）.pdf", stream)
    assert checked == uploads.CheckedUpload(
        safe_name="营业执照（副本）.pdf",
        content_type="application/pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        scan_status=ScanStatus.NOT_SCANNED,
    )
    assert stream.tell() == 0  # ready for the caller to store


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("照片.png", png_bytes(), "image/png"),
        ("照片.JPG", jpeg_bytes(), "image/jpeg"),
        ("照片.jpeg", jpeg_bytes(), "image/jpeg"),
        ("电子证照.ofd", ofd_bytes(("Doc_0/Res/seal.png", png_bytes())), "application/ofd"),
        ("SCAN.PDF", pdf_bytes(), "application/pdf"),
        ("跳转.pdf", hand_made_pdf(b"/OpenAction [3 0 R /Fit]"), "application/pdf"),
    ],
)
def test_allowed_types_are_recognised_by_content(name: str, data: bytes, content_type: str) -> None:
    assert accepted(name, data).content_type == content_type


def test_a_file_of_exactly_the_limit_is_accepted_and_one_byte_less_of_limit_is_not() -> None:
    data = pdf_bytes()
    assert accepted("a.pdf", data, max_bytes=len(data)).size == len(data)
    assert refused("a.pdf", data, max_bytes=len(data) - 1).code == "file_too_large"


# --- names ---


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "../../etc/passwd.pdf",
        "/etc/passwd.pdf",
        "C:\\x.pdf",
        "a\\b.pdf",
        "a\x00b.pdf",
        "a\nb.pdf",
        "...",
        ". .",
        "",
        "   ",
        "CON.pdf",
        "con .pdf",
        "nul.tar.pdf",
        "LPT1.pdf",
        "COM¹.pdf",
        "invoice\u202efdp.pdf",  # right-to-left override disguising the extension
        "．．／x.pdf",  # full-width dots and solidus
    ],
)
def test_unsafe_names_are_refused(name: str) -> None:
    assert refused(name, pdf_bytes()).code == "unsafe_name"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("  身份证 正面.pdf  ", "身份证 正面.pdf"),
        ('a<b>:c|d?"e*.pdf', "a_b__c_d__e_.pdf"),
        ("report.pdf. ", "report.pdf"),
        (".hidden.pdf", ".hidden.pdf"),
    ],
)
def test_names_are_cleaned_for_display(name: str, shown: str) -> None:
    assert accepted(name, pdf_bytes()).safe_name == shown


def test_the_name_the_browser_sent_is_checked_and_shown() -> None:
    # What ClientNameParser leaves on an uploaded file: Django's cleaned name, and the name as sent.
    stream = io.BytesIO(pdf_bytes())
    stream.client_name = "../../etc/passwd.pdf"  # type: ignore[attr-defined]
    assert refused("passwd.pdf", stream).code == "unsafe_name"
    stream = io.BytesIO(pdf_bytes())
    stream.client_name = "身份证　正面.pdf"  # type: ignore[attr-defined]
    assert uploads.check_upload("身份证正面.pdf", stream).safe_name == "身份证　正面.pdf"
    assert uploads.name_as_sent(stream) == "身份证　正面.pdf"
    assert uploads.name_as_sent(InMemoryUploadedFile(io.BytesIO(), "f", "a.pdf", "", 0, None)) == "a.pdf"


def test_long_names_are_shortened_keeping_the_extension() -> None:
    checked = accepted("营" * 300 + ".pdf", pdf_bytes())
    assert checked.safe_name.endswith("营.pdf")
    assert len(checked.safe_name) <= uploads.MAX_NAME_CHARS
    assert len(checked.safe_name.encode()) <= uploads.MAX_NAME_BYTES


# --- size ---


def test_an_empty_file_is_refused() -> None:
    assert refused("a.pdf", b"").code == "empty_file"


def test_an_oversized_stream_is_refused_without_being_read_through(settings: Any) -> None:
    settings.YIWANG_UPLOAD_MAX_BYTES = MIB
    stream = EndlessStream(10 * 1024 * MIB)
    rejection = refused("big.pdf", stream)  # type: ignore[arg-type]
    assert rejection.code == "file_too_large"
    assert "1 MB" in rejection.message
    assert stream.bytes_read <= MIB + 1


def test_the_default_limit_is_20_mb() -> None:
    rejection = refused("big.pdf", EndlessStream(21 * MIB))  # type: ignore[arg-type]
    assert rejection.code == "file_too_large"
    assert "20 MB" in rejection.message


def test_an_upload_that_declares_an_oversize_is_refused_before_reading() -> None:
    stream = EndlessStream(10 * 1024 * MIB)
    upload = InMemoryUploadedFile(stream, "file", "big.pdf", "application/pdf", 10 * 1024 * MIB, None)  # type: ignore[arg-type]
    with pytest.raises(uploads.UploadRejected) as caught:
        uploads.check_upload("big.pdf", upload)
    assert caught.value.code == "file_too_large"
    assert stream.bytes_read == 0


# --- types ---


def test_a_png_named_pdf_is_a_mismatch() -> None:
    rejection = refused("scan.pdf", png_bytes())
    assert rejection.code == "file_type_mismatch"
    assert ".png" in rejection.message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("scan", pdf_bytes()),  # no extension at all
        ("scan.png", pdf_bytes()),
        ("photo.png", jpeg_bytes()),
        ("licence.pdf", ofd_bytes()),
    ],
)
def test_the_extension_must_agree_with_the_content(name: str, data: bytes) -> None:
    assert refused(name, data).code == "file_type_mismatch"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.txt", b"plain text"),
        ("setup.pdf", b"MZ\x90\x00" + bytes(100)),  # a Windows program named as a PDF
        ("page.pdf", b"<html><script>alert(1)</script></html>"),
        ("photo.gif", b"GIF89a" + bytes(20)),
        ("report.docx", zip_bytes([("word/document.xml", b"<w:document/>")])),
        ("bundle.zip", zip_bytes([("a.pdf", pdf_bytes())])),  # ZIP only when a caller allows it
        ("fake.ofd", zip_bytes([("Doc_0/Document.xml", b"<x/>")])),  # no OFD.xml at the root
    ],
)
def test_types_outside_the_allowed_list_are_refused(name: str, data: bytes) -> None:
    rejection = refused(name, data)
    assert rejection.code == "file_type_not_allowed"
    assert "PDF、JPG、PNG、OFD" in rejection.message


def test_callers_may_narrow_the_allowed_types() -> None:
    assert refused("a.pdf", pdf_bytes(), allowed=frozenset({uploads.PNG, uploads.JPEG})).code == "file_type_not_allowed"
    assert accepted("a.png", png_bytes(), allowed=frozenset({uploads.PNG})).content_type == uploads.PNG


# --- PDF ---


def test_javascript_hidden_in_a_compressed_object_stream_is_found() -> None:
    data = pdf_with_script_in_object_stream()
    assert b"JavaScript" not in data  # only visible after decompressing the object stream
    assert refused("a.pdf", data).code == "pdf_active_content"


@pytest.mark.parametrize(
    ("catalog_extra", "page_extra", "more"),
    [
        (b"/OpenAction 4 0 R", b"", [b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"]),
        (b"", b"/AA << /O 4 0 R >>", [b"<< /S /Launch /F (cmd.exe) >>"]),
        (b"/OpenAction 4 0 R", b"", [b"<< /S /J#61vaScript /J#53 (x) >>"]),  # names written with # escapes
        (b"/AcroForm << /Fields [] /XFA 4 0 R >>", b"", [b"[(template) 5 0 R]", b"<< >>"]),
        (b"", b"/Annots [4 0 R]", [b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 10 10] >>"]),
        (b"/OpenAction 4 0 R", b"", [b"<< /S /Launch /Win << /F (calc.exe) >> >>"]),
    ],
)
def test_active_content_is_refused(catalog_extra: bytes, page_extra: bytes, more: list[bytes]) -> None:
    assert refused("a.pdf", hand_made_pdf(catalog_extra, page_extra, *more)).code == "pdf_active_content"


def link_annotation(action: bytes) -> tuple[bytes, bytes, bytes]:
    """catalog_extra, page_extra and object 4 for hand_made_pdf: a link annotation running ``action``."""
    return b"", b"/Annots [4 0 R]", b"<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] /A " + action + b" >>"


@pytest.mark.parametrize(
    ("catalog_extra", "page_extra", "more"),
    [
        link_annotation(b"<< /S /URI /URI (javascript:app.alert\\(1\\)) >>"),
        link_annotation(b"<< /S /URI /URI ( JavaScript:this.print\\(\\)) >>"),
        link_annotation(b"<< /S /URI /URI <6a6176617363726970743a616c6572742831293b> >>"),  # hex string
        link_annotation(b"<< /S /URI /URI (\\152ava\\tscript:x) >>"),  # octal escape and a tab
        link_annotation(b"<< /S /URI /URI (vbscript:msgbox) >>"),
        link_annotation(b"<< /S /U#52I /URI (data:text/html,<script>x</script>) >>"),
        link_annotation(b"<< /S /SubmitForm /F << /FS /URL /F (https://collect.example/form) >> >>"),
        (b"/URI << /Base (javascript:x) >>", b"", b""),
        (b"/OpenAction 4 0 R", b"", b"<< /S /URI /URI (https://tracker.example/opened) >>"),
        (b"/OpenAction 4 0 R", b"", b"<< /S /SubmitForm /F (https://collect.example/) /Flags 4 >>"),
        (b"", b"/AA << /O 4 0 R >>", b"<< /S /GoTo /D [3 0 R /Fit] /Next [5 0 R] >>"),
    ],
)
def test_script_links_and_outside_actions_are_refused(catalog_extra: bytes, page_extra: bytes, more: bytes) -> None:
    """Issue 12 item 6: javascript: links (however written) and form submission or addresses opened by themselves."""
    objects = [more] if more else []
    if b"5 0 R" in page_extra + more:
        objects.append(b"<< /S /URI /URI (https://tracker.example/page) >>")
    data = hand_made_pdf(catalog_extra, page_extra, *objects)
    rejection = refused("a.pdf", data)
    assert rejection.code == "pdf_outside_action"
    assert "脚本" in rejection.message and "外部网址" in rejection.message


def test_a_javascript_link_written_by_pypdf_is_refused() -> None:
    from pypdf.annotations import Link

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_annotation(0, Link(rect=(0, 0, 50, 50), url="javascript:app.alert(1)"))
    buffer = io.BytesIO()
    writer.write(buffer)
    assert refused("a.pdf", buffer.getvalue()).code == "pdf_outside_action"


@pytest.mark.parametrize(
    ("catalog_extra", "page_extra", "more"),
    [
        link_annotation(b"<< /S /URI /URI (https://www.gov.cn/zhengce/) >>"),
        link_annotation(b"<< /S /URI /URI (mailto:office@example.gov.cn) >>"),
        link_annotation(b"<< /S /URI /URI (zhengce/index.html) >>"),  # relative: no scheme of its own
        (b"/OpenAction [3 0 R /Fit]", b"", b""),  # opens at page one: stays in the document
        (b"/URI << /Base (https://www.gov.cn/) >>", b"", b""),
    ],
)
def test_ordinary_links_and_opening_views_are_accepted(catalog_extra: bytes, page_extra: bytes, more: bytes) -> None:
    data = hand_made_pdf(catalog_extra, page_extra, *([more] if more else []))
    assert accepted("a.pdf", data).content_type == uploads.PDF


def test_document_level_javascript_and_attachments_are_refused() -> None:
    scripted = PdfWriter()
    scripted.add_blank_page(width=200, height=200)
    scripted.add_open_action(JavaScript("app.alert('hi');"))
    attached = PdfWriter()
    attached.add_blank_page(width=200, height=200)
    attached.add_attachment("payload.exe", b"MZ")
    for writer in (scripted, attached):
        buffer = io.BytesIO()
        writer.write(buffer)
        assert refused("a.pdf", buffer.getvalue()).code == "pdf_active_content"


def test_an_encrypted_pdf_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert refused("a.pdf", buffer.getvalue()).code == "pdf_encrypted"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\nthis is not a PDF at all\n",
        pdf_bytes()[:60],
        hand_made_pdf().replace(b"/Count 1", b"/Count 0").replace(b"/Kids [3 0 R]", b"/Kids []"),  # no page
    ],
)
def test_a_pdf_that_cannot_be_read_is_refused(data: bytes) -> None:
    assert refused("a.pdf", data).code == "pdf_unreadable"


# --- images ---


def test_a_decompression_bomb_image_is_refused_from_its_header() -> None:
    rejection = refused("bomb.png", png_header_only(30_000, 30_000))
    assert rejection.code == "image_too_large"


def test_an_image_just_over_the_pixel_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 60)
    assert refused("a.png", png_bytes((8, 8))).code == "image_too_large"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10),
        ("a.png", png_bytes()[:-20] + b"\0" * 20),  # damaged chunk checksums
        ("a.jpg", b"\xff\xd8\xff" + b"not a jpeg"),
    ],
)
def test_an_image_that_does_not_decode_is_refused(name: str, data: bytes) -> None:
    assert refused(name, data).code == "image_unreadable"


# --- ZIP containers ---


def test_a_zip_bomb_is_refused_from_its_declared_ratio() -> None:
    bomb = ofd_bytes(("Doc_0/Res/big.xml", bytes(20 * MIB)))
    assert len(bomb) < MIB
    assert refused("bomb.ofd", bomb).code == "zip_bomb"


def test_a_zip_bomb_that_understates_its_size_is_caught_while_decompressing() -> None:
    honest = ofd_bytes(("Doc_0/Res/big.xml", bytes(5 * MIB)))
    lying = understate_size(honest, "Doc_0/Res/big.xml", 1000)
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        assert archive.getinfo("Doc_0/Res/big.xml").file_size == 1000  # headers look harmless
    assert refused("bomb.ofd", lying).code == "zip_bomb"


def test_the_unpacked_total_is_limited(settings: Any) -> None:
    settings.YIWANG_UPLOAD_MAX_UNPACKED_BYTES = 512 * 1024
    noise = random.Random(1).randbytes(600 * 1024)  # incompressible: only the total limit applies
    assert refused("big.ofd", ofd_bytes(("Doc_0/Res/noise.bin", noise))).code == "zip_bomb"


def test_too_many_entries_are_refused() -> None:
    many = ofd_bytes(*((f"Doc_0/Pages/{n}.xml", b"<p/>") for n in range(uploads.DEFAULT_MAX_ARCHIVE_ENTRIES)))
    assert refused("many.ofd", many).code == "archive_too_many_entries"


@pytest.mark.parametrize(
    "entry",
    [
        ("Doc_0/Res/inner.zip", zip_bytes([("a.txt", b"x")])),
        ("Doc_0/Res/data.bin", zip_bytes([("a.txt", b"x")])),  # found by content, whatever the name
        ("Doc_0/Res/inner.ofd", b"not even a zip"),  # found by name
        ("Doc_0/Res/archive.gz", b"\x1f\x8b\x08\x00" + bytes(20)),
    ],
)
def test_nested_archives_are_refused(entry: tuple[str, bytes]) -> None:
    assert refused("nested.ofd", ofd_bytes(entry)).code == "archive_nested_too_deep"


@pytest.mark.parametrize(
    "entry_name",
    ["../evil.xml", "Doc_0/../../evil.xml", "/etc/cron.d/evil", "Doc_0\\..\\evil.xml", "C:/evil.xml", "Doc_0/./x.xml"],
)
def test_entries_with_traversal_names_are_refused(entry_name: str) -> None:
    data = ofd_bytes((entry_name, b"<x/>"))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert entry_name in archive.namelist()  # written as given
    assert refused("evil.ofd", data).code == "archive_unsafe_entry"


def test_duplicate_and_symlink_entries_are_refused() -> None:
    duplicate = ofd_bytes(("Doc_0/Document.xml", b"<other/>"))
    link = zipfile.ZipInfo("Doc_0/link")
    link.external_attr = (0o120777 << 16) | 0x20
    symlink = ofd_bytes((link, b"/etc/passwd"))
    assert refused("dup.ofd", duplicate).code == "archive_unsafe_entry"
    assert refused("link.ofd", symlink).code == "archive_unsafe_entry"


def test_encrypted_entries_are_refused() -> None:
    # zipfile cannot write encrypted entries; set the "encrypted" flag bit in the headers instead.
    data = patch_entry(ofd_bytes(("Doc_0/secret.xml", b"<x/>")), "Doc_0/secret.xml", 6, 8, 0x1, "<H")
    assert refused("secret.ofd", data).code == "archive_encrypted"


def test_a_damaged_container_is_refused() -> None:
    data = bytearray(ofd_bytes(("Doc_0/Res/page.xml", b"<page>" * 1000)))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("Doc_0/Res/page.xml")
    data[info.header_offset + 30 + len(info.filename) + 5] ^= 0xFF  # corrupt the compressed data
    assert refused("broken.ofd", bytes(data)).code == "archive_unreadable"
    assert refused("cut.ofd", ofd_bytes()[:-30]).code == "archive_unreadable"


ZIP_TOO = uploads.DEFAULT_ALLOWED | {uploads.ZIP}


def test_a_zip_is_accepted_when_allowed_and_its_members_are_checked() -> None:
    bundle = zip_bytes([("材料/身份证.pdf", pdf_bytes()), ("材料/照片.png", png_bytes()), ("材料/", b"")])
    assert accepted("材料.zip", bundle, allowed=ZIP_TOO).content_type == uploads.ZIP


@pytest.mark.parametrize(
    ("members", "code"),
    [
        ([("a.pdf", pdf_with_script_in_object_stream())], "pdf_active_content"),
        ([("a.pdf", png_bytes())], "file_type_mismatch"),
        ([("readme.txt", b"hello")], "file_type_not_allowed"),
        ([("inner.ofd", ofd_bytes())], "archive_nested_too_deep"),
        ([("a.png", b"\x89PNG\r\n\x1a\nbroken")], "image_unreadable"),
        ([("empty.pdf", b"")], "empty_file"),
    ],
)
def test_members_of_an_allowed_zip_must_pass_the_same_checks(members: list[tuple[str, bytes]], code: str) -> None:
    assert refused("bundle.zip", zip_bytes(list(members)), allowed=ZIP_TOO).code == code


# --- virus scanning ---


def broken_scanner(stream: IO[bytes]) -> uploads.ScanResult:
    raise OSError("scanner crashed")


def confused_scanner(stream: IO[bytes]) -> str:
    return "looks fine to me"


def test_without_a_scanner_files_are_marked_not_scanned() -> None:
    assert accepted("a.png", png_bytes()).scan_status == ScanStatus.NOT_SCANNED


def test_the_eicar_scanner_finds_the_test_string_and_passes_clean_files(settings: Any) -> None:
    settings.YIWANG_VIRUS_SCANNER = "yiwang.core.uploads.eicar_scan"
    infected = png_bytes(text={"Comment": EICAR})
    rejection = refused("a.png", infected)
    assert rejection.code == "virus_found"
    assert rejection.params["signature"] == "Eicar-Test-Signature"
    assert accepted("a.png", png_bytes()).scan_status == ScanStatus.CLEAN


def test_eicar_is_found_across_chunk_boundaries() -> None:
    data = b"x" * (uploads.CHUNK_SIZE - 10) + uploads.EICAR + b"y" * 100
    assert uploads.eicar_scan(io.BytesIO(data)).clean is False
    assert uploads.eicar_scan(io.BytesIO(data.replace(b"EICAR", b"EICAX"))).clean is True


def test_a_plain_eicar_file_never_gets_past_the_type_check(settings: Any) -> None:
    settings.YIWANG_VIRUS_SCANNER = "yiwang.core.uploads.eicar_scan"
    assert refused("eicar.pdf", uploads.EICAR).code == "file_type_not_allowed"


def test_eicar_in_a_compressed_ofd_entry_is_found(settings: Any) -> None:
    """Issue 12 item 6: the container's bytes hide a deflated signature; each entry is scanned decompressed."""
    settings.YIWANG_VIRUS_SCANNER = "yiwang.core.uploads.eicar_scan"
    data = ofd_bytes(("Doc_0/Res/note.txt", uploads.EICAR + b" padding" * 50))
    assert uploads.EICAR not in data
    rejection = refused("公文.ofd", data)
    assert rejection.code == "virus_found" and rejection.params["signature"] == "Eicar-Test-Signature"
    assert accepted("公文.ofd", ofd_bytes(("Doc_0/Res/note.txt", b"clean" * 50))).scan_status == ScanStatus.CLEAN


def test_eicar_in_a_member_of_an_allowed_zip_is_found(settings: Any) -> None:
    settings.YIWANG_VIRUS_SCANNER = "yiwang.core.uploads.eicar_scan"
    data = zip_bytes([("a.png", png_bytes(text={"Comment": EICAR}))])
    assert uploads.EICAR not in data
    allowed = frozenset({uploads.ZIP, uploads.PNG})
    assert refused("材料.zip", data, allowed=allowed).code == "virus_found"


recorded_scans: list[bytes] = []


def recording_scanner(stream: IO[bytes]) -> uploads.ScanResult:
    recorded_scans.append(stream.read())
    return uploads.ScanResult(clean=True)


def test_the_scanner_gets_every_entry_decompressed_and_the_container_whole(settings: Any) -> None:
    settings.YIWANG_VIRUS_SCANNER = "tests.core.test_uploads.recording_scanner"
    recorded_scans.clear()
    data = ofd_bytes(("Doc_0/Pages/Page_0/Content.xml", b"<ofd:Page/>" * 100))
    accepted("a.ofd", data)
    assert recorded_scans == [OFD_XML, b"<ofd:Document/>", b"<ofd:Page/>" * 100, data]


def test_scanning_entries_keeps_the_zip_bomb_limits(settings: Any) -> None:
    settings.YIWANG_VIRUS_SCANNER = "tests.core.test_uploads.recording_scanner"
    recorded_scans.clear()
    bomb = understate_size(ofd_bytes(("Doc_0/big.xml", b"\0" * (2 * MIB))), "Doc_0/big.xml", 1000)
    assert refused("a.ofd", bomb).code == "zip_bomb"
    assert all(len(scanned) <= 1000 for scanned in recorded_scans)


@pytest.mark.parametrize(
    "scanner", ["tests.core.test_uploads.broken_scanner", "tests.core.test_uploads.confused_scanner"]
)
def test_a_failing_scanner_refuses_the_upload(settings: Any, scanner: str) -> None:
    settings.YIWANG_VIRUS_SCANNER = scanner
    rejection = refused("a.png", png_bytes())
    assert rejection.code == "scanner_unavailable"
    assert "稍后重试" in rejection.message


class FakeClamd:
    """A clamd that speaks INSTREAM on one connection and answers what ``verdict`` says (None: never answers)."""

    def __init__(self, listener: socket.socket, verdict: Callable[[bytes], bytes | None]) -> None:
        self.listener = listener
        self.verdict = verdict
        self.received = b""
        self.command = b""
        self.release = threading.Event()
        listener.listen(1)
        listener.settimeout(10)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _exactly(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            part = conn.recv(size - len(data))
            if not part:
                raise ConnectionError("client went away")
            data += part
        return data

    def _serve(self) -> None:
        conn, _address = self.listener.accept()
        with conn:
            conn.settimeout(10)
            while not self.command.endswith(b"\0"):
                self.command += self._exactly(conn, 1)
            while length := struct.unpack("!L", self._exactly(conn, 4))[0]:
                self.received += self._exactly(conn, length)
            answer = self.verdict(self.received)
            if answer is None:
                self.release.wait(10)
            else:
                conn.sendall(answer)

    def close(self) -> None:
        self.release.set()
        self.thread.join(10)
        self.listener.close()


def clamd_verdict(data: bytes) -> bytes:
    return b"stream: Win.Test.EICAR_HDB-1 FOUND\0" if uploads.EICAR in data else b"stream: OK\0"


@pytest.fixture
def tcp_clamd(settings: Any) -> Iterator[Callable[[Callable[[bytes], bytes | None]], FakeClamd]]:
    servers: list[FakeClamd] = []

    def start(verdict: Callable[[bytes], bytes | None]) -> FakeClamd:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        settings.CLAMD_ADDRESS = f"127.0.0.1:{listener.getsockname()[1]}"
        settings.YIWANG_VIRUS_SCANNER = "yiwang.core.uploads.clamd_scan"
        servers.append(FakeClamd(listener, verdict))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_clamd_over_tcp_receives_the_whole_file_and_passes_it(tcp_clamd: Any) -> None:
    server = tcp_clamd(clamd_verdict)
    data = png_bytes((300, 300))
    assert accepted("a.png", data).scan_status == ScanStatus.CLEAN
    server.thread.join(10)
    assert server.command == b"zINSTREAM\0"
    assert server.received == data


def test_clamd_over_tcp_finds_a_virus(tcp_clamd: Any) -> None:
    tcp_clamd(clamd_verdict)
    rejection = refused("a.png", png_bytes(text={"Comment": EICAR}))
    assert rejection.code == "virus_found"
    assert rejection.params["signature"] == "Win.Test.EICAR_HDB-1"


def test_clamd_over_a_unix_socket(settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "clamd.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    server = FakeClamd(listener, clamd_verdict)
    settings.CLAMD_ADDRESS = str(path)
    settings.YIWANG_VIRUS_SCANNER = "yiwang.core.uploads.clamd_scan"
    try:
        assert accepted("a.pdf", pdf_bytes()).scan_status == ScanStatus.CLEAN
    finally:
        server.close()


def test_a_clamd_error_refuses_the_upload(tcp_clamd: Any) -> None:
    tcp_clamd(lambda data: b"INSTREAM size limit exceeded. ERROR\0")
    assert refused("a.png", png_bytes()).code == "scanner_unavailable"


def test_a_clamd_that_does_not_answer_refuses_the_upload(tcp_clamd: Any, settings: Any) -> None:
    tcp_clamd(lambda data: None)
    settings.CLAMD_TIMEOUT = 0.2
    assert refused("a.png", png_bytes()).code == "scanner_unavailable"


def test_an_unreachable_clamd_refuses_the_upload(settings: Any) -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    settings.CLAMD_ADDRESS = f"127.0.0.1:{port}"
    settings.YIWANG_VIRUS_SCANNER = "yiwang.core.uploads.clamd_scan"
    assert refused("a.png", png_bytes()).code == "scanner_unavailable"


def test_production_refuses_the_demo_scanner(monkeypatch: pytest.MonkeyPatch) -> None:
    import yiwang.settings as project_settings

    monkeypatch.setattr(project_settings, "YIWANG_VIRUS_SCANNER", "yiwang.core.uploads.eicar_scan")
    assert any("EICAR" in problem for problem in project_settings.insecure_settings())
    monkeypatch.setattr(project_settings, "YIWANG_VIRUS_SCANNER", "yiwang.core.uploads.clamd_scan")
    assert not any("EICAR" in problem for problem in project_settings.insecure_settings())


# --- storage ---

STORED = re.compile(r"\A\d{4}/\d{2}/[0-9a-f]{32}\.(pdf|jpg|png|ofd|zip)\Z")


def materials_dir(settings: Any) -> Path:
    return Path(settings.STORAGES["materials"]["OPTIONS"]["location"])


def stored_files(settings: Any) -> list[Path]:
    return [path for path in materials_dir(settings).rglob("*") if path.is_file()]


def test_store_open_and_delete_round_trip(settings: Any) -> None:
    data = pdf_bytes()
    stream = io.BytesIO(data)
    checked = uploads.check_upload("../身份证.pdf".removeprefix("../"), stream)
    name = uploads.store(checked, stream)
    assert STORED.match(name)
    assert "身份证" not in name
    assert (materials_dir(settings) / name).read_bytes() == data
    with uploads.open_stored(name) as stored:
        assert stored.read() == data
    uploads.delete_stored(name)
    assert stored_files(settings) == []
    uploads.delete_stored(name)  # already gone: no error


def test_the_stored_name_takes_the_sniffed_extension() -> None:
    data = jpeg_bytes()
    stream = io.BytesIO(data)
    name = uploads.store(uploads.check_upload("photo.jpeg", stream), stream)
    assert name.endswith(".jpg")


@pytest.mark.parametrize(
    "swap",
    [
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # same length, other bytes
        lambda data: b"%PDF-1.4" + data[8:],
        lambda data: data[:-5],
    ],
)
def test_a_stream_changed_after_the_check_is_not_stored(settings: Any, swap: Callable[[bytes], bytes]) -> None:
    data = pdf_bytes()
    checked = uploads.check_upload("a.pdf", io.BytesIO(data))
    with pytest.raises(uploads.StorageIntegrityError):
        uploads.store(checked, io.BytesIO(swap(data)))
    assert stored_files(settings) == []


def test_bytes_past_the_checked_size_are_never_written(settings: Any) -> None:
    data = pdf_bytes()
    checked = uploads.check_upload("a.pdf", io.BytesIO(data))
    name = uploads.store(checked, io.BytesIO(data + b"<script>appended</script>"))
    assert (materials_dir(settings) / name).read_bytes() == data


@pytest.mark.parametrize("name", ["../secret.pdf", "/etc/passwd", "2026/01/x.pdf", "2026/01/" + "a" * 32 + ".exe", ""])
def test_only_names_made_by_store_can_be_opened_or_deleted(name: str) -> None:
    with pytest.raises(ValueError, match="not a stored material name"):
        uploads.open_stored(name)
    with pytest.raises(ValueError, match="not a stored material name"):
        uploads.delete_stored(name)


def test_the_default_storage_is_a_private_directory_under_var() -> None:
    import yiwang.settings as project_settings

    materials = project_settings.STORAGES["materials"]
    assert materials["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert materials["OPTIONS"]["location"] == str(project_settings.VAR_DIR / "materials")
    assert not materials["OPTIONS"]["location"].startswith(str(project_settings.STATIC_ROOT))


def materials_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh process with ``env`` and print STORAGES["materials"] as JSON."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("YIWANG_", "DATABASE_URL", "PYTHONPATH"))}
    return subprocess.run(
        [sys.executable, "-c", "import json, yiwang.settings as s; print(json.dumps(s.STORAGES['materials']))"],
        env={**clean, "YIWANG_VAR_DIR": str(tmp_path / "var"), **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def fake_s3_packages(tmp_path: Path) -> str:
    """Importable stand-ins for django-storages and boto3: the settings only look for them."""
    for package in ("storages", "boto3"):
        (tmp_path / "site" / package).mkdir(parents=True)
        (tmp_path / "site" / package / "__init__.py").write_text("")
    return str(tmp_path / "site")


def test_s3_storage_is_configured_from_the_environment(tmp_path: Path, fake_s3_packages: str) -> None:
    result = materials_settings(
        tmp_path,
        PYTHONPATH=fake_s3_packages,
        YIWANG_MATERIALS_STORAGE="s3",
        YIWANG_S3_BUCKET="zwfw-materials",
        YIWANG_S3_ENDPOINT_URL="https://oss.example.gov.cn",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "zwfw-materials",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            "endpoint_url": "https://oss.example.gov.cn",
        },
    }


def test_s3_storage_without_a_bucket_refuses_to_start(tmp_path: Path, fake_s3_packages: str) -> None:
    result = materials_settings(tmp_path, PYTHONPATH=fake_s3_packages, YIWANG_MATERIALS_STORAGE="s3")
    assert result.returncode != 0
    assert "ImproperlyConfigured: YIWANG_MATERIALS_STORAGE=s3 needs YIWANG_S3_BUCKET" in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("storages") is not None, reason="the s3 extra is installed here")
def test_s3_storage_without_the_extra_refuses_to_start(tmp_path: Path) -> None:
    result = materials_settings(tmp_path, YIWANG_MATERIALS_STORAGE="s3", YIWANG_S3_BUCKET="b")
    assert result.returncode != 0
    assert "pip install 'yiwang[s3]'" in result.stderr


def test_an_unknown_storage_kind_refuses_to_start(tmp_path: Path) -> None:
    result = materials_settings(tmp_path, YIWANG_MATERIALS_STORAGE="ftp")
    assert result.returncode != 0
    assert "YIWANG_MATERIALS_STORAGE must be 'filesystem' or 's3'" in result.stderr


# --- storage and transactions ---


class Boom(Exception):
    pass


def checked_pdf() -> tuple[uploads.CheckedUpload, io.BytesIO]:
    stream = io.BytesIO(pdf_bytes())
    return uploads.check_upload("a.pdf", stream), stream


def test_store_in_transaction_needs_a_transaction(settings: Any) -> None:
    checked, stream = checked_pdf()
    with pytest.raises(RuntimeError, match=r"transaction\.atomic"):
        uploads.store_in_transaction(checked, stream)
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_a_rolled_back_block_deletes_its_file(settings: Any) -> None:
    checked, stream = checked_pdf()
    with pytest.raises(Boom), transaction.atomic():
        name = uploads.store_in_transaction(checked, stream)
        assert uploads.materials_storage().exists(name)
        raise Boom
    assert not uploads.materials_storage().exists(name)
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_a_committed_block_keeps_its_file(django_capture_on_commit_callbacks: Any) -> None:
    checked, stream = checked_pdf()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        name = uploads.store_in_transaction(checked, stream)
    gc.collect()
    assert uploads.materials_storage().exists(name)


@pytest.fixture
def real_transactions(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Database access outside the per-test transaction, for real commits and rollbacks that write no rows."""
    with django_db_blocker.unblock():
        yield


def test_a_whole_transaction_rolled_back_deletes_its_file_and_a_commit_keeps_it(real_transactions: None) -> None:
    checked, stream = checked_pdf()
    with pytest.raises(Boom), transaction.atomic():
        lost = uploads.store_in_transaction(checked, stream)
        raise Boom
    assert not uploads.materials_storage().exists(lost)

    with transaction.atomic():
        kept = uploads.store_in_transaction(checked, stream)
    assert uploads.materials_storage().exists(kept)


def test_a_file_is_kept_when_django_skips_its_commit_hook(real_transactions: None, caplog: Any) -> None:
    # Django abandons the remaining on_commit hooks when an earlier one raises, after the commit.
    def earlier_hook() -> None:
        raise Boom

    checked, stream = checked_pdf()
    with caplog.at_level(logging.WARNING, logger="yiwang.core.uploads"):
        with pytest.raises(Boom) as caught, transaction.atomic():
            transaction.on_commit(earlier_hook)
            name = uploads.store_in_transaction(checked, stream)
        del caught
        gc.collect()
    assert "could not be confirmed" in caplog.text
    assert uploads.materials_storage().exists(name)
