"""The QR payload of a licence: a compact signed binary record, Base45 text, verifiable offline.

Specified byte by byte in docs/licences.md ("QR payload"); in short::

    text = "YW1:" + base45(body)            # RFC 9285 Base45, QR alphanumeric mode
    body = tbs || 0x7F 0x40 || r || s       # SM2 signature, raw 64 bytes
    tbs  = 0x01 || TLV ...                  # format version 1, then fields by ascending tag

Each TLV is one tag byte, one length byte and the value. The signature is
SM2 over SM3 with the default signer ID ``1234567812345678`` over ``tbs``.
:func:`verify_qr_payload` needs no database: only trust lists
(:class:`~yiwang.licences.services.seal_types.TrustList`).
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core import sm2
from yiwang.licences.services.canonical import utc_text
from yiwang.licences.services.seal_types import QrClaims, TrustList, Verification, VerificationCode
from yiwang.licences.services.verifying import key_problem, refuse

if TYPE_CHECKING:
    from yiwang.licences.models import Seal

PREFIX = "YW1:"
FORMAT_VERSION = 0x01
SIGNATURE_TAG = 0x7F
MAX_TEXT = 2000  # well above any payload we make; longer text is refused before decoding
MAX_FIELDS = 8
HOLDER_DIGEST_BYTES = 16
_BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF
_BASE45_TABLE = bytes(_BASE45.find(chr(b)) if chr(b) in _BASE45 else _INVALID for b in range(256))
_PLATFORM_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Tag:
    PLATFORM = 0x01
    LICENCE_ID = 0x02
    LICENCE_TYPE = 0x03
    HOLDER_NAME = 0x04
    HOLDER_DIGEST = 0x05
    ISSUED_ON = 0x06
    EXPIRES_ON = 0x07
    FIELD = 0x08
    SIGNED_AT = 0x09
    KEY_ID = 0x0A
    DOCUMENT_DIGEST = 0x0B


_REQUIRED = {
    Tag.PLATFORM, Tag.LICENCE_ID, Tag.LICENCE_TYPE, Tag.HOLDER_NAME, Tag.HOLDER_DIGEST,
    Tag.ISSUED_ON, Tag.SIGNED_AT, Tag.KEY_ID, Tag.DOCUMENT_DIGEST,
}  # fmt: skip
_FIXED_LENGTH = {
    Tag.HOLDER_DIGEST: HOLDER_DIGEST_BYTES, Tag.ISSUED_ON: 4, Tag.EXPIRES_ON: 4, Tag.SIGNED_AT: 4,
    Tag.KEY_ID: sm2.KEY_ID_BYTES, Tag.DOCUMENT_DIGEST: 32,
}  # fmt: skip


class PayloadError(ValueError):
    """Text that is not a well-formed version-1 payload (the message says what is wrong, in English)."""


# --- Base45 (RFC 9285) --------------------------------------------------------


def base45_encode(data: bytes) -> str:
    """RFC 9285 Base45."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(_BASE45[c] + _BASE45[d] + _BASE45[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out.append(_BASE45[c] + _BASE45[d])
    return "".join(out)


def base45_decode(text: str) -> bytes:
    """RFC 9285 Base45; PayloadError for characters outside the alphabet, bad lengths or overflow."""
    try:
        values = text.encode("ascii").translate(_BASE45_TABLE)
    except UnicodeEncodeError as exc:
        raise PayloadError("character outside the Base45 alphabet") from exc
    if _INVALID in values:
        raise PayloadError("character outside the Base45 alphabet")
    full, rest = divmod(len(values), 3)
    if rest == 1:
        raise PayloadError("Base45 text has a dangling character")
    # Whole triples at once (a verifier decodes thousands of payloads a second).
    end = full * 3
    numbers = [a + b * 45 + c * 2025 for a, b, c in zip(values[0:end:3], values[1:end:3], values[2:end:3], strict=True)]
    if numbers and max(numbers) > 0xFFFF:
        raise PayloadError("Base45 triple out of range")
    out = struct.pack(f">{full}H", *numbers)
    if rest == 2:
        last = values[end] + values[end + 1] * 45
        if last > 0xFF:
            raise PayloadError("Base45 pair out of range")
        out += bytes((last,))
    return out


# --- encoding -----------------------------------------------------------------


def holder_digest(document_number: str, licence_id: str) -> bytes:
    """The 16-byte holder digest: SM3("YW-HOLDER" 0x00 licence id 0x00 upper-cased number), truncated.

    Lets a verifier check an identity document shown beside the licence
    without the QR code carrying the number. It is not anonymous: an ID
    number has few enough possibilities to be found by trying them, so the
    digest only keeps the number from being read off the code at a glance.
    """
    number = "".join(document_number.split()).upper()
    return sm2.sm3(b"YW-HOLDER\x00" + licence_id.encode() + b"\x00" + number.encode())[:HOLDER_DIGEST_BYTES]


def _tlv(tag: int, value: bytes) -> bytes:
    if len(value) > 255:
        raise PayloadError(f"field 0x{tag:02x} is longer than 255 bytes")
    return bytes((tag, len(value))) + value


def _yyyymmdd(day: dt.date) -> bytes:
    return (day.year * 10000 + day.month * 100 + day.day).to_bytes(4, "big")


def _text_value(value: str, what: str, *, allow_empty: bool = False, limit: int = 64) -> bytes:
    encoded = value.encode("utf-8")
    if (not encoded and not allow_empty) or len(value) > limit:
        raise PayloadError(f"{what} must have 1 to {limit} characters")
    return encoded


def to_be_signed(claims: QrClaims) -> bytes:
    """The signed part (``tbs``) of the payload for ``claims`` (platform, key id and time must be set)."""
    if not _PLATFORM_RE.fullmatch(claims.platform_id):
        raise PayloadError("platform_id must be 1-64 letters, digits, '.', '_' or '-'")
    if claims.signed_at is None or len(claims.key_id) != 2 * sm2.KEY_ID_BYTES:
        raise PayloadError("key_id and signed_at are required")
    if len(claims.holder_id_digest) != HOLDER_DIGEST_BYTES or len(claims.document_digest) != 32:
        raise PayloadError("holder_id_digest is 16 bytes and document_digest 32")
    if len(claims.fields) > MAX_FIELDS:
        raise PayloadError(f"at most {MAX_FIELDS} fields")
    parts = [
        bytes((FORMAT_VERSION,)),
        _tlv(Tag.PLATFORM, claims.platform_id.encode("ascii")),
        _tlv(Tag.LICENCE_ID, _text_value(claims.licence_id, "licence_id")),
        _tlv(Tag.LICENCE_TYPE, _text_value(claims.licence_type, "licence_type")),
        _tlv(Tag.HOLDER_NAME, _text_value(claims.holder_name, "holder_name", allow_empty=True)),
        _tlv(Tag.HOLDER_DIGEST, claims.holder_id_digest),
        _tlv(Tag.ISSUED_ON, _yyyymmdd(claims.issued_on)),
    ]
    if claims.expires_on is not None:
        parts.append(_tlv(Tag.EXPIRES_ON, _yyyymmdd(claims.expires_on)))
    for name, value in claims.fields:
        name_bytes = _text_value(name, "a field name", limit=32)
        parts.append(_tlv(Tag.FIELD, bytes((len(name_bytes),)) + name_bytes + value.encode("utf-8")))
    seconds = int(claims.signed_at.timestamp())
    parts += [
        _tlv(Tag.SIGNED_AT, seconds.to_bytes(4, "big")),
        _tlv(Tag.KEY_ID, bytes.fromhex(claims.key_id)),
        _tlv(Tag.DOCUMENT_DIGEST, claims.document_digest),
    ]
    return b"".join(parts)


def encode_signed(claims: QrClaims, private_key: bytes) -> str:
    """The payload text for complete ``claims`` signed with ``private_key`` (no database: tests, tools)."""
    tbs = to_be_signed(claims)
    raw = sm2.signature_to_raw(sm2.sign(private_key, tbs))
    return PREFIX + base45_encode(tbs + bytes((SIGNATURE_TAG, len(raw))) + raw)


def encode_qr_payload(
    claims: QrClaims, *, department_code: str, at: dt.datetime | None = None, seal: Seal | None = None
) -> str:
    """Sign ``claims`` with the department's seal and return the QR text (``YW1:`` + Base45).

    Sets ``platform_id`` (this platform), ``key_id`` (the seal's current key)
    and ``signed_at``; the caller fills the rest from the licence. Raises
    ``SealError`` (``no_seal``) when the department cannot sign. ``seal``:
    the department's seal just looked up, as for ``seals.seal_document``.
    """
    from yiwang.licences.services import seals, trust

    moment = (at or timezone.now()).astimezone(dt.UTC).replace(microsecond=0)
    seal = seals.signing_seal(department_code, moment, seal)
    if seal is None or seal.current_key is None:
        raise seals.SealError("no_seal", _("该部门没有可用的电子印章，无法签章。"))
    key = seal.current_key
    complete = replace(claims, platform_id=trust.platform_id(), key_id=key.key_id, signed_at=moment)
    tbs = to_be_signed(complete)
    raw = sm2.signature_to_raw(seals.sign_with_key(key, tbs))
    return PREFIX + base45_encode(tbs + bytes((SIGNATURE_TAG, len(raw))) + raw)


# --- decoding and verifying ---------------------------------------------------


def _date(value: bytes) -> dt.date:
    n = int.from_bytes(value, "big")
    try:
        return dt.date(n // 10000, n // 100 % 100, n % 100)
    except ValueError as exc:
        raise PayloadError("a date is not a real YYYYMMDD date") from exc


def _utf8(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("a text field is not UTF-8") from exc


def payload_text(text: str) -> str:
    """The payload inside what a scanner returns: the text itself, or a verification URL's ``p`` parameter."""
    text = (text or "").strip()
    if "://" in text:
        values = urllib.parse.parse_qs(urllib.parse.urlsplit(text).query).get("p", [])
        text = values[0].strip() if values else ""
    return text


def _read_field(tag: int, value: bytes, values: dict[int, bytes], fields: list[tuple[str, str]]) -> None:
    if tag in _FIXED_LENGTH and len(value) != _FIXED_LENGTH[tag]:
        raise PayloadError(f"field 0x{tag:02x} has the wrong length")
    if tag != Tag.FIELD:
        values[tag] = value
        return
    if len(value) < 1 or value[0] + 1 > len(value):
        raise PayloadError("a key field's name overruns it")
    fields.append((_utf8(value[1 : 1 + value[0]]), _utf8(value[1 + value[0] :])))
    if len(fields) > MAX_FIELDS:
        raise PayloadError("too many key fields")


def _split_body(body: bytes) -> tuple[dict[int, bytes], list[tuple[str, str]], bytes, bytes]:
    """The fields by tag, the key fields in order, ``tbs`` and the raw signature of a decoded body."""
    if not body or body[0] != FORMAT_VERSION:
        raise PayloadError("unknown payload format version")
    values: dict[int, bytes] = {}
    fields: list[tuple[str, str]] = []
    position, last_tag = 1, 0
    while position + 2 <= len(body):
        tag, length = body[position], body[position + 1]
        value = body[position + 2 : position + 2 + length]
        if len(value) != length:
            break
        if tag == SIGNATURE_TAG:
            if length != sm2.RAW_SIGNATURE_BYTES or position + 2 + length != len(body):
                raise PayloadError("the signature must be the last field, 64 bytes")
            return values, fields, body[:position], value
        if tag < last_tag or (tag == last_tag and tag != Tag.FIELD) or tag > Tag.DOCUMENT_DIGEST:
            raise PayloadError(f"field 0x{tag:02x} out of order, repeated or unknown")
        _read_field(tag, value, values, fields)
        last_tag = tag
        position += 2 + length
    raise PayloadError("payload ends inside a field or without a signature")


def decode_qr_payload(text: str) -> tuple[QrClaims, bytes, bytes]:
    """``(claims, tbs, raw signature)`` of a payload; PayloadError when it is not well-formed."""
    text = payload_text(text)
    if len(text) > MAX_TEXT:
        raise PayloadError("payload too long")
    if not text.startswith(PREFIX):
        raise PayloadError("payload does not start with YW1:")
    values, fields, tbs, signature = _split_body(base45_decode(text[len(PREFIX) :]))
    missing = _REQUIRED - values.keys()
    if missing:
        raise PayloadError("required fields missing: " + ", ".join(f"0x{t:02x}" for t in sorted(missing)))
    platform = _utf8(values[Tag.PLATFORM])
    if not _PLATFORM_RE.fullmatch(platform):
        raise PayloadError("bad platform id")
    claims = QrClaims(
        licence_id=_utf8(values[Tag.LICENCE_ID]),
        licence_type=_utf8(values[Tag.LICENCE_TYPE]),
        holder_name=_utf8(values[Tag.HOLDER_NAME]),
        holder_id_digest=values[Tag.HOLDER_DIGEST],
        issued_on=_date(values[Tag.ISSUED_ON]),
        expires_on=_date(values[Tag.EXPIRES_ON]) if Tag.EXPIRES_ON in values else None,
        document_digest=values[Tag.DOCUMENT_DIGEST],
        fields=tuple(fields),
        platform_id=platform,
        key_id=values[Tag.KEY_ID].hex(),
        signed_at=dt.datetime.fromtimestamp(int.from_bytes(values[Tag.SIGNED_AT], "big"), tz=dt.UTC),
    )
    return claims, tbs, signature


def _lists_by_platform(trust_lists: TrustList | Iterable[TrustList] | Mapping[str, TrustList]) -> dict[str, TrustList]:
    if isinstance(trust_lists, TrustList):
        return {trust_lists.platform_id: trust_lists}
    if isinstance(trust_lists, Mapping):
        return dict(trust_lists)
    return {item.platform_id: item for item in trust_lists}


def verify_qr_payload(
    text: str,
    trust_lists: TrustList | Iterable[TrustList] | Mapping[str, TrustList],
    *,
    now: dt.datetime | None = None,
) -> Verification:
    """Verify a QR payload offline against trust lists (by the issuing platform's id); never raises.

    Refuses, each with its code and a Chinese message: text that is not a
    payload, a platform whose trust list is missing or out of date, a key
    the list does not hold (or that is not a seal's), a signature that does
    not match (any edited byte), a key revoked or outside its validity at
    the signing time, and a licence past its expiry date.
    """
    now = now or timezone.now()
    try:
        claims, tbs, raw_signature = decode_qr_payload(text)
    except PayloadError:
        return refuse(VerificationCode.MALFORMED, _("这不是可识别的电子证照二维码内容，或内容不完整。"))
    assert claims.signed_at is not None
    lists = _lists_by_platform(trust_lists)
    trust = lists.get(claims.platform_id)
    if trust is None:
        return refuse(
            VerificationCode.UNTRUSTED_PLATFORM,
            _("签发平台“%(platform)s”不在本平台的信任列表中，无法核验其签发的证照。")
            % {"platform": claims.platform_id},
            platform_id=claims.platform_id,
        )
    pid, pname = trust.platform_id, trust.platform_name
    if trust.next_update <= now:
        return refuse(
            VerificationCode.TRUST_LIST_EXPIRED,
            _("平台“%(name)s”的信任列表已于 %(when)s 过期，请更新信任列表后再核验。")
            % {"name": trust.platform_name, "when": utc_text(trust.next_update)},
            platform_id=pid,
            platform_name=pname,
        )
    key = trust.keys.get(claims.key_id)
    if key is None or key.owner_kind != "seal":
        return refuse(
            VerificationCode.UNKNOWN_KEY,
            _("签名密钥 %(key)s 不在平台“%(name)s”的信任列表中。")
            % {"key": claims.key_id, "name": trust.platform_name},
            key_id=claims.key_id,
            platform_id=pid,
            platform_name=pname,
        )
    try:
        signature = sm2.signature_from_raw(raw_signature)
    except sm2.SM2Error:
        signature = b""
    if not signature or not sm2.verify(key.public_key_der, tbs, signature):
        return refuse(
            VerificationCode.BAD_SIGNATURE,
            _("二维码内容与签名不符：内容已被篡改或系伪造。"),
            key_id=claims.key_id,
            platform_id=pid,
            platform_name=pname,
        )
    problem = key_problem(key, claims.signed_at, now)
    if problem is not None:
        return replace(problem, platform_id=pid, platform_name=pname)
    today = timezone.localtime(now).date() if timezone.is_aware(now) else now.date()
    if claims.expires_on is not None and claims.expires_on < today:
        return Verification(
            ok=False,
            code=VerificationCode.LICENCE_EXPIRED,
            message=_("签名有效，但证照已于 %(day)s 到期。") % {"day": claims.expires_on.isoformat()},
            key_id=key.key_id,
            signer=key.owner_name,
            signed_at=claims.signed_at,
            claims=claims,
            platform_id=pid,
            platform_name=pname,
        )
    return Verification(
        ok=True,
        code=VerificationCode.OK,
        message=_("核验通过：该证照由“%(signer)s”签发（%(platform)s），二维码内容未被修改。")
        % {"signer": key.owner_name, "platform": trust.platform_name},
        key_id=key.key_id,
        signer=key.owner_name,
        signed_at=claims.signed_at,
        claims=claims,
        platform_id=pid,
        platform_name=pname,
    )
