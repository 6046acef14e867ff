"""Trust lists: this platform's signed list of public keys, and the lists of other platforms it trusts.

A trust list is a canonical-JSON document (docs/licences.md, "Trust list")
naming the platform, when it was issued and when the next one is due, its
root key, and every seal and staff key with validity, retirement and
revocation; a detached SM2 signature by the root key covers its exact
bytes. It is served at ``/licences/trust-list.json`` (signature in the
``Yiwang-Signature`` header and at ``/licences/trust-list.sig``) and by the
API.

Another platform is trusted only after an administrator pins its root key
(:func:`pin_platform`); its lists are then imported (:func:`import_trust_list`,
:func:`fetch_trust_list`) only when they verify under that key, are not
older than the one held, and are still current. ``parse_trust_list`` is
pure (no database) for offline verifiers.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiwang.core import sm2
from yiwang.core.audit import record_event
from yiwang.core.keystore import KeyStoreError, get_key_store
from yiwang.core.problems import ServiceError
from yiwang.licences.models import ForeignPlatform, KeyPurpose, PlatformKey, SigningKey
from yiwang.licences.services.canonical import canonical_json, parse_utc, utc_text
from yiwang.licences.services.qr import _PLATFORM_RE, PayloadError, decode_qr_payload, verify_qr_payload
from yiwang.licences.services.seal_types import TrustedKey, TrustList, Verification

FORMAT = "yiwang-trust-list/1"
SIGNATURE_HEADER = "Yiwang-Signature"
ROOT_KEY_YEARS = 10
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10
_CLOCK_SKEW = dt.timedelta(minutes=5)


class TrustListError(ServiceError):
    """A trust list (or a platform to trust) that is refused; ``code`` says why."""

    statuses = {"not_found": 404, "fetch_failed": 502}


def platform_id() -> str:
    """This platform's id in payloads and trust lists (``YIWANG_PLATFORM_ID``)."""
    return str(settings.YIWANG_PLATFORM_ID)


def platform_name() -> str:
    """This platform's name as its trust list gives it (``YIWANG_PLATFORM_NAME``)."""
    return str(settings.YIWANG_PLATFORM_NAME)


def trust_list_lifetime() -> dt.timedelta:
    return dt.timedelta(hours=int(settings.YIWANG_TRUST_LIST_HOURS))


# --- this platform's list ------------------------------------------------------


def _usable_root(now: dt.datetime, *, lock: bool) -> SigningKey | None:
    rows = PlatformKey.objects.select_related("key").filter(current=True)
    current = (rows.select_for_update() if lock else rows).first()
    if current is not None and current.key.revoked_at is None and current.key.valid_to > now:
        return current.key
    return None


def root_key(*, at: dt.datetime | None = None) -> SigningKey:
    """This platform's current trust-list root key, created (and its private half stored) on first use."""
    now = (at or timezone.now()).astimezone(dt.UTC).replace(microsecond=0)
    return _usable_root(now, lock=False) or _new_root_key(now)


@transaction.atomic
def _new_root_key(now: dt.datetime) -> SigningKey:
    existing = _usable_root(now, lock=True)  # another request may have made it meanwhile
    if existing is not None:
        return existing
    PlatformKey.objects.filter(current=True).update(current=False)
    private = sm2.generate_private_key()
    public = sm2.public_key_der(private)
    try:
        get_key_store().put(sm2.key_id(public), private)
    except KeyStoreError as exc:
        raise TrustListError("key_store", gettext_lazy("密钥库不可用，无法生成平台根密钥。"), status=503) from exc
    key = SigningKey.objects.create(
        key_id=sm2.key_id(public),
        public_key_der=public,
        purpose=KeyPurpose.PLATFORM,
        valid_from=now,
        valid_to=now.replace(year=now.year + ROOT_KEY_YEARS),
    )
    PlatformKey.objects.create(key=key, current=True)
    record_event("licences.root_key_created", target=f"licences.SigningKey:{key.pk}", detail={"key_id": key.key_id})
    return key


def _key_entry(key: TrustedKey) -> dict[str, Any]:
    return {
        "keyId": key.key_id,
        "algorithm": key.algorithm,
        "publicKey": base64.b64encode(key.public_key_der).decode("ascii"),
        "owner": {
            "kind": key.owner_kind,
            "id": key.owner_id,
            "name": key.owner_name,
            "department": key.department_code,
        },
        "validFrom": utc_text(key.valid_from),
        "validTo": utc_text(key.valid_to),
        "retiredAt": utc_text(key.retired_at) if key.retired_at else None,
        "revokedAt": utc_text(key.revoked_at) if key.revoked_at else None,
        "revocationReason": key.revocation_reason,
    }


def _own_keys(key_ids: list[str] | None = None) -> list[TrustedKey]:
    from yiwang.licences.services.seals import trusted_key

    keys = SigningKey.objects.select_related("seal__department").filter(purpose__in=[KeyPurpose.SEAL, KeyPurpose.STAFF])
    if key_ids is not None:
        keys = keys.filter(key_id__in=key_ids)
    return sorted((trusted_key(key) for key in keys), key=lambda k: k.key_id)


def _issue_time(now: dt.datetime) -> dt.datetime:
    # The same document for everyone within the hour, so the list and its signature fetched separately
    # match; any key change (creation, rotation, revocation) moves the time forward at once, so a newer
    # list always has a later issuedAt and an older one can be refused as a rollback.
    latest = now.replace(minute=0, second=0)
    for row in SigningKey.objects.values_list("created_at", "retired_at", "revoked_at"):
        for moment in row:
            if moment is not None and latest < moment <= now:
                latest = moment
    return latest.astimezone(dt.UTC).replace(microsecond=0)


def build_trust_list(*, at: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """This platform's trust list: ``(canonical JSON bytes, DER SM2 signature by the root key)``.

    ``issuedAt`` is the start of the current hour, or the last key change in
    it if later; ``nextUpdate`` follows by ``YIWANG_TRUST_LIST_HOURS``.
    """
    from yiwang.licences.services.seals import sign_with_key

    # The root key first: made here on first use, its creation is a key change this list must already
    # count; taken after the clock, a list built a moment later (another second) had another issue time
    # and the detached signature fetched then did not match (seen on a loaded machine).
    root = root_key(at=at)
    exact = (at or timezone.now()).astimezone(dt.UTC)
    now = exact.replace(microsecond=0)
    # The issue time is chosen against the exact clock: a key made at 10.4 s must count in a request at
    # 10.6 s, or the list changes a second later and a signature fetched then no longer matches it.
    issued = _issue_time(exact) if at is None else now
    document = canonical_json(
        {
            "format": FORMAT,
            "platform": {"id": platform_id(), "name": platform_name()},
            "issuedAt": utc_text(issued),
            "nextUpdate": utc_text(issued + trust_list_lifetime()),
            "rootKey": {
                "keyId": root.key_id,
                "algorithm": sm2.ALGORITHM,
                "publicKey": base64.b64encode(bytes(root.public_key_der)).decode("ascii"),
            },
            "keys": [_key_entry(key) for key in _own_keys()],
        }
    )
    return document, sign_with_key(root, document)


def own_trust_list(*, at: dt.datetime | None = None, key_ids: list[str] | None = None) -> TrustList:
    """This platform's keys as a TrustList, straight from the database (no signature needed).

    ``key_ids``: only those keys (a verifier that knows which key signed need not load every key ever made).
    """
    now = (at or timezone.now()).astimezone(dt.UTC)
    root_id = PlatformKey.objects.filter(current=True).values_list("key__key_id", flat=True).first()
    return TrustList(
        platform_id=platform_id(),
        platform_name=platform_name(),
        issued_at=now,
        next_update=now + trust_list_lifetime(),
        root_key_id=root_id or "",
        keys={key.key_id: key for key in _own_keys(key_ids)},
    )


# --- reading a list (pure) -----------------------------------------------------


def _refuse(code: str, message: Any) -> TrustListError:
    return TrustListError(code, message)


def _time_or_none(value: Any) -> dt.datetime | None:
    return None if value is None else parse_utc(value)


def _parse_key(entry: Any) -> TrustedKey:
    owner = entry["owner"]
    public = base64.b64decode(entry["publicKey"], validate=True)
    sm2.load_public_key(public)
    key_id = str(entry["keyId"])
    if sm2.key_id(public) != key_id or entry["algorithm"] != sm2.ALGORITHM:
        raise ValueError("key id does not match its public key, or the algorithm is not SM2")
    return TrustedKey(
        key_id=key_id,
        public_key_der=public,
        owner_kind=str(owner["kind"]),
        owner_id=str(owner["id"]),
        owner_name=str(owner["name"]),
        department_code=str(owner.get("department") or ""),
        valid_from=parse_utc(entry["validFrom"]),
        valid_to=parse_utc(entry["validTo"]),
        retired_at=_time_or_none(entry.get("retiredAt")),
        revoked_at=_time_or_none(entry.get("revokedAt")),
        revocation_reason=str(entry.get("revocationReason") or ""),
    )


def parse_trust_list(
    document: bytes,
    signature: bytes,
    root_public_key_der: bytes,
    *,
    expected_platform_id: str | None = None,
    now: dt.datetime | None = None,
    check_current: bool = True,
) -> TrustList:
    """Check a trust list against a pinned root key and return it; TrustListError (with a code) otherwise.

    Codes: ``too_large``, ``bad_signature`` (not signed by the pinned root
    key, or any byte changed), ``malformed``, ``wrong_platform``,
    ``root_mismatch``, ``not_yet_valid`` and ``expired`` (when
    ``check_current``).
    """
    if len(document) > MAX_DOCUMENT_BYTES:
        raise _refuse("too_large", gettext_lazy("信任列表过大。"))
    if not sm2.verify(root_public_key_der, document, signature):
        raise _refuse("bad_signature", gettext_lazy("信任列表的签名无效：不是由所固定的根密钥签发，或内容已被修改。"))
    try:
        data = json.loads(document.decode("utf-8"))
        if data["format"] != FORMAT:
            raise ValueError("unknown format")
        platform = data["platform"]
        pid, name = str(platform["id"]), str(platform["name"])
        if not _PLATFORM_RE.fullmatch(pid):
            raise ValueError("bad platform id")
        issued_at, next_update = parse_utc(data["issuedAt"]), parse_utc(data["nextUpdate"])
        root_id = str(data["rootKey"]["keyId"])
        keys = [_parse_key(entry) for entry in data["keys"]]
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, sm2.SM2Error, RecursionError) as exc:
        raise _refuse("malformed", gettext_lazy("信任列表格式错误，无法读取。")) from exc
    if expected_platform_id is not None and pid != expected_platform_id:
        raise _refuse("wrong_platform", _("信任列表属于平台“%(pid)s”，不是所固定的平台。") % {"pid": pid})
    if root_id != sm2.key_id(root_public_key_der):
        raise _refuse("root_mismatch", gettext_lazy("信任列表所列根密钥与所固定的根密钥不一致。"))
    now = now or timezone.now()
    if check_current and issued_at > now + _CLOCK_SKEW:
        raise _refuse("not_yet_valid", gettext_lazy("信任列表的签发时间晚于当前时间，不予采用。"))
    if check_current and next_update <= now:
        raise _refuse(
            "expired", _("信任列表已于 %(when)s 过期，请取得该平台的最新信任列表。") % {"when": utc_text(next_update)}
        )
    return TrustList(
        platform_id=pid,
        platform_name=name,
        issued_at=issued_at,
        next_update=next_update,
        root_key_id=root_id,
        keys={key.key_id: key for key in keys},
    )


def decode_root_key(text: str | bytes) -> bytes:
    """A root public key given as DER bytes, base64 of DER, or PEM; TrustListError if it is not SM2."""
    raw = text.encode() if isinstance(text, str) else bytes(text)
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            body = b"".join(line for line in raw.strip().splitlines() if not line.startswith(b"-----"))
            raw = base64.b64decode(body, validate=True)
        elif not raw.startswith(b"\x30"):
            raw = base64.b64decode(b"".join(raw.split()), validate=True)
        return sm2.load_public_key(raw)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("bad_root_key", gettext_lazy("根公钥格式错误：应为SM2公钥（DER、Base64或PEM）。")) from exc


# --- other platforms ------------------------------------------------------------


@transaction.atomic
def pin_platform(
    platform_id_: str, name: str, root_public_key: str | bytes, *, url: str = "", actor: Any = None
) -> ForeignPlatform:
    """Trust another platform: record its id, name and root public key (checked out of band by an administrator)."""
    platform_id_ = (platform_id_ or "").strip()
    if not _PLATFORM_RE.fullmatch(platform_id_):
        raise _refuse("invalid", gettext_lazy("平台标识只能由字母、数字、点、下划线和连字符组成（至多64个）。"))
    if platform_id_ == platform_id():
        raise _refuse("invalid", gettext_lazy("不能把本平台作为互认平台。"))
    root = decode_root_key(root_public_key)
    platform, _created = ForeignPlatform.objects.update_or_create(
        platform_id=platform_id_,
        defaults={
            "name": (name or platform_id_).strip()[:128],
            "root_public_key_der": root,
            "root_key_id": sm2.key_id(root),
            "trust_list_url": url.strip(),
            "trusted": True,
        },
    )
    record_event(
        "licences.platform_pinned",
        actor=actor,
        target=f"licences.ForeignPlatform:{platform.pk}",
        detail={"platform": platform_id_, "root_key_id": platform.root_key_id},
    )
    _forget_cache()
    return platform


@transaction.atomic
def distrust_platform(platform: ForeignPlatform, *, actor: Any = None) -> ForeignPlatform:
    """Stop trusting a platform: its licences are refused from now on (its list is kept for the record)."""
    platform.trusted = False
    platform.save(update_fields=["trusted"])
    record_event("licences.platform_distrusted", actor=actor, target=f"licences.ForeignPlatform:{platform.pk}")
    _forget_cache()
    return platform


def _platform(platform: ForeignPlatform | str) -> ForeignPlatform:
    if isinstance(platform, ForeignPlatform):
        return platform
    found = ForeignPlatform.objects.filter(platform_id=platform).first()
    if found is None:
        raise _refuse("not_found", gettext_lazy("没有固定这个平台的根密钥：请先由管理员添加互认平台。"))
    return found


@transaction.atomic
def import_trust_list(
    platform: ForeignPlatform | str, document: bytes, signature: bytes, *, actor: Any = None
) -> ForeignPlatform:
    """Store a platform's trust list after checking it against the pinned root key; refuses rollbacks."""
    platform = _platform(platform)
    platform = ForeignPlatform.objects.select_for_update().get(pk=platform.pk)
    parsed = parse_trust_list(
        document, signature, bytes(platform.root_public_key_der), expected_platform_id=platform.platform_id
    )
    if platform.trust_list_issued_at is not None and parsed.issued_at < platform.trust_list_issued_at:
        raise _refuse("rollback", gettext_lazy("该信任列表早于已导入的版本，不予导入。"))
    platform.trust_list_json = document
    platform.trust_list_signature = signature
    platform.trust_list_issued_at = parsed.issued_at
    platform.trust_list_next_update = parsed.next_update
    platform.imported_at = timezone.now()
    if not platform.name or platform.name == platform.platform_id:
        platform.name = parsed.platform_name[:128]
    platform.save()
    record_event(
        "licences.trust_list_imported",
        actor=actor,
        target=f"licences.ForeignPlatform:{platform.pk}",
        detail={"platform": platform.platform_id, "issued_at": utc_text(parsed.issued_at), "keys": len(parsed.keys)},
    )
    _forget_cache()
    return platform


def decode_signature(text: str | bytes) -> bytes:
    """A detached signature given as base64 text (or DER bytes)."""
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if raw.startswith(b"\x30"):
        return raw
    try:
        return base64.b64decode(b"".join(raw.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("bad_signature", gettext_lazy("信任列表签名的编码错误（应为Base64）。")) from exc


def _get(url: str) -> tuple[bytes, str]:
    if not url.startswith(("https://", "http://")):
        raise _refuse("fetch_failed", gettext_lazy("信任列表地址必须是 http(s) 地址。"))
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read(MAX_DOCUMENT_BYTES + 1)
            return body, str(response.headers.get(SIGNATURE_HEADER) or "")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _refuse("fetch_failed", _("无法取得信任列表：%(error)s") % {"error": exc}) from exc


def fetch_trust_list(platform: ForeignPlatform | str, *, actor: Any = None) -> ForeignPlatform:
    """Download a pinned platform's trust list from its URL and import it (same checks as an import)."""
    platform = _platform(platform)
    if not platform.trust_list_url:
        raise _refuse("fetch_failed", gettext_lazy("该平台没有登记信任列表地址。"))
    document, signature_text = _get(platform.trust_list_url)
    if not signature_text and platform.trust_list_url.endswith(".json"):
        signature_text = _get(platform.trust_list_url[: -len(".json")] + ".sig")[0].decode("ascii", "replace")
    if not signature_text:
        raise _refuse("bad_signature", gettext_lazy("信任列表没有附带签名。"))
    return import_trust_list(platform, document, decode_signature(signature_text), actor=actor)


# --- verifying with every list held -------------------------------------------------

_cache: dict[tuple[str, str], TrustList] = {}
_cache_lock = threading.Lock()


def _forget_cache() -> None:
    with _cache_lock:
        _cache.clear()


def foreign_trust_lists() -> list[TrustList]:
    """The imported lists of the platforms still trusted (parsed once per import, kept in memory)."""
    lists = []
    for platform in ForeignPlatform.objects.filter(trusted=True, trust_list_json__isnull=False):
        marker = (platform.platform_id, utc_text(platform.trust_list_issued_at or timezone.now()))
        with _cache_lock:
            parsed = _cache.get(marker)
        if parsed is None:
            try:
                parsed = parse_trust_list(
                    bytes(platform.trust_list_json or b""),
                    bytes(platform.trust_list_signature or b""),
                    bytes(platform.root_public_key_der),
                    expected_platform_id=platform.platform_id,
                    check_current=False,  # an out-of-date list is reported at verification
                )
            except TrustListError:
                continue  # the stored copy no longer verifies (the root key was re-pinned): not trusted
            with _cache_lock:
                _cache[marker] = parsed
        lists.append(parsed)
    return lists


def verify_payload(text: str, *, now: dt.datetime | None = None) -> Verification:
    """Verify a QR payload against this platform's keys and every trusted platform's imported list."""
    try:
        claims, _tbs, _signature = decode_qr_payload(text)
        signer = [claims.key_id]
    except PayloadError:
        signer = []  # verify_qr_payload refuses it as malformed
    # Only the key the payload names is read: the answer is the same, and it does not grow with every key made.
    return verify_qr_payload(text, [own_trust_list(key_ids=signer), *foreign_trust_lists()], now=now)
