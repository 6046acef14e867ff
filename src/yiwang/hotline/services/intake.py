"""Registering a work order from any door (phone, web, mobile, kiosk), with the classifier's suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from yiwang.core import calendar, crypto, numbering
from yiwang.hotline import policy
from yiwang.hotline.constants import DispatchMode, Source, WorkOrderKind
from yiwang.hotline.models import DispatchRule, WorkOrder, WorkOrderEvent
from yiwang.hotline.services._shared import actor_label, add_event, clean_phone, clean_point, next_number
from yiwang.hotline.services.actions import perform
from yiwang.hotline.services.attachments import check_attachments, store_attachments
from yiwang.hotline.services.errors import HotlineError, NotAllowed
from yiwang.hotline.services.rules import (
    AUTO_DISPATCH_CONFIDENCE,
    CONTENT_MAX,
    SYSTEM_ACTOR_LABEL,
    TITLE_MAX,
    clean_text,
)

if TYPE_CHECKING:
    from yiwang.directory.models import Department


@dataclass(frozen=True)
class CallerDetails:
    """Who called or wrote in; an account when they filed it themselves."""

    user: Any = None
    name: str = ""
    phone: str = ""
    anonymous: bool = False


@dataclass(frozen=True)
class Suggestion:
    category: str
    confidence: float
    department_code: str = ""
    department_name: str = ""


def department_for_category(category: str) -> Department | None:
    rule = DispatchRule.objects.select_related("department").filter(category=category).first()
    return rule.department if rule is not None else None


def suggest(title: str, content: str, *, top: int = 3) -> tuple[list[Suggestion], str]:
    """The classifier's best categories with their departments, and why there are none when there are none."""
    from yiwang.hotline import classifier

    try:
        model = classifier.current()
    except classifier.ModelMissing:
        return [], _("分类模型尚未训练（yiwang hotline train），请人工选择分类和部门")
    found = []
    rules = {r.category: r.department for r in DispatchRule.objects.select_related("department")}
    for guess in model.suggest(title, content, top=top):
        department = rules.get(guess.category)
        found.append(
            Suggestion(
                guess.category,
                round(float(guess.confidence), 4),
                department.code if department else "",
                department.name if department else "",
            )
        )
    return found, ""


def register(
    *,
    actor: Any,
    kind: str,
    source: str,
    title: str,
    content: str,
    caller: CallerDetails,
    category: str = "",
    location_text: str = "",
    longitude: Any = None,
    latitude: Any = None,
    auto_dispatch: bool = True,
    attachments: Sequence[UploadedFile] = (),
) -> WorkOrder:
    """Register a work order from any door; dispatch it at once when the classifier is confident.

    Operators register for callers (phone); people file their own on the
    web, the mobile site or a kiosk. Reports may be anonymous; everything
    else needs a way to call the person back. ``attachments`` (photos, PDF)
    are checked first and stored with the order in its transaction: one
    refused file refuses the submission, and nothing is kept.
    """
    if kind not in WorkOrderKind.values or kind in {WorkOrderKind.RECTIFICATION, WorkOrderKind.GRID}:
        raise HotlineError("bad_kind", _("请选择工单类型：咨询、求助、投诉、举报或建议"), field="kind")
    if source not in {Source.PHONE, Source.WEB, Source.MOBILE, Source.KIOSK}:
        raise HotlineError("bad_source", _("未知的受理渠道"), field="source")
    if source == Source.PHONE and not policy.can_register_for_others(actor):
        raise NotAllowed("operators_only", _("电话工单由12345话务员登记"))
    if source != Source.PHONE and caller.user is None:
        raise NotAllowed("login_required", _("请先登录再提交诉求，或拨打12345"))
    title = clean_text(title, field="title", label=_("标题"), max_length=TITLE_MAX)
    content = clean_text(content, field="content", label=_("诉求内容"), max_length=CONTENT_MAX)
    location_text = clean_text(location_text, field="location", label=_("地点"), max_length=200, required=False)
    longitude, latitude = clean_point(longitude, latitude)
    if caller.anonymous and kind != WorkOrderKind.REPORT:
        raise HotlineError("anonymous_not_allowed", _("只有举报可以匿名；其他诉求需要留下联系方式以便回访"))
    name = clean_text(caller.name, field="caller_name", label=_("来电人姓名"), max_length=64, required=False)
    phone = clean_phone(caller.phone)
    user = caller.user
    if user is not None and not name:
        name = actor_label(user)
    if not caller.anonymous and user is None and not phone:
        raise HotlineError("phone_required", _("请留下联系电话，以便答复和回访"), field="phone")
    files = check_attachments(attachments, actor=actor)
    with transaction.atomic():
        order = WorkOrder.objects.create(
            number=next_number(calendar.today_local()),
            verification_code=numbering.verification_code(),
            kind=kind,
            source=source,
            title=title,
            content=content,
            category=category,
            location_text=location_text,
            longitude=longitude,
            latitude=latitude,
            caller_user=user,
            caller_person_id=getattr(user, "person_id", None),
            caller_name=name,
            caller_phone_encrypted=crypto.encrypt(phone) if phone else "",
            caller_phone_index=crypto.blind_index(phone, "phone") if phone else "",
            caller_phone_masked=crypto.mask_mobile(phone) if phone else "",
            anonymous=caller.anonymous,
            registered_by=actor if source == Source.PHONE else None,
        )
        stored = store_attachments(order, files, actor=actor)
        detail: dict[str, Any] = {"source": source, **({"attachments": len(stored)} if stored else {})}
        add_event(order, "register", actor=actor, from_state="", to_state=order.state, detail=detail)
    suggestions, why_none = suggest(title, content)
    order.suggestions = [s.__dict__ for s in suggestions]
    WorkOrder.objects.filter(pk=order.pk).update(suggestions=order.suggestions)
    best = suggestions[0] if suggestions else None
    if (
        auto_dispatch
        and best is not None
        and best.department_code
        and best.confidence >= AUTO_DISPATCH_CONFIDENCE
        and not category
    ):
        order = perform(
            order,
            "dispatch",
            actor=None,
            department=best.department_code,
            category=best.category,
            mode=DispatchMode.AUTOMATIC,
        )
    elif why_none:
        WorkOrderEvent.objects.create(
            work_order=order, action="suggest", actor_label=_(SYSTEM_ACTOR_LABEL), reason=why_none, public=False
        )
    return order
