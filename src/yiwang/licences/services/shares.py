"""亮证: the holder shows a licence to a verifier through a short-lived, single-use link (a dynamic QR code).

The holder picks the fields to show and how long the share lasts (5 minutes
by default). The link carries a random token; only its SHA-256 is stored. A
verifier who opens it, without logging in, sees the chosen fields and an
attestation signed by the issuing department's seal. A share is shown once
(``max_uses`` = 1): a second opening — a replay of the link, or a screenshot
passed on — and an opening after it expired are refused with a clear
message. Every opening, shown or refused, is recorded and appears in the
licence's history for the holder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from yiwang.core import calendar, crypto
from yiwang.core.audit import record_event
from yiwang.licences import policy
from yiwang.licences.constants import (
    SHARE_MAX_USES,
    SHARE_MINUTES_CHOICES,
    SHARE_MINUTES_DEFAULT,
    LicenceEventKind,
    LicenceStatus,
)
from yiwang.licences.models import Licence, LicenceShare, ShareVerification
from yiwang.licences.services import _sealing
from yiwang.licences.services.errors import LicenceError
from yiwang.licences.services.issuance import add_event

TOKEN_BYTES = 24
MAX_TOKEN_LENGTH = 64
# Fields every share may show besides the licence type's own: the holder's name, dates, the issuer.
BASIC_FIELDS: dict[str, str] = {
    "holder": "持证主体",
    "valid_until": "有效期至",
    "issued_on": "发证日期",
    "issuer": "发证机关",
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def shareable_fields(licence: Licence) -> list[tuple[str, str]]:
    """(key, label) of what a share may show: the basic fields, then the licence type's fields."""
    return [*BASIC_FIELDS.items(), *((f["key"], f["label"]) for f in licence.licence_type.fields)]


def create_share(
    licence: Licence,
    *,
    actor: Any,
    fields: list[str],
    minutes: int = SHARE_MINUTES_DEFAULT,
    purpose: str = "",
) -> tuple[LicenceShare, str]:
    """Create a share of the licence showing ``fields``; return it and its token (shown once, in the QR code)."""
    if not policy.can_share(actor, licence):
        raise LicenceError("not_found", _("电子证照不存在"))
    if licence.effective_status(calendar.today_local()) != LicenceStatus.VALID:
        raise LicenceError("licence_not_valid", _("该证照不是有效状态，不能亮证"))
    if minutes not in SHARE_MINUTES_CHOICES:
        raise LicenceError(
            "bad_minutes",
            _("亮证有效时间只能选择%(choices)s分钟")
            % {"choices": pgettext("enumeration separator", "、").join(str(m) for m in SHARE_MINUTES_CHOICES)},
        )
    known = dict(shareable_fields(licence))
    chosen = [key for key in dict.fromkeys(fields) if key in known]
    if not chosen:
        raise LicenceError("fields_required", _("请至少选择一项要展示的信息"), field="fields")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        share = LicenceShare.objects.create(
            licence=licence,
            token_hash=token_hash(token),
            fields=chosen,
            purpose=" ".join(purpose.split())[:100],
            created_by=actor,
            expires_at=timezone.now() + dt.timedelta(minutes=minutes),
            max_uses=SHARE_MAX_USES,
        )
        add_event(licence, LicenceEventKind.SHARED, actor=actor, share=share.pk, fields=chosen, minutes=minutes)
        record_event("licence.shared", actor=actor, target=f"licences.Licence:{licence.identifier}")
    return share, token


def withdraw_share(share: LicenceShare, *, actor: Any) -> None:
    """The holder withdraws a share before it is used or expires."""
    if not policy.can_share(actor, share.licence):
        raise LicenceError("not_found", _("亮证记录不存在"))
    LicenceShare.objects.filter(pk=share.pk, withdrawn_at__isnull=True).update(withdrawn_at=timezone.now())


@dataclass(frozen=True)
class SharedView:
    """What the verifier sees: the chosen fields, the licence's status and the signed attestation."""

    type_name: str
    identifier: str
    status: str
    status_label: str
    fields: list[tuple[str, str]]
    verified_at: dt.datetime
    attestation: dict[str, Any]
    attestation_digest: str
    attestation_signature: str
    signer_key_id: str


def _values(licence: Licence) -> dict[str, str]:
    values = {
        "holder": licence.holder_name,
        "valid_until": licence.valid_until.isoformat() if licence.valid_until else str(_("长期")),
        "issued_on": licence.issued_on.isoformat(),
        "issuer": licence.department.name,
    }
    values.update({str(k): str(v) for k, v in licence.data.items()})
    return values


def _refusal(share: LicenceShare, now: dt.datetime) -> LicenceError | None:
    if share.withdrawn_at is not None:
        return LicenceError("share_withdrawn", _("持证人已撤回本次亮证，请对方重新出示"))
    if share.expires_at <= now:
        return LicenceError("share_expired", _("该亮证二维码已过期，请持证人重新生成"))
    if share.uses >= share.max_uses:
        return LicenceError("share_used", _("该亮证二维码已被使用过，不能重复核验，请持证人重新生成"))
    return None


def open_share(token: str, *, client_address: str | None = None) -> SharedView:
    """A verifier opens a share: shown once within its time, refused (and recorded) otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LicenceError("not_found", _("亮证信息不存在"))
    now = timezone.now()
    client = crypto.blind_index(client_address, "licence-share-client") if client_address else ""
    with transaction.atomic():
        share = (
            LicenceShare.objects.select_for_update()
            .select_related("licence__licence_type", "licence__department")
            .filter(token_hash=token_hash(token))
            .first()
        )
        if share is None:
            raise LicenceError("not_found", _("亮证信息不存在"))
        licence = share.licence
        refusal = _refusal(share, now)
        outcome = refusal.code if refusal is not None else "shown"
        ShareVerification.objects.create(share=share, outcome=outcome, client_hash=client)
        if refusal is None:
            LicenceShare.objects.filter(pk=share.pk).update(uses=F("uses") + 1)
            add_event(licence, LicenceEventKind.VERIFIED, share=share.pk, fields=share.fields)
        else:
            add_event(licence, LicenceEventKind.REFUSED, share=share.pk, reason=refusal.code)
    if refusal is not None:
        raise refusal
    status = licence.effective_status(calendar.today_local())
    values = _values(licence)
    labels = dict(shareable_fields(licence))
    shown = [(labels[key], values.get(key, "")) for key in share.fields if key in labels]
    attestation = {
        "licence": licence.identifier,
        "type": licence.licence_type.name,
        "status": status,
        "fields": {key: values.get(key, "") for key in share.fields},
        "share": share.pk,
        "verified_at": now.isoformat(timespec="seconds"),
    }
    # The attestation is sealed at the moment it is shown: the verifier's page carries a fresh signature.
    sealed = _sealing.seal_claims(attestation, department_code=licence.department.code)
    return SharedView(
        type_name=licence.licence_type.name,
        identifier=licence.identifier,
        status=status,
        status_label=str(LicenceStatus(status).label),
        fields=shown,
        verified_at=now,
        attestation=attestation,
        attestation_digest=sealed.digest,
        attestation_signature=sealed.signature,
        signer_key_id=sealed.key_id,
    )
