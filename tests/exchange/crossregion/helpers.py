"""Building the messages of 跨省通办 as a peer would send them."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from tests.cases.builders import pdf_bytes

ID_NUMBER = "11010519491231002X"


def material(key: str, content: bytes | None = None, name: str = "material.pdf") -> dict[str, Any]:
    content = pdf_bytes(key) if content is None else content
    return {
        "key": key,
        "name": name,
        "content_type": "application/pdf",
        "sha256": hashlib.sha256(content).hexdigest(),
        "data": base64.b64encode(content).decode(),
    }


def form_for(item: dict[str, Any]) -> dict[str, str]:
    values = {"applicant_name": "孙三", "contact_mobile": "13800138000", "applicant_kind": "person"}
    return {f["key"]: values.get(f["key"], f"{f['label']}示例") for f in item["fields"] if f["required"]}


def application_body(item: dict[str, Any], number: str = "KS-20261207-000001", **overrides: Any) -> dict[str, Any]:
    body = {
        "number": number,
        "node_name": "乙省政务服务平台",
        "item_code": item["code"],
        "applicant": {
            "name": "孙三",
            "document_type": "resident_id",
            "document_number": ID_NUMBER,
            "assurance_level": 3,
        },
        "form_data": form_for(item),
        "materials": [material(m["key"]) for m in item["materials"] if m["required"]],
        "submitted_at": "2026-12-07T02:00:00+00:00",
    }
    body.update(overrides)
    return body
