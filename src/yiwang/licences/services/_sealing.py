"""The licences' thin adapter over the seals (``seal_document`` / ``verify_document``, the QR codec).

Issuance, documents and shares call only this module, so the way a licence
is sealed can follow the seals' API without touching them. What it adds:

* the signed content of a licence (or a share's attestation) is the
  canonical JSON of its claims (:func:`canonical_bytes`); ``seal_document``
  seals those bytes and the whole sealed structure (GB/T 38540's model, as
  canonical JSON) is stored as the licence's ``signature``;
* a department without a seal that can sign still issues: the claims are
  digested (SM3) but left unsigned, and the documents say so (the licence
  is never lost for want of a seal);
* the QR payload is the seals' ``YW1:`` payload built from the licence's
  claims; without a seal, the QR code carries the public status page's
  address instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yiwang.core import crypto, outbox
from yiwang.licences.services import qr, seals
from yiwang.licences.services.seal_types import QrClaims, Verification

if TYPE_CHECKING:
    from yiwang.licences.models import Seal

QR_FIELDS = 3
QR_FIELD_LENGTH = 40


@dataclass(frozen=True)
class SealResult:
    key_id: str
    digest: str
    signature: str  # the sealed structure (canonical JSON text), "" when unsigned


def canonical_bytes(claims: dict[str, Any]) -> bytes:
    """The signed form of a licence's claims: UTF-8 JSON, keys sorted, no spaces."""
    return json.dumps(claims, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sm3_hex(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


class _Lookup:
    """Marks a seal not looked up yet (None means: looked up, and the department has none that signs)."""


LOOK_UP = _Lookup()


def can_seal(department_code: str) -> bool:
    return seals.active_seal(department_code) is not None


def signing_seal(department_code: str) -> Seal | None:
    """The department's seal that can sign now, or None: look it up once and pass it to the calls below.

    In a group of outbox events handled in one transaction (a batch of
    licences), the seal is looked up once for the group: the same as a seal
    looked up at the start of one longer transaction. ``seal_document`` still
    checks, at the signing moment, that it is active, in validity and has a
    usable key.
    """
    memo = outbox.group_memo()
    if memo is None:
        return seals.active_seal(department_code)
    key = ("licences.signing_seal", department_code)
    if key not in memo:
        memo[key] = seals.active_seal(department_code)
    seal: Seal | None = memo[key]
    return seal


def _seal_of(department_code: str, seal: Seal | _Lookup | None) -> Seal | None:
    return signing_seal(department_code) if isinstance(seal, _Lookup) else seal


def seal_claims(
    claims: dict[str, Any], *, department_code: str, signer_user: Any = None, seal: Seal | _Lookup | None = LOOK_UP
) -> SealResult:
    """Seal the claims with the department's seal (co-signed by ``signer_user`` if given); unsigned without one.

    ``seal``: the department's :func:`signing_seal`, when the caller has it (None: it has none).
    """
    document = canonical_bytes(claims)
    seal = _seal_of(department_code, seal)
    if seal is None:
        return SealResult(key_id="", digest=sm3_hex(document), signature="")
    sealed = seals.seal_document(department_code=department_code, content=document, signer_user=signer_user, seal=seal)
    return SealResult(key_id=sealed.key_id, digest=sealed.digest.hex(), signature=sealed.structure.decode())


def verify_claims(claims: dict[str, Any], *, key_id: str, signature: str, digest: str) -> Verification | None:
    """Check the claims against their seal: the seals' verification, or None for an unsigned licence whose
    digest matches (a mismatch of an unsigned one is reported as altered)."""
    document = canonical_bytes(claims)
    if signature:
        return seals.verify_document(document, signature.encode())
    if sm3_hex(document) == digest:
        return None
    from yiwang.licences.services.seal_types import VerificationCode
    from yiwang.licences.services.verifying import refuse

    return refuse(VerificationCode.ALTERED, "证照内容与签发时的摘要不一致：证照已被修改。")


def qr_payload(
    *,
    department_code: str,
    licence_id: str,
    licence_type: str,
    holder_name: str,
    holder_document: str,
    issued_on: dt.date,
    expires_on: dt.date | None,
    digest_hex: str,
    fields: list[tuple[str, str]],
    seal: Seal | _Lookup | None = LOOK_UP,
) -> str:
    """The seals' signed QR payload for a licence ("" when the department cannot sign)."""
    seal = _seal_of(department_code, seal)
    if seal is None:
        return ""
    claims = QrClaims(
        licence_id=licence_id,
        licence_type=licence_type[:64],
        holder_name=crypto.mask_name(holder_name)[:64],
        holder_id_digest=qr.holder_digest(holder_document, licence_id),
        issued_on=issued_on,
        expires_on=expires_on,
        document_digest=bytes.fromhex(digest_hex),
        fields=tuple((name[:32], value[:QR_FIELD_LENGTH]) for name, value in fields[:QR_FIELDS] if value),
    )
    return qr.encode_qr_payload(claims, department_code=department_code, seal=seal)


def seal_image(department_code: str) -> bytes | None:
    """The department's visible seal image (PNG), or None when it has none."""
    return seals.seal_image_png(department_code)


def signer_seal_image(key_id: str) -> bytes | None:
    """The image (PNG) of the seal whose key signed a document, or None when it is unsigned or has none."""
    return seals.seal_image_of_key(key_id) if key_id else None
