"""电子印章 and e-signatures: seals, their keys (creation, rotation, revocation), sealing and verifying documents.

The entry points other modules call:

- :func:`seal_document` signs content with a department's seal (and, when a
  staff member is named, co-signs with their personal key) and returns a
  :class:`SealedSignature` whose ``structure`` follows GB/T 38540's model;
- :func:`verify_document` checks content against such a structure;
- :func:`create_seal`, :func:`rotate_key`, :func:`revoke_key`,
  :func:`issue_staff_key` manage the keys; :func:`seal_image_png` returns a
  department's seal image.

Private keys live in the key store (``yiwang.core.keystore``), never in the
database. The structure's byte layout is specified in docs/licences.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiwang.core import sm2
from yiwang.core.audit import record_event
from yiwang.core.keystore import KeyStoreError, get_key_store
from yiwang.core.problems import ServiceError
from yiwang.directory import selectors as directory_selectors
from yiwang.licences.models import KeyPurpose, Seal, SealStatus, SigningKey
from yiwang.licences.services.canonical import canonical_json, parse_utc, utc_text
from yiwang.licences.services.seal_image import draw_seal
from yiwang.licences.services.seal_types import (
    QrClaims,
    SealedSignature,
    TrustedKey,
    TrustList,
    Verification,
    VerificationCode,
)
from yiwang.licences.services.verifying import key_problem, refuse

__all__ = [
    "QrClaims",
    "SealError",
    "SealedSignature",
    "TrustList",
    "TrustedKey",
    "Verification",
    "VerificationCode",
    "create_seal",
    "issue_staff_key",
    "revoke_key",
    "rotate_key",
    "seal_document",
    "seal_image_of_key",
    "seal_image_png",
    "sign_with_key",
    "trusted_key",
    "verify_document",
]

STRUCTURE_VERSION = 1
SIGNATURE_ALGORITHM = "SM2-with-SM3"
DEFAULT_SEAL_YEARS = 5
DEFAULT_STAFF_KEY_DAYS = 2 * 365
MAX_REASON = 200


class SealError(ServiceError):
    """A request the seals refuse."""

    statuses = {"no_seal": 409, "key_unusable": 409, "not_found": 404, "key_store": 503}


def _now(at: dt.datetime | None) -> dt.datetime:
    moment = at or timezone.now()
    if timezone.is_naive(moment):
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def _new_key(
    purpose: str,
    *,
    valid_from: dt.datetime,
    valid_to: dt.datetime,
    seal: Seal | None = None,
    user: Any = None,
) -> SigningKey:
    private = sm2.generate_private_key()
    public = sm2.public_key_der(private)
    key_id = sm2.key_id(public)
    try:
        get_key_store().put(key_id, private)
    except KeyStoreError as exc:
        raise SealError("key_store", gettext_lazy("密钥库不可用，无法保存签名密钥。")) from exc
    return SigningKey.objects.create(
        key_id=key_id,
        public_key_der=public,
        purpose=purpose,
        seal=seal,
        user=user,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def _department(department: Any) -> Any:
    if isinstance(department, str):
        found = directory_selectors.department_by_code(department)
        if found is None:
            raise SealError("not_found", gettext_lazy("没有这个部门。"))
        return found
    return department


@transaction.atomic
def create_seal(
    department: Any,
    *,
    name: str = "",
    bottom_text: str = "",
    valid_from: dt.datetime | None = None,
    valid_years: int = DEFAULT_SEAL_YEARS,
    actor: Any = None,
) -> Seal:
    """Create a department's seal: its image (drawn from the name), validity and first SM2 key.

    ``department`` is a Department or its code; ``name`` defaults to the
    department's name. The key's private half goes to the key store.
    """
    department = _department(department)
    start = _now(valid_from)
    if not 1 <= valid_years <= 20:
        raise SealError("invalid", gettext_lazy("印章有效期应为 1 至 20 年。"), field="valid_years")
    end = (
        start.replace(year=start.year + valid_years)
        if not (start.month == 2 and start.day == 29)
        else (start + dt.timedelta(days=365 * valid_years))
    )
    seal_name = (name or department.name).strip()[:128]
    image = draw_seal(seal_name, bottom_text.strip()[:16])
    sequence = Seal.objects.filter(department=department).count() + 1
    seal = Seal.objects.create(
        department=department,
        code=f"{department.code}-{sequence:02d}",
        name=seal_name,
        image_png=image,
        image_digest=sm2.sm3(image).hex(),
        valid_from=start,
        valid_to=end,
        status=SealStatus.ACTIVE,
    )
    seal.current_key = _new_key(KeyPurpose.SEAL, valid_from=start, valid_to=end, seal=seal)
    seal.save(update_fields=["current_key"])
    record_event(
        "licences.seal_created",
        actor=actor,
        target=f"licences.Seal:{seal.pk}",
        detail={"seal": seal.code, "key_id": seal.current_key.key_id},
    )
    return seal


@transaction.atomic
def rotate_key(seal: Seal, *, actor: Any = None, at: dt.datetime | None = None) -> SigningKey:
    """Give ``seal`` a fresh key; the old one stops signing now but still verifies what it signed before."""
    now = _now(at)
    seal = Seal.objects.select_for_update().get(pk=seal.pk)
    if seal.status != SealStatus.ACTIVE or seal.valid_to <= now:
        raise SealError("key_unusable", gettext_lazy("印章已停用或已过有效期，不能更换密钥。"))
    old = seal.current_key
    if old is not None and old.retired_at is None:
        old.retired_at = now
        old.save(update_fields=["retired_at"])
    seal.current_key = _new_key(KeyPurpose.SEAL, valid_from=now, valid_to=seal.valid_to, seal=seal)
    seal.save(update_fields=["current_key"])
    record_event(
        "licences.key_rotated",
        actor=actor,
        target=f"licences.Seal:{seal.pk}",
        detail={"seal": seal.code, "old_key_id": old.key_id if old else "", "key_id": seal.current_key.key_id},
    )
    return seal.current_key


@transaction.atomic
def revoke_key(key: SigningKey, reason: str, *, actor: Any = None, at: dt.datetime | None = None) -> SigningKey:
    """Revoke ``key`` (with a reason): every signature it made stops verifying; a seal needs a new key."""
    reason = (reason or "").strip()
    if not reason:
        raise SealError("invalid", gettext_lazy("请填写吊销原因。"), field="reason")
    if len(reason) > MAX_REASON:
        raise SealError("invalid", gettext_lazy("吊销原因不能超过 200 个字。"), field="reason")
    key = SigningKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise SealError("key_unusable", gettext_lazy("该密钥已被吊销。"))
    key.revoked_at = _now(at)
    key.revocation_reason = reason
    key.save(update_fields=["revoked_at", "revocation_reason"])
    Seal.objects.filter(current_key=key).update(current_key=None)
    record_event(
        "licences.key_revoked",
        actor=actor,
        target=f"licences.SigningKey:{key.pk}",
        detail={"key_id": key.key_id, "reason": reason},
    )
    return key


def _usable(key: SigningKey | None, now: dt.datetime) -> bool:
    return (
        key is not None and key.revoked_at is None and key.retired_at is None and key.valid_from <= now < key.valid_to
    )


@transaction.atomic
def issue_staff_key(
    user: Any, *, actor: Any = None, at: dt.datetime | None = None, valid_days: int = DEFAULT_STAFF_KEY_DAYS
) -> SigningKey:
    """The staff member's usable personal signing key, creating one (and retiring an old one) if needed."""
    now = _now(at)
    for key in SigningKey.objects.select_for_update().filter(purpose=KeyPurpose.STAFF, user=user):
        if _usable(key, now):
            return key
        if key.retired_at is None and key.revoked_at is None:
            key.retired_at = now
            key.save(update_fields=["retired_at"])
    key = _new_key(KeyPurpose.STAFF, valid_from=now, valid_to=now + dt.timedelta(days=valid_days), user=user)
    record_event(
        "licences.staff_key_issued",
        actor=actor,
        target=f"licences.SigningKey:{key.pk}",
        detail={"key_id": key.key_id, "user_id": user.pk},
    )
    return key


# The active seals of each department, with their current keys, as last read from the database; kept per process
# and reused only while a one-row-per-seal read of every column that can change (name, status, validity, current
# key, the key's validity, retirement and revocation) returns exactly what it returned when they were read. So a
# rotation, a revocation or an edit made by any process is seen by the very next lookup, while a lookup that finds
# nothing changed costs one small query instead of a join carrying the seal's image (~43 KB) and the ORM's
# compilation of it. The objects are shared: callers must not change them (every change goes through a service
# that reads the rows again under a lock).
_active_seals: dict[str, tuple[tuple[Any, ...], list[Seal]]] = {}
_MAX_CACHED_DEPARTMENTS = 256
_fingerprint_sql: str | None = None


def _seal_fingerprint_sql() -> str:
    global _fingerprint_sql
    if _fingerprint_sql is None:
        from django.db import connection

        quote = connection.ops.quote_name

        def column(model: Any, name: str) -> str:
            return quote(model._meta.get_field(name).column)

        department: Any = Seal._meta.get_field("department").related_model
        seal_columns = ("id", "code", "name", "image_digest", "valid_from", "valid_to", "status", "current_key")
        key_columns = ("key_id", "valid_from", "valid_to", "retired_at", "revoked_at")
        select = [f"s.{column(Seal, name)}" for name in seal_columns]
        select += [f"k.{column(SigningKey, name)}" for name in key_columns]
        _fingerprint_sql = (
            f"SELECT {', '.join(select)} FROM {quote(Seal._meta.db_table)} s "  # noqa: S608 - names only, values bound
            f"INNER JOIN {quote(department._meta.db_table)} d "
            f"ON d.{column(department, 'id')} = s.{column(Seal, 'department')} "
            f"LEFT OUTER JOIN {quote(SigningKey._meta.db_table)} k "
            f"ON k.{column(SigningKey, 'id')} = s.{column(Seal, 'current_key')} "
            f"WHERE d.{column(department, 'code')} = %s AND s.{column(Seal, 'status')} = %s "
            f"ORDER BY s.{column(Seal, 'id')}"
        )
    return _fingerprint_sql


def _seal_fingerprint(department_code: str) -> tuple[Any, ...]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_seal_fingerprint_sql(), [department_code, SealStatus.ACTIVE.value])
        return tuple(tuple(row) for row in cursor.fetchall())


def _active_seals_of(department_code: str) -> list[Seal]:
    """The department's active seals with their current keys, newest first (read again if anything changed)."""
    fingerprint = _seal_fingerprint(department_code)
    cached = _active_seals.get(department_code)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    found = list(
        Seal.objects.select_related("current_key", "department")
        .filter(department__code=department_code, status=SealStatus.ACTIVE)
        .order_by("-valid_from", "-pk")
    )
    # Kept only if nothing changed while they were read (else the next lookup reads them again).
    if _seal_fingerprint(department_code) == fingerprint:
        if len(_active_seals) >= _MAX_CACHED_DEPARTMENTS:
            _active_seals.clear()
        _active_seals[department_code] = (fingerprint, found)
    return found


def active_seal(department_code: str, at: dt.datetime | None = None) -> Seal | None:
    """The department's seal that can sign now (active, in validity, with a usable key), newest first.

    Always as the database has it at this moment (one small query; the seal objects themselves are reused while
    that query shows no change). The returned object is shared: do not modify it.
    """
    now = _now(at)
    for seal in _active_seals_of(department_code):
        if seal.valid_from <= now < seal.valid_to and _usable(seal.current_key, now):
            return seal
    return None


def _still_signs(seal: Seal, department_code: str, now: dt.datetime) -> bool:
    """Whether a seal looked up a moment ago (``active_seal``) is still the department's and can sign at ``now``."""
    return (
        seal.department.code == department_code
        and seal.status == SealStatus.ACTIVE
        and seal.valid_from <= now < seal.valid_to
        and _usable(seal.current_key, now)
    )


def signing_seal(department_code: str, now: dt.datetime, seal: Seal | None = None) -> Seal | None:
    """``seal`` when given and still able to sign at ``now``, else the department's active seal (one query)."""
    if seal is not None and _still_signs(seal, department_code, now):
        return seal
    return active_seal(department_code, now)


def seal_image_png(department_code: str) -> bytes | None:
    """The image of the department's signing seal (PNG), or None when it has none."""
    seal = active_seal(department_code)
    return bytes(seal.image_png) if seal is not None else None


# Key id -> the image of the seal that key belongs to. A seal's image is fixed when the seal is made and a key
# never moves to another seal, so an entry can never go stale; bounded only to keep memory in check.
_images_by_key: dict[str, bytes] = {}
_MAX_CACHED_IMAGES = 256


def seal_image_of_key(key_id: str) -> bytes | None:
    """The image (PNG) of the seal whose key ``key_id`` is, or None (no such key, or a staff key).

    What a sealed document shows is the seal that signed it, whatever has
    happened to the seal since (a revoked seal's licences are refused by the
    status check, not redrawn). Cached per process: a licence PDF needs no
    query for its seal image after the department's first.
    """
    if key_id in _images_by_key:
        return _images_by_key[key_id]
    found = Seal.objects.filter(keys__key_id=key_id).values_list("image_png", flat=True).first()
    if found is None:
        return None  # not remembered: a key is never looked up before it exists, but a miss costs little
    if len(_images_by_key) >= _MAX_CACHED_IMAGES:
        _images_by_key.clear()
    _images_by_key[key_id] = image = bytes(found)
    return image


def sign_with_key(key: SigningKey, message: bytes) -> bytes:
    """SM2-sign ``message`` with ``key``'s private half from the key store (DER signature)."""
    try:
        private = get_key_store().get(key.key_id)
    except KeyStoreError as exc:
        raise SealError("key_store", gettext_lazy("签名密钥不在密钥库中或已损坏，无法签名。")) from exc
    return sm2.sign(private, message)


def _display_name(user: Any) -> str:
    return str(getattr(user, "display_name", "") or user.get_username())


def seal_document(
    *,
    department_code: str,
    content: bytes,
    signer_user: Any = None,
    at: dt.datetime | None = None,
    seal: Seal | None = None,
) -> SealedSignature:
    """Seal ``content`` with the department's seal; co-sign with ``signer_user``'s personal key if given.

    The signed data is the canonical JSON of the ``toSign`` object (seal info,
    SM3 of the content, signing time, signer), as docs/licences.md
    specifies. Refuses (``SealError`` ``no_seal``) when the department has no
    seal that can sign now. ``seal`` is the department's seal when the caller
    has just looked it up (``active_seal``), to spare the query; it is used
    only if it can still sign now.
    """
    now = _now(at)
    seal = signing_seal(department_code, now, seal)
    if seal is None or seal.current_key is None:
        raise SealError("no_seal", gettext_lazy("该部门没有可用的电子印章，无法签章。"))
    key = seal.current_key
    staff_key = issue_staff_key(signer_user, at=now) if signer_user is not None else None
    digest = sm2.sm3(content)
    to_sign = {
        "version": STRUCTURE_VERSION,
        "eseal": {
            "esID": seal.code,
            "name": seal.name,
            "department": seal.department.code,
            "pictureType": "PNG",
            "pictureDigest": seal.image_digest,
            "validStart": utc_text(seal.valid_from),
            "validEnd": utc_text(seal.valid_to),
            "keyId": key.key_id,
        },
        "timeInfo": utc_text(now),
        "dataHash": digest.hex(),
        "propertyInfo": {
            "signer": _display_name(signer_user) if signer_user is not None else "",
            "staffKeyId": staff_key.key_id if staff_key is not None else "",
        },
        "signatureAlgorithm": SIGNATURE_ALGORITHM,
    }
    message = canonical_json(to_sign)
    signature = sign_with_key(key, message)
    staff_signature = sign_with_key(staff_key, message) if staff_key is not None else b""
    structure = canonical_json(
        {
            "toSign": to_sign,
            "signature": base64.b64encode(signature).decode("ascii"),
            "staffSignature": base64.b64encode(staff_signature).decode("ascii"),
        }
    )
    return SealedSignature(
        structure=structure,
        key_id=key.key_id,
        digest=digest,
        signature=signature,
        signed_at=now,
        seal_code=seal.code,
        seal_name=seal.name,
        seal_image_png=bytes(seal.image_png),
        department_code=seal.department.code,
        signer=to_sign["propertyInfo"]["signer"],  # type: ignore[index]
        staff_key_id=staff_key.key_id if staff_key is not None else "",
        staff_signature=staff_signature,
    )


def trusted_key(key: SigningKey) -> TrustedKey:
    """How a key of this platform appears in its trust list."""
    if key.purpose == KeyPurpose.SEAL and key.seal is not None:
        owner_id, owner_name, department = key.seal.code, key.seal.name, key.seal.department.code
    elif key.purpose == KeyPurpose.STAFF:
        # Staff keys are published without the person's name: the document they sign names the signer.
        owner_id, owner_name, department = f"staff-{key.user_id}", _("工作人员"), ""
    else:
        owner_id, owner_name, department = "platform", _("平台根密钥"), ""
    return TrustedKey(
        key_id=key.key_id,
        public_key_der=bytes(key.public_key_der),
        owner_kind=str(key.purpose),
        owner_id=owner_id,
        owner_name=owner_name,
        department_code=department,
        valid_from=key.valid_from,
        valid_to=key.valid_to,
        retired_at=key.retired_at,
        revoked_at=key.revoked_at,
        revocation_reason=key.revocation_reason,
    )


def _parse_structure(sealed: SealedSignature | bytes) -> tuple[dict[str, Any], bytes, bytes]:
    raw = sealed.structure if isinstance(sealed, SealedSignature) else sealed
    record = json.loads(bytes(raw).decode("utf-8"))
    to_sign = record["toSign"]
    if not isinstance(to_sign, dict) or to_sign.get("version") != STRUCTURE_VERSION:
        raise ValueError("unknown structure version")
    signature = base64.b64decode(record["signature"], validate=True)
    staff_signature = base64.b64decode(record.get("staffSignature") or "", validate=True)
    return to_sign, signature, staff_signature


def _check_signature(
    key: SigningKey | None, key_id: str, message: bytes, signature: bytes, signed_at: dt.datetime, now: dt.datetime
) -> Verification | None:
    if key is None:
        return refuse(
            VerificationCode.UNKNOWN_KEY,
            _("签名密钥 %(key)s 不是本平台签发的密钥。") % {"key": key_id},
            key_id=key_id,
        )
    if not sm2.verify(bytes(key.public_key_der), message, signature):
        return refuse(VerificationCode.BAD_SIGNATURE, _("签名值校验失败：签章结构被篡改或伪造。"), key_id=key_id)
    return key_problem(trusted_key(key), signed_at, now)


def verify_document(content: bytes, sealed: SealedSignature | bytes) -> Verification:
    """Check ``content`` against its sealed structure (or a SealedSignature) with this platform's keys.

    Never raises for bad input: a malformed structure, changed content, an
    unknown, expired, retired or revoked key and a wrong signature each give
    ``ok=False`` with their code and a Chinese message.
    """
    try:
        to_sign, signature, staff_signature = _parse_structure(sealed)
        eseal = to_sign["eseal"]
        key_id = str(eseal["keyId"])
        signed_at = parse_utc(to_sign["timeInfo"])
        data_hash = bytes.fromhex(str(to_sign["dataHash"]))
        staff_key_id = str(to_sign["propertyInfo"]["staffKeyId"])
        signer = str(to_sign["propertyInfo"]["signer"])
        message = canonical_json(to_sign)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError, RecursionError):
        return refuse(VerificationCode.MALFORMED, _("签章结构无法识别：不是本平台的签章数据，或已损坏。"))
    if data_hash != sm2.sm3(content):
        return refuse(
            VerificationCode.ALTERED, _("文件内容与签章时不一致：文件已被修改。"), key_id=key_id, signed_at=signed_at
        )
    now = _now(None)
    keys = {
        k.key_id: k
        for k in SigningKey.objects.select_related("seal__department").filter(key_id__in=[key_id, staff_key_id])
    }
    key = keys.get(key_id)
    if key is not None and (key.purpose != KeyPurpose.SEAL or key.seal is None or key.seal.code != eseal.get("esID")):
        return refuse(VerificationCode.BAD_SIGNATURE, _("签章中的印章信息与签名密钥不符。"), key_id=key_id)
    problem = _check_signature(key, key_id, message, signature, signed_at, now)
    if problem is not None:
        return problem
    if staff_key_id or staff_signature:
        staff_key = keys.get(staff_key_id)
        if staff_key is not None and staff_key.purpose != KeyPurpose.STAFF:
            staff_key = None
        problem = _check_signature(staff_key, staff_key_id, message, staff_signature, signed_at, now)
        if problem is not None:
            return problem
    assert key is not None and key.seal is not None
    return Verification(
        ok=True,
        code=VerificationCode.OK,
        message=_("签章有效：由“%(seal)s”于 %(when)s 签署，内容未被修改。")
        % {"seal": key.seal.name, "when": utc_text(signed_at)},
        key_id=key_id,
        signer=signer or key.seal.name,
        signed_at=signed_at,
    )
