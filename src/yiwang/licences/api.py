"""Licences API under /api/v1/licences/: the wallet (我的证照), 亮证 shares and the public status check.

The same rules as the pages (``views_wallet``, ``views_shares``): the wallet
and shares are the holder side's (the person, or someone who acts for the
holding organisation), with session authentication and CSRF on writes; a
licence or share of someone else answers exactly like a missing one (404
``not_found``). Opening a share (the verifier) and the status check need no
login. Refusals are problem documents with the services' stable codes:
``share_used``, ``share_expired`` and ``share_withdrawn`` (410) for a replayed,
late or withdrawn share, ``bad_identifier`` (400) for a malformed identifier
or a wrong GB/T 36904 check character, ``licence_not_valid`` (409) for sharing
a licence that is not valid.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status
from pydantic import Field

from yiwang.core import calendar
from yiwang.core.api_access import SESSION
from yiwang.core.http import client_address
from yiwang.core.problems import problems

from . import selectors, services
from .constants import SHARE_MINUTES_DEFAULT, LicenceEventKind
from .models import Licence, LicenceEvent, LicenceShare
from .services import documents
from .services.shares import MAX_TOKEN_LENGTH

router = Router(tags=["电子证照 licences"], auth=SESSION)

FieldKey = Annotated[str, Field(max_length=64)]


class PageParams(Schema):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class LicenceSummaryOut(Schema):
    id: int
    identifier: str
    type_code: str
    type_name: str
    holder_kind: str
    holder_name: str
    holder_organisation_id: int | None
    issuer: str
    issued_on: dt.date
    valid_until: dt.date | None
    version: int
    status: str
    status_label: str
    expires_soon: bool


class WalletPage(Schema):
    items: list[LicenceSummaryOut]
    count: int


class LicenceFieldOut(Schema):
    key: str
    label: str
    type: str
    value: str


class LicenceEventOut(Schema):
    kind: str
    kind_label: str
    actor: str
    reason: str
    created_at: dt.datetime


class ShareableFieldOut(Schema):
    key: str
    label: str


class LicenceOut(LicenceSummaryOut):
    holder_code: str
    status_reason: str
    verification_code: str
    case_number: str
    fields: list[LicenceFieldOut]
    shareable_fields: list[ShareableFieldOut]
    sealed: bool
    signer_key_id: str
    digest_sm3: str
    qr_payload: str
    history: list[LicenceEventOut]


class ShareIn(Schema):
    fields: Annotated[list[FieldKey], Field(min_length=1, max_length=50)]
    minutes: Annotated[int, Field(ge=1, le=1440)] = SHARE_MINUTES_DEFAULT
    purpose: Annotated[str, Field(max_length=100)] = ""


class VerificationOut(Schema):
    outcome: str
    verified_at: dt.datetime


class ShareOut(Schema):
    id: int
    licence_id: int
    licence_identifier: str
    type_name: str
    fields: list[str]
    purpose: str
    created_at: dt.datetime
    expires_at: dt.datetime
    withdrawn_at: dt.datetime | None
    uses: int
    max_uses: int
    state: str
    verifications: list[VerificationOut]


class ShareCreatedOut(ShareOut):
    # Given once: only its SHA-256 is kept, so it cannot be read again.
    token: str
    url: str


class SharePage(Schema):
    items: list[ShareOut]
    count: int


class ShareParams(PageParams):
    licence_id: int | None = None


class OpenShareIn(Schema):
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]


class SharedFieldOut(Schema):
    label: str
    value: str


class SharedLicenceOut(Schema):
    identifier: str
    type_name: str
    status: str
    status_label: str
    fields: list[SharedFieldOut]
    verified_at: dt.datetime
    attestation: dict[str, Any]
    attestation_digest_sm3: str
    attestation_signature: str
    signer_key_id: str


class StatusParams(Schema):
    identifier: Annotated[str, Field(min_length=1, max_length=120)]
    code: Annotated[str, Field(min_length=1, max_length=16)]


class PublicStatusOut(Schema):
    identifier: str
    type_name: str
    holder_name: str
    issuer: str
    issued_on: dt.date
    valid_until: dt.date | None
    status: str
    status_label: str
    status_reason: str
    newer_identifier: str
    seal_intact: bool
    seal_message: str


def _summary(licence: Licence, today: dt.date) -> dict[str, Any]:
    entry = selectors.wallet_entry(licence, today)
    return {
        "id": licence.pk,
        "identifier": licence.identifier,
        "type_code": licence.licence_type.code,
        "type_name": licence.licence_type.name,
        "holder_kind": licence.holder_kind,
        "holder_name": licence.holder_name,
        "holder_organisation_id": licence.holder_organisation_id,
        "issuer": licence.department.name,
        "issued_on": licence.issued_on,
        "valid_until": licence.valid_until,
        "version": licence.version,
        "status": entry.status,
        "status_label": entry.status_label,
        "expires_soon": entry.expires_soon,
    }


def _refusal_label(code: str) -> str:
    # A refused opening records the refusal's code as its reason; people read the words (as on the page).
    labels = {
        "share_used": _("二维码已被使用过"),
        "share_expired": _("二维码已过期"),
        "share_withdrawn": _("亮证已撤回"),
    }
    return labels.get(code, code)


def _event_out(event: LicenceEvent) -> LicenceEventOut:
    reason = str(event.detail.get("reason", ""))
    if event.kind == LicenceEventKind.REFUSED:
        reason = _refusal_label(reason)
    return LicenceEventOut(
        kind=event.kind,
        kind_label=str(LicenceEventKind(event.kind).label),
        actor=event.actor_label,
        reason=reason,
        created_at=event.created_at,
    )


def _share_state(share: LicenceShare, now: dt.datetime) -> str:
    if share.withdrawn_at is not None:
        return "withdrawn"
    if share.uses >= share.max_uses:
        return "used"
    if share.expires_at <= now:
        return "expired"
    return "active"


def _share_out(share: LicenceShare) -> dict[str, Any]:
    return {
        "id": share.pk,
        "licence_id": share.licence_id,
        "licence_identifier": share.licence.identifier,
        "type_name": share.licence.licence_type.name,
        "fields": list(share.fields),
        "purpose": share.purpose,
        "created_at": share.created_at,
        "expires_at": share.expires_at,
        "withdrawn_at": share.withdrawn_at,
        "uses": share.uses,
        "max_uses": share.max_uses,
        "state": _share_state(share, timezone.now()),
        "verifications": [
            VerificationOut(outcome=v.outcome, verified_at=v.verified_at)
            for v in sorted(share.verifications.all(), key=lambda v: v.pk)
        ],
    }


@router.get("/wallet", response={200: WalletPage, **problems(401, 422)}, summary="我的证照（本人及所代表单位的证照）")
def licences_wallet(request: HttpRequest, page: Query[PageParams]) -> WalletPage:
    licences = selectors.wallet(request.user)
    today = calendar.today_local()
    rows = licences[page.offset : page.offset + page.limit]
    return WalletPage(items=[LicenceSummaryOut(**_summary(lic, today)) for lic in rows], count=licences.count())


@router.get(
    "/wallet/{licence_id}",
    response={200: LicenceOut, **problems(401, 404, 422)},
    summary="一张证照：照面信息、状态、签章与证照记录",
)
def licences_licence(request: HttpRequest, licence_id: int) -> LicenceOut:
    item = selectors.get_own_licence(request.user, licence_id)
    values = item.data
    return LicenceOut(
        **_summary(item, calendar.today_local()),
        holder_code=item.holder_code,
        status_reason=item.status_reason,
        verification_code=item.verification_code,
        case_number=item.case_number,
        fields=[
            LicenceFieldOut(
                key=f["key"], label=f["label"], type=f.get("type", "text"), value=str(values.get(f["key"], ""))
            )
            for f in item.licence_type.fields
        ],
        shareable_fields=[ShareableFieldOut(key=k, label=v) for k, v in services.shareable_fields(item)],
        sealed=bool(item.signature),
        signer_key_id=item.signer_key_id,
        digest_sm3=item.digest,
        qr_payload=item.qr_payload,
        history=[_event_out(e) for e in selectors.history(item)],
    )


@router.get(
    "/wallet/{licence_id}/pdf",
    response={200: None, **problems(401, 404, 422)},
    summary="下载签章版证照（PDF）",
    openapi_extra={
        "responses": {
            "200": {
                "description": "PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def licences_licence_pdf(request: HttpRequest, licence_id: int) -> HttpResponse:
    item = selectors.get_own_licence(request.user, licence_id)
    response = HttpResponse(documents.licence_pdf(item), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="licence-{item.pk}-v{item.version}.pdf"'
    return response


@router.post(
    "/wallet/{licence_id}/shares",
    response={201: ShareCreatedOut, **problems(400, 401, 404, 409, 422)},
    summary="亮证：生成限时、仅可核验一次的分享（令牌只返回这一次）",
)
def licences_create_share(request: HttpRequest, licence_id: int, data: ShareIn) -> Status[ShareCreatedOut]:
    item = selectors.get_own_licence(request.user, licence_id)
    share, token = services.create_share(
        item, actor=request.user, fields=data.fields, minutes=data.minutes, purpose=data.purpose
    )
    url = request.build_absolute_uri(reverse("wallet:share_open", args=[token]))
    return Status(201, ShareCreatedOut(**_share_out(share), token=token, url=url))


@router.get("/shares", response={200: SharePage, **problems(401, 422)}, summary="我的亮证记录及每次核验")
def licences_shares(request: HttpRequest, params: Query[ShareParams]) -> SharePage:
    shares = selectors.holder_shares(request.user, licence_id=params.licence_id)
    rows = shares[params.offset : params.offset + params.limit]
    return SharePage(items=[ShareOut(**_share_out(s)) for s in rows], count=shares.count())


@router.post(
    "/shares/{share_id}/withdraw",
    response={200: ShareOut, **problems(401, 404, 422)},
    summary="撤回亮证（撤回后对方无法再核验）",
)
def licences_withdraw_share(request: HttpRequest, share_id: int) -> ShareOut:
    share = selectors.get_own_share(request.user, share_id)
    services.withdraw_share(share, actor=request.user)
    return ShareOut(**_share_out(selectors.get_own_share(request.user, share_id)))


@router.post(
    "/shares/open",
    response={200: SharedLicenceOut, **problems(404, 410, 422)},
    auth=None,
    summary="核验方打开亮证（仅一次；重放、过期或已撤回均被拒绝）",
)
def licences_open_share(request: HttpRequest, data: OpenShareIn) -> SharedLicenceOut:
    # POST, with the token in the body: a prefetch cannot use up the single look, and no log keeps the token.
    view = services.open_share(data.token, client_address=client_address(request))
    return SharedLicenceOut(
        identifier=view.identifier,
        type_name=view.type_name,
        status=view.status,
        status_label=view.status_label,
        fields=[SharedFieldOut(label=label, value=value) for label, value in view.fields],
        verified_at=view.verified_at,
        attestation=view.attestation,
        attestation_digest_sm3=view.attestation_digest,
        attestation_signature=view.attestation_signature,
        signer_key_id=view.signer_key_id,
    )


@router.get(
    "/status",
    response={200: PublicStatusOut, **problems(400, 404, 422, 429)},
    auth=None,
    summary="证照状态查询（电子证照标识＋核验码；校验位按 GB/T 36904 核对；猜错过多的地址暂时拒绝）",
)
def licences_status(request: HttpRequest, params: Query[StatusParams]) -> PublicStatusOut:
    ip = client_address(request) or ""
    services.check_status_allowed(ip)
    result = selectors.public_status(params.identifier, params.code)
    if result is None:
        services.record_failed_status_check(ip)
        raise services.LicenceError("unknown_licence", _("未找到该证照，请核对电子证照标识和核验码"), status=404)
    return PublicStatusOut(**result.__dict__)
