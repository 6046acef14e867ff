"""Reads of an applicant's full personal data by the staff who hold the case (docs/adr/0011).

The case decides whether the read is justified (an open case, a task the
staff member holds, the person is its applicant); accounts counts, limits,
records and decrypts. A missing case and one the staff member may not read
from answer the same 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from yiwang.accounts import policy as accounts_policy
from yiwang.accounts import services as accounts_services
from yiwang.accounts.constants import RevealPurpose
from yiwang.cases import policy
from yiwang.cases.models import Case
from yiwang.cases.services.errors import CaseError, CaseNotFound
from yiwang.core.audit import record_event

# The reasons a case's staff may give; the hotline's purposes are not theirs.
CASE_REVEAL_PURPOSES = (RevealPurpose.CONTACT_APPLICANT, RevealPurpose.VERIFY_IDENTITY)
REVEALABLE_FIELDS = ("document_number", "mobile", "name")


def _department_name(user: Any, case: Case) -> str:
    """The department in which the staff member holds the case: the case's own, else their first."""
    if accounts_policy.in_scope(user, case.department.code):
        return case.department.name
    return accounts_policy.primary_department_name(user)


def _justified_case(actor: Any, number: str, check: Any) -> Case:
    case = Case.objects.select_related("department").filter(number=number).first()
    if case is None or not check(actor, case):
        record_event(
            "permission.denied",
            actor=actor if getattr(actor, "pk", None) else None,
            target=f"cases.Case:{number[:64]}",
            detail={"action": "pii.read"},
        )
        raise CaseNotFound("not_found", _("办件不存在"))
    return case


def reveal_applicant(*, actor: Any, number: str, fields: Iterable[str], purpose: str) -> dict[str, str]:
    """The applicant's full ID number, mobile or name for a staff member holding a task on the open case.

    Recorded in the applicant's "谁查看了我的信息" list and the audit log;
    refused with 404 for anyone else and 429 beyond the hourly limit.
    """
    case = _justified_case(actor, number, policy.may_reveal_applicant)
    if purpose not in CASE_REVEAL_PURPOSES:
        raise CaseError("invalid_purpose", _("请从列表中选择查看用途"), field="purpose")
    justification = accounts_services.RevealJustification(
        person_id=case.applicant_person_id,
        reference=case.number,
        department_name=_department_name(actor, case),
        purpose=purpose,
    )
    return accounts_services.reveal_person_data(actor=actor, justification=justification, fields=fields)


def applicant_name_for_document(*, actor: Any, case: Case) -> str | None:
    """The applicant's full name for a document printed by a handler of the case (recorded); None otherwise.

    None also when the staff member has reached the hourly limit: the
    document is then printed with the masked name rather than not at all.
    """
    if case.applicant_organisation_id is not None or not policy.handles_case(actor, case):
        return None
    justification = accounts_services.RevealJustification(
        person_id=case.applicant_person_id,
        reference=case.number,
        department_name=_department_name(actor, case),
        purpose=RevealPurpose.DOCUMENT,
    )
    try:
        values = accounts_services.reveal_person_data(actor=actor, justification=justification, fields=["name"])
    except accounts_services.IdentityError as refused:
        if refused.code != "reveal_limit":
            raise
        return None
    return values.get("name")
