"""Seals API under /api/v1/licences/: the signed trust list and licence verification, both public.

Verification never fails with an error status for a bad payload: the answer
says ``ok: false`` with a stable ``code`` and a Chinese ``message``; only a
request that is not one (an over-long payload, a missing field) is a 422
problem.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from yiwang.core.problems import problems
from yiwang.licences.services import qr, trust
from yiwang.licences.services.seal_types import Verification

router = Router(tags=["电子证照核验 licence verification"])

MAX_PAYLOAD = 4000


class TrustListOut(Schema):
    document: str  # the canonical JSON exactly as signed (UTF-8)
    signature: str  # Base64 of the DER SM2 signature over the document's UTF-8 bytes
    platform_id: str
    root_key_id: str


class ClaimsOut(Schema):
    licence_id: str
    licence_type: str
    holder_name: str
    holder_id_digest: str
    issued_on: dt.date
    expires_on: dt.date | None
    document_digest: str
    fields: list[tuple[str, str]]
    platform_id: str
    key_id: str
    signed_at: dt.datetime | None


class VerificationOut(Schema):
    ok: bool
    code: str
    message: str
    key_id: str
    signer: str
    signed_at: dt.datetime | None
    platform_id: str
    platform_name: str
    claims: ClaimsOut | None


class VerifyIn(Schema):
    payload: Annotated[str, Field(max_length=MAX_PAYLOAD)]


class VerifyQuery(Schema):
    p: Annotated[str, Field(max_length=MAX_PAYLOAD)]


def _out(result: Verification) -> VerificationOut:
    claims = None
    if result.claims is not None:
        c = result.claims
        claims = ClaimsOut(
            licence_id=c.licence_id,
            licence_type=c.licence_type,
            holder_name=c.holder_name,
            holder_id_digest=c.holder_id_digest.hex(),
            issued_on=c.issued_on,
            expires_on=c.expires_on,
            document_digest=c.document_digest.hex(),
            fields=list(c.fields),
            platform_id=c.platform_id,
            key_id=c.key_id,
            signed_at=c.signed_at,
        )
    return VerificationOut(
        ok=result.ok,
        code=str(result.code),
        message=result.message,
        key_id=result.key_id,
        signer=result.signer,
        signed_at=result.signed_at,
        platform_id=result.platform_id,
        platform_name=result.platform_name,
        claims=claims,
    )


@router.get("/trust-list", response={200: TrustListOut}, auth=None)
def licences_trust_list(request: HttpRequest) -> TrustListOut:
    """This platform's trust list (canonical JSON) and its detached SM2 signature by the platform root key."""
    document, signature = trust.build_trust_list()
    return TrustListOut(
        document=document.decode("utf-8"),
        signature=base64.b64encode(signature).decode("ascii"),
        platform_id=trust.platform_id(),
        root_key_id=trust.root_key().key_id,
    )


@router.get("/verify", response={200: VerificationOut, **problems(422)}, auth=None)
def licences_verify(request: HttpRequest, query: Query[VerifyQuery]) -> VerificationOut:
    """Verify a licence QR payload (``p``: the text, or a verification URL) against the trust lists held."""
    return _out(trust.verify_payload(qr.payload_text(query.p)))


@router.post("/verify", response={200: VerificationOut, **problems(422)}, auth=None)
def licences_verify_post(request: HttpRequest, body: VerifyIn) -> VerificationOut:
    """Verify a licence QR payload sent as JSON ``{"payload": "YW1:…"}``."""
    return _out(trust.verify_payload(qr.payload_text(body.payload)))
