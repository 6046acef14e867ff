"""Every change to 12345 work orders: intake, dispatch, handling, reply, callback, supervision.

The transition table in :mod:`yiwang.hotline.workflow` decides which action
is legal from which state and for whom; :func:`perform` is the one door
that changes an order's state, so an illegal move is refused the same way
from the operator desk, the department desk, the API and background jobs.
Each action writes a timeline event, an audit record and an outbox event
(notifications) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from yiwang.accounts import selectors as accounts_selectors
from yiwang.core import calendar, crypto, numbering, outbox, uploads
from yiwang.core.audit import record_event
from yiwang.core.problems import ServiceError
from yiwang.directory import selectors as directory_selectors
from yiwang.hotline import geometry, policy
from yiwang.hotline.constants import (
    AssignmentRole,
    AssignmentState,
    DispatchMode,
    ExtensionStatus,
    Satisfaction,
    Source,
    WorkOrderKind,
    WorkOrderState,
)
from yiwang.hotline.models import (
    Assignment,
    Attachment,
    DispatchCorrection,
    DispatchRule,
    GridCell,
    TimeLimit,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderSequence,
)
from yiwang.hotline.workflow import Actor, Transition, transition

if TYPE_CHECKING:
    from yiwang.directory.models import Department

SYSTEM_ACTOR_LABEL = gettext_noop("系统")
TITLE_MAX = 200
CONTENT_MAX = 5000
REASON_MAX = 2000
# An order reopened this often after unsatisfied callbacks goes to a supervisor instead.
MAX_REOPENS = 2
# Suggestions at least this confident dispatch without an operator. The calibrated confidence is right
# about 97 % of the time above 0.9 on held-out messages, but a message off every topic can still score
# high, so an operator sees everything below this line.
AUTO_DISPATCH_CONFIDENCE = 0.9
MAX_EXTENSION_DAYS = 30
# Photos of the problem and documents (a notice, a receipt) with a work order, a grid report or a reply: checked by
# the case app's upload rules (type by content, PDFs without scripts, sound images, virus scan) and kept in the
# same private "materials" storage. A phone photo is a few MB; five of them tell the story.
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = frozenset({uploads.JPEG, uploads.PNG, uploads.PDF})
PHOTO_TYPES = frozenset({uploads.JPEG, uploads.PNG})
# The actions that take attachments besides filing: the department's reply (a photo of the repaired street).
ATTACHMENT_ACTIONS = frozenset({"reply"})


@dataclass(frozen=True)
class Limits:
    acknowledge_days: int
    handle_days: int
    callback_days: int
    callback_required: bool


# Defaults when no TimeLimit row is configured (the admin's table overrides them): consultations and
# requests for help the next working day; complaints, reports and suggestions within 13 working days;
# rectification of a bad rating within 10 (the 好差评 rule); acknowledgement within 1 working day.
DEFAULT_LIMITS: dict[str, Limits] = {
    WorkOrderKind.CONSULT: Limits(1, 1, 2, False),
    WorkOrderKind.HELP: Limits(1, 1, 2, True),
    WorkOrderKind.COMPLAINT: Limits(1, 13, 2, True),
    WorkOrderKind.REPORT: Limits(1, 13, 2, True),
    WorkOrderKind.SUGGESTION: Limits(1, 13, 2, True),
    WorkOrderKind.RECTIFICATION: Limits(1, 10, 0, True),
    WorkOrderKind.GRID: Limits(1, 5, 2, True),
}


class HotlineError(ServiceError):
    """A request the hotline refuses; ``code`` is stable, ``message`` is for people."""


class ActionRefused(HotlineError):
    status = 409


class NotAllowed(HotlineError):
    status = 403


class WorkOrderNotFound(HotlineError):
    status = 404


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


def limits_for(kind: str) -> Limits:
    row = TimeLimit.objects.filter(kind=kind).first()
    if row is not None:
        return Limits(row.acknowledge_days, row.handle_days, row.callback_days, row.callback_required)
    if kind == WorkOrderKind.RECTIFICATION:
        days = int(getattr(settings, "FEEDBACK_RECTIFICATION_DAYS", 10))
        return Limits(1, days, 0, True)
    return DEFAULT_LIMITS[kind]


# --- text checks -----------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"\A(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{7,8})\Z")


def clean_text(value: Any, *, field: str, label: str, max_length: int, required: bool = True) -> str:
    """Normalised text without control characters; refused when empty (if required) or too long."""
    text = unicodedata.normalize("NFC", str(value or ""))
    text = _CONTROL.sub("", text).strip()
    if required and not text:
        raise HotlineError("field_required", _("请填写%(label)s") % {"label": label}, field=field)
    if len(text) > max_length:
        raise HotlineError(
            "field_too_long",
            _("%(label)s不能超过%(max)s个字") % {"label": label, "max": max_length},
            field=field,
        )
    return text


def _clean_phone(phone: str) -> str:
    digits = re.sub(r"[\s()（）]", "", phone or "")
    if digits and not _PHONE.match(digits):
        raise HotlineError("bad_phone", _("联系电话格式不正确"), field="phone")
    return digits


def _clean_point(longitude: Any, latitude: Any) -> tuple[Decimal | None, Decimal | None]:
    if longitude in (None, "") and latitude in (None, ""):
        return None, None
    try:
        lon, lat = Decimal(str(longitude)), Decimal(str(latitude))
    except (InvalidOperation, ValueError) as error:
        raise HotlineError("bad_location", _("位置坐标不正确")) from error
    if not lon.is_finite() or not lat.is_finite() or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise HotlineError("bad_location", _("位置坐标不正确"))
    return lon.quantize(Decimal("0.000001")), lat.quantize(Decimal("0.000001"))


# --- attachments -------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedAttachment:
    """An uploaded file that passed every check, waiting to be stored with its order."""

    checked: uploads.CheckedUpload
    stream: UploadedFile


def _shown_name(name: str, position: int) -> str:
    """The file's name for a message, or its position when the name itself is what is wrong."""
    try:
        return uploads.safe_display_name(name)
    except uploads.UploadRejected:
        return _("第%(n)s个附件") % {"n": position}


def check_attachments(files: Sequence[UploadedFile], *, actor: Any) -> list[CheckedAttachment]:
    """Check the files of one submission before anything is written; the first refusal refuses them all.

    At most ``MAX_ATTACHMENTS`` files of ``ATTACHMENT_TYPES``, each at most
    ``MAX_ATTACHMENT_BYTES``. The message names the file and says why (the
    case app's wording: what is wrong and what to do). Checking happens
    outside the order's transaction so that no row is locked while a file
    is read and scanned.
    """
    files = [f for f in files if f is not None]
    if len(files) > MAX_ATTACHMENTS:
        raise HotlineError(
            "too_many_attachments",
            _("一次最多上传%(max)s个附件，您选择了%(count)s个。请删去一些后重新提交。")
            % {"max": MAX_ATTACHMENTS, "count": len(files)},
            field="attachments",
        )
    accepted = []
    for position, upload in enumerate(files, start=1):
        name = str(upload.name or "")
        try:
            checked = uploads.check_upload(name, upload, max_bytes=MAX_ATTACHMENT_BYTES, allowed=ATTACHMENT_TYPES)
        except uploads.UploadRejected as refused:
            record_event(
                "hotline.attachment_refused",
                actor=actor,
                target="hotline.WorkOrder",
                detail={"code": refused.code, "position": position, "size": upload.size},
            )
            shown = _shown_name(name, position)
            raise HotlineError(
                refused.code,
                _("附件“%(name)s”未被接收：%(reason)s") % {"name": shown, "reason": refused.message},
                field="attachments",
                file=shown,
            ) from refused
        if checked.content_type in PHOTO_TYPES:
            # The copy that is kept carries no metadata; checked again so its size and checksum are its own.
            upload = uploads.without_metadata(upload, checked.content_type)
            checked = uploads.check_upload(name, upload, max_bytes=MAX_ATTACHMENT_BYTES, allowed=ATTACHMENT_TYPES)
        accepted.append(CheckedAttachment(checked, upload))
    return accepted


def _store_attachments(order: WorkOrder, files: Sequence[CheckedAttachment], *, actor: Any) -> list[Attachment]:
    """Store checked files with ``order``, inside the caller's transaction: a rollback deletes them again."""
    uploader = actor if getattr(actor, "is_authenticated", False) else None
    stored = []
    for item in files:
        item.stream.seek(0)
        storage_name = uploads.store_in_transaction(item.checked, item.stream)
        attachment = Attachment.objects.create(
            work_order=order,
            name=item.checked.safe_name,
            content_type=item.checked.content_type,
            size=item.checked.size,
            sha256=item.checked.sha256,
            storage_name=storage_name,
            uploaded_by=uploader,
        )
        record_event(
            "hotline.attachment_added",
            actor=uploader,
            target=f"hotline.WorkOrder:{order.number}",
            detail={
                "attachment": attachment.pk,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
                "scan": item.checked.scan_status,
            },
        )
        stored.append(attachment)
    return stored


# --- numbers -----------------------------------------------------------------------


def _next_number(day: dt.date) -> str:
    """``12345-<YYYYMMDD>-<6-digit serial>``: the serial restarts each day (Asia/Shanghai)."""
    serial = numbering.next_value(WorkOrderSequence, {"day": day})
    return f"12345-{day:%Y%m%d}-{serial:06d}"


def _label(user: Any) -> str:
    if user is None:
        return _(SYSTEM_ACTOR_LABEL)
    return str(getattr(user, "display_name", "") or user.get_username())


# --- suggestions --------------------------------------------------------------------


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


# --- intake ---------------------------------------------------------------------------


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
    longitude, latitude = _clean_point(longitude, latitude)
    if caller.anonymous and kind != WorkOrderKind.REPORT:
        raise HotlineError("anonymous_not_allowed", _("只有举报可以匿名；其他诉求需要留下联系方式以便回访"))
    name = clean_text(caller.name, field="caller_name", label=_("来电人姓名"), max_length=64, required=False)
    phone = _clean_phone(caller.phone)
    user = caller.user
    if user is not None and not name:
        name = _label(user)
    if not caller.anonymous and user is None and not phone:
        raise HotlineError("phone_required", _("请留下联系电话，以便答复和回访"), field="phone")
    files = check_attachments(attachments, actor=actor)
    with transaction.atomic():
        order = WorkOrder.objects.create(
            number=_next_number(calendar.today_local()),
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
        stored = _store_attachments(order, files, actor=actor)
        detail: dict[str, Any] = {"source": source, **({"attachments": len(stored)} if stored else {})}
        _event(order, "register", actor=actor, from_state="", to_state=order.state, detail=detail)
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


def open_rectification(
    *,
    rating_id: int,
    department_id: int,
    person_user: Any,
    title: str,
    content: str,
    person_id: int | None = None,
) -> WorkOrder:
    """Open the rectification order (差评整改) of a real-name bad rating, dispatched straight to the department.

    The rater (``person_id``, or the account's person) is the caller: their
    name and mobile number go on the order, encrypted like a caller's, so
    that the department can call them back. Called by
    :mod:`yiwang.feedback.services` inside the rating's transaction.
    """
    department = directory_selectors.department_by_id(department_id)
    if department is None:
        raise HotlineError("unknown_department", _("部门不存在"))
    person_id = person_id or getattr(person_user, "person_id", None)
    name, phone = accounts_selectors.person_contact(person_id) if person_id else ("", "")
    if not name and person_user is not None:
        name = _label(person_user)
    order = WorkOrder.objects.create(
        number=_next_number(calendar.today_local()),
        verification_code=numbering.verification_code(),
        kind=WorkOrderKind.RECTIFICATION,
        source=Source.RATING,
        title=clean_text(title, field="title", label=_("标题"), max_length=TITLE_MAX),
        content=clean_text(content, field="content", label=_("内容"), max_length=CONTENT_MAX),
        category=_("差评整改"),
        caller_user=person_user,
        caller_person_id=person_id,
        caller_name=name,
        caller_phone_encrypted=crypto.encrypt(phone) if phone else "",
        caller_phone_index=crypto.blind_index(phone, "phone") if phone else "",
        caller_phone_masked=crypto.mask_mobile(phone) if phone else "",
    )
    _event(
        order, "register", actor=None, from_state="", to_state=order.state, detail={"rating": rating_id}, public=True
    )
    return perform(order, "dispatch", actor=None, department=department.code, mode=DispatchMode.RATING)


# --- the one door for actions -----------------------------------------------------------


def get_order(number_or_order: WorkOrder | str, *, lock: bool = False) -> WorkOrder:
    number = number_or_order.number if isinstance(number_or_order, WorkOrder) else number_or_order
    orders = WorkOrder.objects.select_related("department", "grid_cell")
    if lock:
        orders = orders.select_for_update(of=("self",))
    order = orders.filter(number=number).first()
    if order is None:
        raise WorkOrderNotFound("not_found", _("工单不存在"))
    return order


def perform(
    order_or_number: WorkOrder | str,
    action: str,
    *,
    actor: Any,
    expected_version: int | None = None,
    reason: str = "",
    **params: Any,
) -> WorkOrder:
    """Take ``action`` on a work order as ``actor`` (None: the platform itself).

    Refused, with nothing written, when the action is unknown, not allowed
    from the order's state, not allowed to this actor, lacks a reason it
    needs, or when ``expected_version`` is given and someone else acted
    first (optimistic concurrency: two officials never silently overwrite
    each other).
    """
    rule = transition(action)
    if rule is None:
        raise HotlineError("unknown_action", _("未知的操作"))
    files = params.pop("attachments", None)
    if files:
        if action not in ATTACHMENT_ACTIONS:
            raise HotlineError(
                "attachments_not_accepted", _("“%(action)s”不能附带文件") % {"action": rule.label}, field="attachments"
            )
        # Checked before the order is locked: reading and scanning files takes a while.
        params["attachments"] = check_attachments(files, actor=actor)
    with transaction.atomic():
        order = get_order(order_or_number, lock=True)
        kinds = policy.actor_kinds(actor, order)
        if not kinds & rule.actors:
            if not policy.can_view(actor, order) and actor is not None:
                raise WorkOrderNotFound("not_found", _("工单不存在"))
            raise NotAllowed("not_allowed", _("您无权对该工单执行“%(action)s”") % {"action": rule.label})
        if order.state not in rule.sources:
            raise ActionRefused(
                "illegal_transition",
                _("工单当前状态为“%(state)s”，不能执行“%(action)s”")
                % {"state": order.get_state_display(), "action": rule.label},
            )
        if expected_version is not None and expected_version != order.version:
            raise ActionRefused("stale_version", _("工单已被他人处理，请刷新后重试"))
        reason = clean_text(reason, field="reason", label=_("理由"), max_length=REASON_MAX, required=rule.needs_reason)
        handler = _HANDLERS[action]
        handler(order, rule, actor=actor, kinds=kinds, reason=reason, **params)
        WorkOrder.objects.filter(pk=order.pk).update(version=F("version") + 1)
        order.version += 1
    return order


def _event(
    order: WorkOrder,
    action: str,
    *,
    actor: Any,
    from_state: str,
    to_state: str,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
    department: Department | None = None,
    public: bool = True,
) -> WorkOrderEvent:
    event = WorkOrderEvent.objects.create(
        work_order=order,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        actor_label=_label(actor),
        department=department,
        reason=reason,
        detail=dict(detail or {}),
        public=public,
    )
    record_event(
        f"hotline.{action}",
        actor=actor,
        target=f"hotline.WorkOrder:{order.number}",
        detail={"from": from_state, "to": to_state, **({"reason": reason[:200]} if reason else {})},
    )
    outbox.publish(
        "hotline.event",
        {"work_order_id": order.pk, "event_id": event.pk, "action": action, "from": from_state, "to": to_state},
    )
    return event


def _move(order: WorkOrder, to_state: str, **fields: Any) -> str:
    from_state = order.state
    order.state = to_state
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["state", "updated_at", *fields])
    return from_state


def _department(code: Any, *, field: str = "department") -> Department:
    department = directory_selectors.department_by_code(str(code or ""))
    if department is None:
        raise HotlineError("unknown_department", _("部门不存在：%(code)s") % {"code": code or "—"}, field=field)
    return department


def _open_assignments(order: WorkOrder, lead: Department, assisting: list[Department], *, start: dt.date) -> None:
    limits = limits_for(order.kind)
    acknowledge = calendar.add_working_days(start, limits.acknowledge_days)
    handle = calendar.add_working_days(start, limits.handle_days)
    order.department = lead
    order.acknowledge_due = acknowledge.date
    order.due = handle.date
    order.due_provisional = acknowledge.provisional or handle.provisional
    order.extension_status = ExtensionStatus.NONE
    order.extension_days = 0
    _watch_deadline(order, order.acknowledge_due)
    _watch_deadline(order, order.due)
    Assignment.objects.create(work_order=order, department=lead, role=AssignmentRole.LEAD)
    for department in assisting:
        if department.pk != lead.pk:
            Assignment.objects.create(work_order=order, department=department, role=AssignmentRole.ASSIST)


def _watch_deadline(order: WorkOrder, deadline: dt.date | None) -> None:
    # Nobody has to run a sweep for orders to escalate: a delayed outbox event looks at the order
    # the morning after its deadline (see escalate_if_late), in the same transaction as the deadline.
    if deadline is None:
        return
    check_at = timezone.make_aware(dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time.min))
    outbox.publish(
        "hotline.deadline",
        {"work_order_id": order.pk, "deadline": deadline.isoformat()},
        delay=max(check_at - timezone.now(), dt.timedelta(0)),
    )


def _finish_live_assignments(order: WorkOrder, state: str) -> None:
    Assignment.objects.filter(work_order=order, state__in=policy.LIVE_ASSIGNMENT_STATES).update(
        state=state, finished_at=timezone.now()
    )


def _dispatch(
    order: WorkOrder,
    rule: Transition,
    *,
    actor: Any,
    kinds: set[str],
    reason: str,
    department: Any = None,
    category: str = "",
    assisting: list[str] | tuple[str, ...] = (),
    mode: str = DispatchMode.OPERATOR,
    assignee: Any = None,
) -> None:
    lead = _department(department)
    helpers = [_department(code, field="assisting") for code in dict.fromkeys(assisting)]
    category = clean_text(category or order.category, field="category", label=_("分类"), max_length=64, required=False)
    best = order.suggestions[0] if order.suggestions else None
    if actor is not None and best and (best.get("category") != category or best.get("department_code") != lead.code):
        # The operator chose otherwise than the classifier: kept for retraining (yiwang hotline train).
        DispatchCorrection.objects.create(
            work_order=order,
            suggested_category=best.get("category", ""),
            suggested_department=best.get("department_code", ""),
            confidence=best.get("confidence"),
            chosen_category=category,
            chosen_department=lead.code,
            operator=actor,
        )
    _open_assignments(order, lead, helpers, start=calendar.today_local())
    order.category = category
    order.dispatch_mode = mode if actor is None else DispatchMode.OPERATOR
    if assignee is not None:
        order.assignee = assignee
    from_state = _move(
        order,
        rule.target or WorkOrderState.DISPATCHED,
        department=order.department,
        category=order.category,
        dispatch_mode=order.dispatch_mode,
        acknowledge_due=order.acknowledge_due,
        due=order.due,
        due_provisional=order.due_provisional,
        extension_status=order.extension_status,
        extension_days=order.extension_days,
        assignee=order.assignee,
    )
    _event(
        order,
        "dispatch",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
        department=lead,
        detail={
            "department": lead.code,
            "assisting": [d.code for d in helpers],
            "category": category,
            "mode": order.dispatch_mode,
        },
    )


def _answer(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, answer: str = "", source: str = ""
) -> None:
    if order.kind not in {WorkOrderKind.CONSULT, WorkOrderKind.HELP}:
        raise ActionRefused("answer_consult_only", _("只有咨询和求助可以由话务员直接答复；其他诉求请派单"))
    answer = clean_text(answer, field="answer", label=_("答复"), max_length=CONTENT_MAX)
    source = clean_text(source, field="source", label=_("答复依据"), max_length=200)
    now = timezone.now()
    from_state = _move(order, WorkOrderState.CLOSED, reply=answer, answer_source=source, replied_at=now, closed_at=now)
    _event(order, "answer", actor=actor, from_state=from_state, to_state=order.state, detail={"source": source})


def _merge(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, into: Any = None) -> None:
    target = WorkOrder.objects.filter(number=str(into or "")).first()
    if target is None or target.pk == order.pk:
        raise HotlineError("bad_merge_target", _("请选择要合并到的另一张工单"))
    if target.state in {WorkOrderState.MERGED}:
        raise ActionRefused("merge_target_merged", _("目标工单本身已被合并，请合并到其主工单"))
    from_state = _move(order, WorkOrderState.MERGED, duplicate_of=target)
    _event(order, "merge", actor=actor, from_state=from_state, to_state=order.state, detail={"into": target.number})
    _event(target, "link", actor=actor, from_state=target.state, to_state=target.state, detail={"merged": order.number})


def _acknowledge(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None or assignment.state != AssignmentState.DISPATCHED:
        raise ActionRefused("already_acknowledged", _("本部门已签收该工单"))
    assignment.state = AssignmentState.HANDLING
    assignment.acknowledged_at = timezone.now()
    assignment.acknowledged_by = actor
    assignment.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
    from_state = order.state
    if assignment.role == AssignmentRole.LEAD:
        _move(order, WorkOrderState.HANDLING)
    _event(
        order, "acknowledge", actor=actor, from_state=from_state, to_state=order.state, department=assignment.department
    )


def _send_back(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None:
        raise NotAllowed("not_allowed", _("您无权退回该工单"))
    assignment.state = AssignmentState.SENT_BACK
    assignment.opinion = reason
    assignment.finished_at = timezone.now()
    assignment.save(update_fields=["state", "opinion", "finished_at"])
    from_state = order.state
    if assignment.role == AssignmentRole.LEAD:
        # Back to the hotline centre for another dispatch; assisting departments stop too.
        _finish_live_assignments(order, AssignmentState.WITHDRAWN)
        if order.kind == WorkOrderKind.RECTIFICATION or order.kind == WorkOrderKind.GRID:
            # No operator chose these departments: a supervisor decides where they go.
            order.supervised_at = order.supervised_at or timezone.now()
        _move(
            order,
            WorkOrderState.REGISTERED,
            department=None,
            assignee=None,
            acknowledge_due=None,
            due=None,
            supervised_at=order.supervised_at,
        )
    _event(
        order,
        "send_back",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
        department=assignment.department,
    )


def _transfer(
    order: WorkOrder,
    rule: Transition,
    *,
    actor: Any,
    kinds: set[str],
    reason: str,
    department: Any = None,
    assisting: list[str] | tuple[str, ...] = (),
) -> None:
    lead = _department(department)
    if order.department_id == lead.pk:
        raise HotlineError("same_department", _("工单已在该部门办理"))
    helpers = [_department(code, field="assisting") for code in dict.fromkeys(assisting)]
    _finish_live_assignments(order, AssignmentState.WITHDRAWN)
    _open_assignments(order, lead, helpers, start=calendar.today_local())
    from_state = _move(
        order,
        WorkOrderState.DISPATCHED,
        department=lead,
        assignee=None,
        acknowledge_due=order.acknowledge_due,
        due=order.due,
        due_provisional=order.due_provisional,
        extension_status=order.extension_status,
        extension_days=order.extension_days,
    )
    _event(
        order,
        "transfer",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
        department=lead,
        detail={"department": lead.code, "assisting": [d.code for d in helpers]},
    )


def _contribute(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, opinion: str = ""
) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None or assignment.role != AssignmentRole.ASSIST:
        raise ActionRefused("assist_only", _("协办意见由协办部门提交；主办部门请直接答复"))
    opinion = clean_text(opinion, field="opinion", label=_("协办意见"), max_length=CONTENT_MAX)
    assignment.state = AssignmentState.REPLIED
    assignment.opinion = opinion
    assignment.finished_at = timezone.now()
    assignment.acknowledged_at = assignment.acknowledged_at or assignment.finished_at
    assignment.save(update_fields=["state", "opinion", "finished_at", "acknowledged_at"])
    _event(
        order,
        "contribute",
        actor=actor,
        from_state=order.state,
        to_state=order.state,
        department=assignment.department,
        public=False,
    )


def _request_extension(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, days: Any = None
) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None or assignment.role != AssignmentRole.LEAD:
        raise NotAllowed("lead_only", _("延期由主办部门申请"))
    if order.extension_status == ExtensionStatus.REQUESTED:
        raise ActionRefused("extension_pending", _("已有待审批的延期申请"))
    try:
        count = int(days)
    except (TypeError, ValueError) as error:
        raise HotlineError("bad_days", _("请填写延期的工作日天数"), field="days") from error
    if not 1 <= count <= MAX_EXTENSION_DAYS:
        raise HotlineError("bad_days", _("延期天数须在1到%(max)s个工作日之间") % {"max": MAX_EXTENSION_DAYS})
    _move(order, order.state, extension_status=ExtensionStatus.REQUESTED, extension_days=count, extension_reason=reason)
    _event(
        order,
        "request_extension",
        actor=actor,
        from_state=order.state,
        to_state=order.state,
        reason=reason,
        department=assignment.department,
        detail={"days": count},
    )


def _decide_extension(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, approve: Any = None
) -> None:
    if order.extension_status != ExtensionStatus.REQUESTED:
        raise ActionRefused("no_extension_request", _("没有待审批的延期申请"))
    approved = approve in (True, "true", "1", "yes", "on")
    fields: dict[str, Any] = {"extension_status": ExtensionStatus.APPROVED if approved else ExtensionStatus.REFUSED}
    if approved and order.due is not None:
        extended = calendar.extend(order.due, order.extension_days)
        fields.update(due=extended.date, due_provisional=order.due_provisional or extended.provisional)
        _watch_deadline(order, extended.date)
    _move(order, order.state, **fields)
    _event(
        order,
        "decide_extension",
        actor=actor,
        from_state=order.state,
        to_state=order.state,
        reason=reason,
        detail={"approved": approved, "days": order.extension_days, "due": str(order.due)},
    )


def _record_callback(
    order: WorkOrder,
    rule: Transition,
    *,
    actor: Any,
    kinds: set[str],
    reason: str,
    satisfaction: str = "",
    note: str = "",
) -> None:
    rectification = order.kind == WorkOrderKind.RECTIFICATION
    if order.state == WorkOrderState.HANDLING:
        # Only a rectification is called back before its report: the department calls the rater.
        if not rectification or Actor.DEPARTMENT not in kinds:
            raise ActionRefused("callback_after_close", _("回访在工单办结后进行"))
    elif Actor.OPERATOR not in kinds:
        raise NotAllowed("operators_call_back", _("办结后的回访由12345话务员进行"))
    if satisfaction not in Satisfaction.values:
        raise HotlineError("bad_satisfaction", _("请选择回访评价：满意、基本满意或不满意"), field="satisfaction")
    note = clean_text(note, field="note", label=_("回访记录"), max_length=REASON_MAX)
    now = timezone.now()
    from_state = order.state
    if order.state == WorkOrderState.HANDLING:
        _move(order, order.state, called_back_at=now, satisfaction=satisfaction, callback_note=note)
    elif satisfaction == Satisfaction.UNSATISFIED and order.reopen_count < MAX_REOPENS and order.department_id:
        # Not satisfied: the same department handles it again, on a fresh clock.
        _event(
            order,
            "record_callback",
            actor=actor,
            from_state=from_state,
            to_state=from_state,
            detail={"satisfaction": satisfaction},
        )
        _reopen(order, actor=actor, reason=note)
        return
    else:
        _move(order, WorkOrderState.CALLED_BACK, called_back_at=now, satisfaction=satisfaction, callback_note=note)
    _event(
        order,
        "record_callback",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        detail={"satisfaction": satisfaction},
    )


def _reopen(order: WorkOrder, *, actor: Any, reason: str) -> None:
    department = order.department
    assert department is not None
    _finish_live_assignments(order, AssignmentState.WITHDRAWN)
    _open_assignments(order, department, [], start=calendar.today_local())
    from_state = _move(
        order,
        WorkOrderState.DISPATCHED,
        reopen_count=order.reopen_count + 1,
        acknowledge_due=order.acknowledge_due,
        due=order.due,
        due_provisional=order.due_provisional,
        extension_status=order.extension_status,
        extension_days=order.extension_days,
        called_back_at=None,
        satisfaction="",
        closed_at=None,
        replied_at=None,
    )
    _event(
        order, "reopen", actor=actor, from_state=from_state, to_state=order.state, reason=reason, department=department
    )


def _reply(
    order: WorkOrder,
    rule: Transition,
    *,
    actor: Any,
    kinds: set[str],
    reason: str,
    reply: str = "",
    attachments: Sequence[CheckedAttachment] = (),
) -> None:
    assignment = policy.handles_for(actor, order)
    if assignment is None or assignment.role != AssignmentRole.LEAD:
        raise ActionRefused("lead_replies", _("答复由主办部门作出；协办部门请提交协办意见"))
    reply = clean_text(reply, field="reply", label=_("答复意见"), max_length=CONTENT_MAX)
    rectification = order.kind == WorkOrderKind.RECTIFICATION
    if rectification and order.called_back_at is None:
        raise ActionRefused("callback_first", _("差评整改须先回访评价人，再提交整改报告"))
    now = timezone.now()
    assignment.state = AssignmentState.REPLIED
    assignment.opinion = reply
    assignment.finished_at = now
    assignment.save(update_fields=["state", "opinion", "finished_at"])
    stored = _store_attachments(order, attachments, actor=actor)
    if rectification:
        # The report closes it: nobody at the hotline reviews a department's own rectification.
        from_state = _move(order, WorkOrderState.CLOSED, reply=reply, replied_at=now, closed_at=now)
    else:
        from_state = _move(order, WorkOrderState.REPLIED, reply=reply, replied_at=now)
    _event(
        order,
        "reply",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        department=assignment.department,
        detail={"attachments": len(stored)} if stored else None,
    )


def _return_reply(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    Assignment.objects.filter(
        work_order=order, role=AssignmentRole.LEAD, department=order.department, state=AssignmentState.REPLIED
    ).update(state=AssignmentState.HANDLING, finished_at=None)
    from_state = _move(order, WorkOrderState.HANDLING, replied_at=None)
    _event(order, "return_reply", actor=actor, from_state=from_state, to_state=order.state, reason=reason)


def _close(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    limits = limits_for(order.kind)
    fields: dict[str, Any] = {"closed_at": timezone.now()}
    if limits.callback_required:
        fields["callback_due"] = calendar.add_working_days(calendar.today_local(), limits.callback_days).date
    from_state = _move(order, WorkOrderState.CLOSED, **fields)
    _event(order, "close", actor=actor, from_state=from_state, to_state=order.state, reason=reason)


def _confirm(
    order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str, resolved: Any = None
) -> None:
    if order.kind != WorkOrderKind.RECTIFICATION:
        raise ActionRefused("confirm_rectification_only", _("只有差评整改工单由评价人确认结果"))
    is_resolved = resolved in (True, "true", "1", "yes", "on")
    from_state = order.state
    if not is_resolved and order.reopen_count < MAX_REOPENS and order.department_id:
        _event(order, "confirm", actor=actor, from_state=from_state, to_state=from_state, reason=reason)
        _reopen(order, actor=actor, reason=reason)
        return
    _move(order, WorkOrderState.CALLED_BACK)
    _event(
        order,
        "confirm",
        actor=actor,
        from_state=from_state,
        to_state=order.state,
        reason=reason,
        detail={"resolved": is_resolved},
    )


def _supervise(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    _move(order, order.state, supervised_at=timezone.now())
    _event(order, "supervise", actor=actor, from_state=order.state, to_state=order.state, reason=reason)


def _escalate(order: WorkOrder, rule: Transition, *, actor: Any, kinds: set[str], reason: str) -> None:
    if order.escalated_at is not None:
        return
    _move(order, order.state, escalated_at=timezone.now())
    _event(order, "escalate", actor=actor, from_state=order.state, to_state=order.state, reason=reason, public=False)


_HANDLERS: dict[str, Any] = {
    "dispatch": _dispatch,
    "answer": _answer,
    "merge": _merge,
    "acknowledge": _acknowledge,
    "send_back": _send_back,
    "transfer": _transfer,
    "contribute": _contribute,
    "request_extension": _request_extension,
    "decide_extension": _decide_extension,
    "record_callback": _record_callback,
    "reply": _reply,
    "return_reply": _return_reply,
    "close": _close,
    "confirm": _confirm,
    "supervise": _supervise,
    "escalate": _escalate,
}


def escalate_if_late(order_id: Any, *, today: dt.date | None = None) -> bool:
    """Escalate one open order to supervisors if it is past its handling or acknowledgement deadline.

    Run by the worker for the delayed ``hotline.deadline`` event each deadline
    schedules; an order escalates once. Returns whether it escalated now.
    """
    today = today or calendar.today_local()
    order = WorkOrder.objects.filter(pk=order_id, escalated_at__isnull=True).first()
    if order is None:
        return False
    open_states = {WorkOrderState.DISPATCHED, WorkOrderState.HANDLING}
    late = order.state in open_states and order.due is not None and order.due < today
    late_acknowledgement = (
        order.state == WorkOrderState.DISPATCHED and order.acknowledge_due is not None and order.acknowledge_due < today
    )
    if not (late or late_acknowledgement):
        return False
    perform(order.number, "escalate", actor=None, reason=_("超过办理或签收期限"))
    return True


def escalate_overdue(*, today: dt.date | None = None) -> int:
    """Escalate every open order past a deadline (a catch-up sweep beside the per-order events); returns how many."""
    today = today or calendar.today_local()
    candidates = WorkOrder.objects.filter(
        state__in=[WorkOrderState.DISPATCHED, WorkOrderState.HANDLING], escalated_at__isnull=True
    ).filter(Q(due__lt=today) | Q(acknowledge_due__lt=today))
    return sum(escalate_if_late(pk, today=today) for pk in candidates.order_by("pk").values_list("pk", flat=True))


# --- grid reports (网格上报) ------------------------------------------------------------


@dataclass(frozen=True)
class GridLoadReport:
    created: int
    updated: int
    deactivated: int


def load_grid(data: str | bytes, *, department_code: str, actor: Any = None) -> GridLoadReport:
    """Load the city's grid from GeoJSON: cells added or redrawn by code, cells no longer there deactivated.

    ``department_code`` is the department responsible for cells whose data
    names none (property ``department``); ``worker`` names a grid worker's
    user name. Refused as a whole, with nothing changed, when any cell is
    wrong (geometry.GridDataError) or names an unknown worker or department.
    """
    cells = geometry.parse_grid_geojson(data)
    default = _department(department_code)
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    departments: dict[str, Department] = {default.code: default}
    rows = []
    for cell in cells:
        code = str(cell.properties.get("department") or default.code)
        if code not in departments:
            departments[code] = _department(code)
        worker = None
        if cell.worker:
            worker = users.filter(username=cell.worker, is_active=True).first()
            if worker is None:
                raise HotlineError(
                    "unknown_worker",
                    _("网格%(code)s的网格员账户不存在：%(worker)s") % {"code": cell.code, "worker": cell.worker},
                )
        rows.append((cell, departments[code], worker))
    created = updated = 0
    with transaction.atomic():
        for cell, department, worker in rows:
            _row, made = GridCell.objects.update_or_create(
                code=cell.code,
                defaults={
                    "name": cell.name,
                    "division": cell.division or "",
                    "geometry": cell.geojson,
                    "worker": worker,
                    "department": department,
                    "active": True,
                },
            )
            created += made
            updated += not made
        deactivated = (
            GridCell.objects.filter(active=True).exclude(code__in=[c.code for c in cells]).update(active=False)
        )
        record_event(
            "hotline.load_grid",
            actor=actor,
            target="hotline.GridCell",
            detail={"created": created, "updated": updated, "deactivated": deactivated},
        )
    return GridLoadReport(created, updated, deactivated)


_locator_cache: dict[tuple[int, str], geometry.GridLocator] = {}


def grid_locator() -> geometry.GridLocator | None:
    """The locator of the active grid, rebuilt when any cell changes (None: no grid loaded)."""
    active = GridCell.objects.filter(active=True)
    latest = active.order_by("-updated_at").values_list("updated_at", flat=True).first()
    if latest is None:
        return None
    key = (active.count(), latest.isoformat())
    locator = _locator_cache.get(key)
    if locator is None:
        shapes = [geometry.cell_from_geometry(c.code, c.name, c.geometry) for c in active]
        locator = geometry.GridLocator(shapes)
        _locator_cache.clear()
        _locator_cache[key] = locator
    return locator


def report_grid_problem(
    *,
    actor: Any,
    title: str,
    content: str,
    category: str,
    longitude: Any,
    latitude: Any,
    location_text: str = "",
    attachments: Sequence[UploadedFile] = (),
) -> WorkOrder:
    """A grid report (网格上报): a problem at a point, routed to the grid worker of the cell it lies in.

    On a border the cell with the lowest code takes it; just outside the
    grid, the nearest cell (within the locator's distance); far outside, the
    report is refused with a clear message. Photos (``attachments``) are
    kept with the report as in :func:`register`: all of them or no report.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise NotAllowed("login_required", _("请先登录再上报"))
    title = clean_text(title, field="title", label=_("标题"), max_length=TITLE_MAX)
    content = clean_text(content, field="content", label=_("问题描述"), max_length=CONTENT_MAX)
    category = clean_text(category, field="category", label=_("问题类别"), max_length=64)
    location_text = clean_text(location_text, field="location", label=_("地点"), max_length=200, required=False)
    try:
        lon, lat = geometry.check_coordinates(longitude, latitude)
    except geometry.InvalidCoordinates as error:
        raise HotlineError("bad_location", str(error), field="location") from error
    locator = grid_locator()
    found = locator.locate(lon, lat) if locator is not None else None
    if found is None:
        raise HotlineError("outside_grid", _("该位置不在本市网格范围内，请在地图上重新选择，或拨打12345"))
    cell = GridCell.objects.select_related("department", "worker").get(code=found.code)
    point_lon, point_lat = _clean_point(lon, lat)
    files = check_attachments(attachments, actor=actor)
    with transaction.atomic():
        order = WorkOrder.objects.create(
            number=_next_number(calendar.today_local()),
            verification_code=numbering.verification_code(),
            kind=WorkOrderKind.GRID,
            source=Source.GRID,
            title=title,
            content=content,
            category=category,
            location_text=location_text or cell.name,
            longitude=point_lon,
            latitude=point_lat,
            grid_cell=cell,
            caller_user=actor,
            caller_person_id=getattr(actor, "person_id", None),
            caller_name=_label(actor),
        )
        stored = _store_attachments(order, files, actor=actor)
        _event(
            order,
            "register",
            actor=actor,
            from_state="",
            to_state=order.state,
            detail={
                "source": Source.GRID,
                "cell": cell.code,
                "located": found.how,
                **({"attachments": len(stored)} if stored else {}),
            },
        )
        order = perform(
            order,
            "dispatch",
            actor=None,
            department=cell.department.code,
            category=category,
            mode=DispatchMode.GRID,
            assignee=cell.worker,
        )
    return order
