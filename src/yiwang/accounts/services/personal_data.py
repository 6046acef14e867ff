"""Reads of full personal identifiers: allowed by policy, with a purpose, always recorded."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from yiwang.accounts import policy
from yiwang.accounts.models import (
    DataAccessRecord,
    Person,
    User,
)
from yiwang.accounts.services.errors import IdentityError
from yiwang.core import crypto
from yiwang.core.audit import record_event

PII_FIELDS = ("document_number", "mobile")


def reveal_person_data(
    *,
    actor: User,
    person: Person,
    fields: Iterable[str],
    purpose: str,
    case_reference: str = "",
) -> dict[str, str]:
    """Return full identity values; every read is recorded for the person's data tracker."""
    wanted = [f for f in fields if f in PII_FIELDS]
    if not wanted:
        raise IdentityError("invalid_fields", _("请指定要查看的字段：document_number 或 mobile"))
    purpose = " ".join((purpose or "").split())[:200]
    is_self = actor.person_id == person.pk
    if not is_self and (len(purpose) < 2 or not case_reference):
        raise IdentityError("purpose_required", _("查看完整个人信息须说明用途并关联办件"), field="purpose")
    if not policy.can_read_person_data(actor, person):
        record_event(
            "permission.denied", actor=actor, target=f"accounts.Person:{person.pk}", detail={"action": "pii.read"}
        )
        raise IdentityError("not_found", _("自然人不存在"))
    values: dict[str, str] = {}
    if "document_number" in wanted:
        values["document_number"] = crypto.decrypt(person.document_number_encrypted)
    if "mobile" in wanted and person.mobile_encrypted:
        values["mobile"] = crypto.decrypt(person.mobile_encrypted)
    with transaction.atomic():
        DataAccessRecord.objects.create(
            person=person,
            accessor=actor,
            accessor_label="本人" if is_self else str(actor),
            department_name="" if is_self else policy.primary_department_name(actor),
            fields=wanted,
            purpose=purpose or "本人查看",
            case_reference=case_reference[:80],
        )
        record_event(
            "pii.read",
            actor=actor,
            on_behalf_of_person_id=person.pk,
            target=f"accounts.Person:{person.pk}",
            detail={"fields": wanted, "purpose": purpose, "case": case_reference[:80]},
        )
    return values
