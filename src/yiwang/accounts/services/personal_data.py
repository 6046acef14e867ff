"""Reads of full personal data: by the person, or by staff for a case or work order they hold; always recorded.

Accounts sits below case handling and the hotline, so it cannot tell whether
a case is open or whose desk a work order is at. The app that owns the case
or work order checks its own rule and states the outcome as a
:class:`RevealJustification`; this module refuses any staff read without
one, limits how many reads a staff member makes per hour, alerts the
supervisors when someone reaches the limit, and records every read for the
person's "谁查看了我的信息" list and in the audit log (docs/adr/0011).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from yiwang.accounts import policy, selectors
from yiwang.accounts.constants import RevealPurpose, Role
from yiwang.accounts.models import DataAccessRecord, Person, User
from yiwang.accounts.services.errors import IdentityError
from yiwang.core import crypto, notifications
from yiwang.core.audit import Events, record_event
from yiwang.core.selectors import count_audit_events

PII_FIELDS = ("document_number", "mobile", "name")
REVEAL_WINDOW = dt.timedelta(hours=1)
DEFAULT_REVEALS_PER_HOUR = 30
REFUSED_EVENT = "pii.read_refused"
VOLUME_ALERT_EVENT = "pii.volume_alert"
ALERT_LANGUAGE = "zh-hans"


@dataclass(frozen=True)
class RevealJustification:
    """Why a staff member may read one person's data now, stated by the app that owns the object.

    Build one only after the owning app's policy said yes: for a case, an open
    case of the staff member's department, with a task they hold, whose
    applicant is the person; for a work order, one at their desk whose caller
    is the person. ``person_id`` is None for a caller known only by a
    telephone number; ``reference`` is the case or work-order number the
    person sees in their list; ``purpose`` is a :class:`RevealPurpose`.
    """

    person_id: int | None
    reference: str
    department_name: str
    purpose: str


def reveals_per_hour() -> int:
    """How many full-data reads one staff member may make in an hour (``YIWANG_PII_REVEALS_PER_HOUR``)."""
    return int(getattr(settings, "YIWANG_PII_REVEALS_PER_HOUR", DEFAULT_REVEALS_PER_HOUR))


def _wanted(fields: Iterable[str]) -> list[str]:
    wanted = [f for f in PII_FIELDS if f in set(fields)]
    if not wanted:
        raise IdentityError("invalid_fields", _("请指定要查看的字段：document_number、mobile 或 name"), field="fields")
    return wanted


def _values(person: Person, wanted: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    if "document_number" in wanted:
        values["document_number"] = crypto.decrypt(person.document_number_encrypted)
    if "mobile" in wanted and person.mobile_encrypted:
        values["mobile"] = crypto.decrypt(person.mobile_encrypted)
    if "name" in wanted:
        values["name"] = person.name
    return values


def reveal_own_data(*, actor: User, fields: Iterable[str]) -> dict[str, str]:
    """The signed-in person's own full values; recorded as "本人查看" in their list."""
    person = actor.person
    if person is None:
        raise IdentityError("not_found", _("自然人不存在"))
    wanted = _wanted(fields)
    with transaction.atomic():
        values = _values(person, wanted)
        DataAccessRecord.objects.create(
            person=person, accessor=actor, accessor_label="本人", fields=wanted, purpose="本人查看"
        )
        record_event(
            Events.PII_READ,
            actor=actor,
            on_behalf_of_person_id=person.pk,
            target=f"accounts.Person:{person.pk}",
            detail={"fields": wanted, "purpose": "self"},
        )
    return values


def record_data_exchange(
    *,
    person_id: int,
    accessor: User | None,
    accessor_label: str,
    department_name: str,
    fields: Iterable[str],
    purpose: str,
    case_reference: str,
    exchange_id: str,
) -> None:
    """Put one exchange of the person's data between departments in their "谁用了我的数据" list.

    The data-sharing app (above accounts) calls this for every exchange that
    answered with the person's data; ``fields`` are the names of the fields
    shown to the person, ``exchange_id`` the exchange's number.
    """
    DataAccessRecord.objects.create(
        person_id=person_id,
        accessor=accessor,
        accessor_label=accessor_label[:200],
        department_name=department_name[:200],
        fields=list(fields),
        purpose=purpose[:200],
        case_reference=case_reference[:80],
        exchange_id=exchange_id[:40],
    )


def reveal_person_data(*, actor: User, justification: RevealJustification, fields: Iterable[str]) -> dict[str, str]:
    """A person's full values for a staff member holding a case or work order of theirs; recorded, rate-limited.

    Raises ``not_found`` (404) without a person and ``reveal_limit`` (429)
    beyond :func:`reveals_per_hour`. Call it outside any transaction that a
    refusal would roll back: the refusal and the supervisors' alert are
    committed before the error is raised.
    """
    person = Person.objects.filter(pk=justification.person_id).first() if justification.person_id else None
    if person is None:
        raise IdentityError("not_found", _("自然人不存在"))
    wanted = _wanted(fields)
    values: dict[str, str] = {}

    def read() -> None:
        values.update(_values(person, wanted))

    record_reveal(actor=actor, justification=justification, fields=wanted, read=read)
    return values


def record_reveal(
    *,
    actor: User,
    justification: RevealJustification,
    fields: Iterable[str],
    read: Callable[[], None] | None = None,
) -> None:
    """Count, limit and record one staff read of personal data that the calling app holds itself.

    For values another app stores (a work order's telephone number): call
    this before decrypting them; it raises like :func:`reveal_person_data`.
    ``read``, when given, is called inside the recording transaction.
    """
    wanted = _wanted(fields)
    purpose = _purpose_label(justification.purpose)
    if not policy.is_staff_member(actor):
        raise IdentityError("not_found", _("自然人不存在"))
    limit = reveals_per_hour()
    with transaction.atomic():
        # One staff member's reads take turns, so two at once cannot both slip under the limit.
        list(User.objects.select_for_update().filter(pk=actor.pk).values_list("pk", flat=True))
        recent = _recent_reveals(actor)
        if recent < limit:
            if read is not None:
                read()
            _record(actor, justification, wanted, purpose)
            return
    _refuse_over_limit(actor, justification, recent, limit)


def _purpose_label(purpose: str) -> str:
    if purpose not in RevealPurpose.values:
        raise IdentityError("invalid_purpose", _("请从列表中选择查看用途"), field="purpose")
    return str(RevealPurpose(purpose).label)


def _recent_reveals(actor: User) -> int:
    return count_audit_events(
        Events.PII_READ,
        actor_id=actor.pk,
        since=timezone.now() - REVEAL_WINDOW,
        exclude_person_id=actor.person_id,
    )


def _record(actor: User, justification: RevealJustification, wanted: list[str], purpose: str) -> None:
    reference = justification.reference[:80]
    department = justification.department_name or policy.primary_department_name(actor)
    if justification.person_id is not None:
        DataAccessRecord.objects.create(
            person_id=justification.person_id,
            accessor=actor,
            accessor_label=str(actor.display_name or actor.username),
            department_name=department,
            fields=wanted,
            purpose=purpose,
            case_reference=reference,
        )
    record_event(
        Events.PII_READ,
        actor=actor,
        on_behalf_of_person_id=justification.person_id,
        target=f"accounts.Person:{justification.person_id}" if justification.person_id else "",
        detail={"fields": wanted, "purpose": justification.purpose, "case": reference},
    )


def _refuse_over_limit(actor: User, justification: RevealJustification, recent: int, limit: int) -> None:
    """Record the refusal, alert the supervisors once per window, and refuse with 429."""
    with transaction.atomic():
        record_event(
            REFUSED_EVENT,
            actor=actor,
            on_behalf_of_person_id=justification.person_id,
            detail={"reason": "rate_limited", "case": justification.reference[:80], "limit": limit},
        )
        since = timezone.now() - REVEAL_WINDOW
        if count_audit_events(VOLUME_ALERT_EVENT, actor_id=actor.pk, since=since) == 0:
            alert = record_event(VOLUME_ALERT_EVENT, actor=actor, detail={"reveals": recent, "limit": limit})
            _alert_supervisors(actor, recent, alert.pk)
    raise IdentityError(
        "reveal_limit",
        _("一小时内查看个人完整信息已达 %(limit)s 次上限，请稍后再试；此情况已报告监督人员。") % {"limit": limit},
        status=429,
    )


def _alert_supervisors(actor: User, recent: int, alert_id: int) -> None:
    """An in-app message to the supervisors over the staff member and their departments' administrators."""
    recipients = set(selectors.staff_holding({Role.SUPERVISOR}, department_id=None))
    for assignment in selectors.active_roles(actor):
        if assignment.department_id is not None:
            recipients.update(
                selectors.staff_holding(
                    {Role.SUPERVISOR, Role.DEPARTMENT_ADMIN}, department_id=assignment.department_id
                )
            )
    recipients.discard(actor.pk)
    with translation.override(ALERT_LANGUAGE):
        subject = _("个人信息查看次数异常")
        body = _("工作人员%(who)s在一小时内查看个人完整信息%(count)s次，已达上限并被拒绝，请核查。") % {
            "who": actor.display_name or actor.username,
            "count": recent,
        }
    for user_id in sorted(recipients):
        notifications.notify(
            dedupe_key=f"pii-volume:{alert_id}:user:{user_id}",
            template="accounts.pii_volume_alert",
            subject=subject,
            body=body,
            user_id=user_id,
            channels=(notifications.IN_APP,),
        )
