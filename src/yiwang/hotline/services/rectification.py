"""The rectification order (差评整改) a real-name bad rating opens, dispatched straight to the department."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.core import calendar, crypto, numbering
from yiwang.directory import selectors as directory_selectors
from yiwang.hotline.constants import DispatchMode, Source, WorkOrderKind
from yiwang.hotline.models import WorkOrder
from yiwang.hotline.services._shared import actor_label, add_event, next_number
from yiwang.hotline.services.actions import perform
from yiwang.hotline.services.errors import HotlineError
from yiwang.hotline.services.rules import CONTENT_MAX, TITLE_MAX, clean_text


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
        name = actor_label(person_user)
    order = WorkOrder.objects.create(
        number=next_number(calendar.today_local()),
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
    add_event(
        order, "register", actor=None, from_state="", to_state=order.state, detail={"rating": rating_id}, public=True
    )
    return perform(order, "dispatch", actor=None, department=department.code, mode=DispatchMode.RATING)
