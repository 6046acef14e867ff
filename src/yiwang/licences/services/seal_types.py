"""Published types of the seals: what ``seal_document`` returns, what verification answers, QR claims.

Plain frozen dataclasses with no database behind them, so a verifier (the QR
codec, the API, another platform) can build and read them offline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class VerificationCode(StrEnum):
    """Stable codes of a verification's outcome (programs branch on these; people read ``message``)."""

    OK = "ok"
    MALFORMED = "malformed"  # not a payload / structure we can read at all
    ALTERED = "altered"  # the content's digest does not match the signed one
    UNKNOWN_KEY = "unknown_key"  # no trusted key has that id
    KEY_EXPIRED = "key_expired"  # signed outside the key's validity (or after it stopped signing)
    KEY_REVOKED = "key_revoked"  # the key was revoked
    BAD_SIGNATURE = "bad_signature"  # the SM2 signature does not verify
    UNTRUSTED_PLATFORM = "untrusted_platform"  # issued by a platform whose trust list we have not imported
    TRUST_LIST_EXPIRED = "trust_list_expired"  # that platform's trust list is past its next update
    LICENCE_EXPIRED = "licence_expired"  # signature fine, but the licence's own validity has ended


@dataclass(frozen=True)
class SealedSignature:
    """A document's seal: the signed structure (GB/T 38540's model) and its parts, for storage and display.

    ``structure`` is the whole record as canonical JSON (docs/licences.md,
    "Sealed document structure"): seal info, signed data (SM3 of the
    content, time, signer) and the SM2 signature(s); keep it beside the
    document and pass it to ``verify_document``. The other fields repeat
    what it says for convenience.
    """

    structure: bytes
    key_id: str
    digest: bytes  # SM3 of the content (32 bytes)
    signature: bytes  # SM2 signature by the seal's key, DER
    signed_at: dt.datetime
    seal_code: str
    seal_name: str
    seal_image_png: bytes
    department_code: str
    signer: str = ""  # the staff member's display name when one co-signed
    staff_key_id: str = ""
    staff_signature: bytes = b""  # SM2 signature by the staff member's key over the same data, DER


@dataclass(frozen=True)
class QrClaims:
    """What a licence's QR code says (docs/licences.md, "QR payload"): fill it from a licence.

    ``holder_id_digest`` is :func:`yiwang.licences.services.qr.holder_digest`
    of the holder's document number (never the number itself);
    ``holder_name`` is shown as given, so pass it masked (``张*``).
    ``document_digest`` is the SM3 of the full sealed licence record
    (``SealedSignature.digest``), linking the QR to the document.
    ``fields`` are the few key fields to show, in order. ``platform_id``,
    ``key_id`` and ``signed_at`` are set by ``encode_qr_payload``.
    """

    licence_id: str
    licence_type: str
    holder_name: str
    holder_id_digest: bytes
    issued_on: dt.date
    expires_on: dt.date | None
    document_digest: bytes
    fields: tuple[tuple[str, str], ...] = ()
    platform_id: str = ""
    key_id: str = ""
    signed_at: dt.datetime | None = None


@dataclass(frozen=True)
class Verification:
    """The answer of every verification: ``ok``, a stable ``code``, a Chinese ``message``, and what was learnt."""

    ok: bool
    code: VerificationCode
    message: str
    key_id: str = ""
    signer: str = ""  # the key's owner as the trust list or the database names it
    signed_at: dt.datetime | None = None
    platform_id: str = ""
    platform_name: str = ""
    claims: QrClaims | None = None
    details: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class TrustedKey:
    """One public key as a trust list (or this platform's database) describes it."""

    key_id: str
    public_key_der: bytes
    owner_kind: str  # "seal", "staff" or "platform"
    owner_id: str
    owner_name: str
    department_code: str
    valid_from: dt.datetime
    valid_to: dt.datetime
    retired_at: dt.datetime | None = None  # stopped signing (rotation); still verifies earlier signatures
    revoked_at: dt.datetime | None = None
    revocation_reason: str = ""
    algorithm: str = "SM2"


@dataclass(frozen=True)
class TrustList:
    """A platform's published keys, already checked against its root key (``trust.parse_trust_list``)."""

    platform_id: str
    platform_name: str
    issued_at: dt.datetime
    next_update: dt.datetime
    root_key_id: str
    keys: dict[str, TrustedKey]
