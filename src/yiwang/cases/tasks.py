"""Background work of case handling, run by ``yiwang worker`` from the outbox after each transaction commits.

Handlers are idempotent: every notification has a dedupe key made of the
case event and the channel, so a handler run twice (a worker killed
half-way) queues nothing new.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from yiwang.cases.constants import CaseState
from yiwang.cases.models import Case, CaseEvent, CorrectionNotice
from yiwang.cases.wording import decision_wording
from yiwang.catalog.constants import ItemKind
from yiwang.core import calendar, notifications, outbox
from yiwang.core.outbox import handles

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from yiwang.core.models import OutboxEvent

# The worker sends these later, with no request to take a language from: they go out in Chinese.
NOTIFICATION_LANGUAGE = "zh-hans"

# Actions that matter to the applicant, with what the message says. {number}, {item}, {code} are filled in.
MESSAGES: dict[str, tuple[StrOrPromise, StrOrPromise]] = {
    "submit": (_("申请已收到"), _("您申请的“{item}”已提交，办件编号{number}，查询码{code}。")),
    "accept": (_("申请已受理"), _("您申请的“{item}”（{number}）已受理，承诺办结期限{due}。")),
    "reject": (_("申请不予受理"), _("您申请的“{item}”（{number}）不予受理，理由及依据请查看不予受理决定书。")),
    "request_correction": (
        _("需要补正材料"),
        _("您申请的“{item}”（{number}）需要补正，请在{correction_due}前按补正告知一次性补齐。"),
    ),
    "resubmit": (_("补正材料已收到"), _("您为“{item}”（{number}）补正的材料已收到，继续办理中。")),
    "approve": (_("申请已准予"), _("您申请的“{item}”（{number}）已准予许可。")),
    "refuse": (_("申请不予许可"), _("您申请的“{item}”（{number}）不予许可，理由请查看决定书。")),
    "suspend": (_("办件已中止"), _("您申请的“{item}”（{number}）已中止办理，中止期间不计入办理时限。")),
    "resume": (_("办件恢复办理"), _("您申请的“{item}”（{number}）已恢复办理。")),
    "transfer": (_("办件已移交"), _("您申请的“{item}”（{number}）已移交至{department}办理。")),
    "withdraw": (_("申请已撤回"), _("您申请的“{item}”（{number}）已撤回。")),
    "confirm_payment": (_("缴费成功"), _("您为“{item}”（{number}）缴纳的费用已确认。")),
    "issue_certificate": (_("可以领取办理结果"), _("“{item}”（{number}）的{result}已制作完成，请按约定方式领取。")),
    "close": (_("办件已办结"), _("“{item}”（{number}）已办结，欢迎对本次服务作出评价。")),
}
PAYMENT_MESSAGE: tuple[StrOrPromise, StrOrPromise] = (
    _("请缴纳费用"),
    _("您申请的“{item}”（{number}）已准予，请缴纳费用后领取办理结果。"),
)
CORRECTION_REMINDER: tuple[StrOrPromise, StrOrPromise] = (
    _("补正期限将至"),
    _("“{item}”（{number}）的补正期限为{correction_due}，请尽快补正，逾期可能视为放弃申请。"),
)
# Working days before the correction deadline on which the applicant is reminded.
REMINDER_DAYS_BEFORE = 2


def _recipients(case: Case) -> list[Any]:
    """The applicant's own accounts and, for assisted applications, the delegate who filled it in."""
    users = list(get_user_model().objects.filter(person_id=case.applicant_person_id, is_active=True))
    creator = case.application.created_by
    if creator.person_id != case.applicant_person_id and creator not in users and not creator.role_assignments.exists():
        users.append(creator)
    return users


def _fill(template: str, case: Case) -> str:
    # Most messages do not name a correction deadline; only those read the latest notice.
    correction = case.corrections.order_by("-id").first() if "{correction_due}" in template else None
    return template.format(
        item=case.item_name,
        number=case.number,
        code=case.verification_code,
        due=case.promised_due or "—",
        correction_due=correction.due if correction else "—",
        department=case.department.name,
        result=case.item.result_name or str(_("办理结果")),
    )


def _queue_for(case: Case, key: str, subject_text: StrOrPromise, body_template: StrOrPromise) -> int:
    """Queue the message in-app (and by email) to each recipient account and by SMS to the applicant person."""
    with translation.override(NOTIFICATION_LANGUAGE):
        subject = str(subject_text)
        body = _fill(str(body_template), case)
    link = f"/cases/{case.number}/"
    template = key.split(":")[0]
    queued = 0
    for user in _recipients(case):
        queued += len(
            notifications.notify(
                dedupe_key=f"{key}:user:{user.pk}",
                template=template,
                subject=subject,
                body=body,
                link=link,
                user_id=user.pk,
                channels=("in_app", "email"),
            )
        )
    # SMS reaches people without an account too (counter applicants); once per event, if they have a mobile.
    queued += len(
        notifications.notify(
            dedupe_key=f"{key}:person",
            template=template,
            subject=subject,
            body=body,
            person_id=case.applicant_person_id,
            channels=("sms",),
        )
    )
    return queued


def _decision_message(action: str, kind: str) -> tuple[StrOrPromise, StrOrPromise]:
    """The decision as the item's kind names it: only a 行政许可 is 准予许可 (issue 12 item 7)."""
    wording = decision_wording(kind)
    with translation.override(NOTIFICATION_LANGUAGE):
        phrase = str(wording.approved_phrase if action == "approve" else wording.refused_phrase)
        subject = _("申请已办理") if action == "approve" else _("申请未获办理")
        # %-substitution leaves the {item} and {number} placeholders for _fill.
        body = str(_("您申请的“{item}”（{number}）经审查，决定%(decision)s，详情请查看办件。")) % {"decision": phrase}
    return subject, body


@handles("case.event")
def notify_applicant(outbox_event: OutboxEvent) -> None:
    """Tell the applicant about the steps that matter to them."""
    payload = outbox_event.payload
    action = payload.get("action", "")
    event = (
        CaseEvent.objects.select_related("case__item", "case__department", "case__application__created_by")
        .filter(pk=payload.get("event_id"))
        .first()
    )
    if event is None:
        return
    case = event.case
    message = MESSAGES.get(action)
    if action in {"approve", "refuse"} and case.item.kind != ItemKind.LICENSING:
        message = _decision_message(action, case.item.kind)
    if action == "approve" and event.to_state == CaseState.AWAITING_PAYMENT:
        message = PAYMENT_MESSAGE
    if message is None:
        return
    _queue_for(case, f"case-event:{event.pk}", *message)
    if action == "request_correction":
        _schedule_correction_reminder(case)


def _schedule_correction_reminder(case: Case) -> None:
    notice = case.corrections.filter(resolved_at__isnull=True).order_by("-id").first()
    if notice is None or notice.due is None:
        return
    today = calendar.today_local()
    remind_on, stepped = notice.due, 0
    while stepped < REMINDER_DAYS_BEFORE:
        remind_on -= dt.timedelta(days=1)
        stepped += calendar.is_working_day(remind_on)
    with transaction.atomic():
        outbox.publish(
            "case.correction_reminder",
            {"case_id": case.pk, "notice_id": notice.pk},
            delay=dt.timedelta(days=max((remind_on - today).days, 0)),
        )


@handles("case.correction_reminder")
def remind_correction(outbox_event: OutboxEvent) -> None:
    """Remind an applicant whose correction is still outstanding as its deadline nears."""
    payload = outbox_event.payload
    notice = (
        CorrectionNotice.objects.select_related("case__item", "case__department", "case__application")
        .filter(pk=payload.get("notice_id"))
        .first()
    )
    if notice is None or notice.resolved_at is not None:
        return
    case = notice.case
    if case.state != CaseState.CORRECTION_REQUESTED:
        return
    _queue_for(case, f"correction-reminder:{notice.pk}", *CORRECTION_REMINDER)
