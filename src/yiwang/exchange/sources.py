"""The provider side on this node: each backend reads its department's table and answers with field values.

A backend answers every field it holds, keyed as the resource's fields are
(``ResourceField.key``); the transport keeps only the fields asked for. None
means the provider holds no record of the subject. Dates are ISO text, so the
answer is plain JSON wherever it travels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .constants import Backend, SubjectKind
from .models import (
    CreditRecord,
    EnterpriseRecord,
    HouseholdRecord,
    MarriageRecord,
    RealEstateRecord,
    SocialInsuranceRecord,
)


@dataclass(frozen=True)
class Subject:
    """Whose data: a person by the blind index of their resident ID, or an organisation by its credit code.

    ``key`` is the blind index or the credit code; ``masked`` is what screens
    and records show; ``person_id`` is the platform's person, when known.
    ``number`` is the resident ID itself when the caller typed it (a blind
    index means nothing on another node, so a remote provider is sent the
    number); never shown, never compared.
    """

    kind: str
    key: str
    masked: str
    person_id: int | None = None
    number: str = field(default="", repr=False, compare=False)


Answer = dict[str, str]


def _household(subject: Subject) -> Answer | None:
    row = HouseholdRecord.objects.filter(id_number_index=subject.key).first()
    if row is None:
        return None
    return {
        "name": row.name,
        "id_number": row.id_number_masked,
        "gender": row.gender,
        "ethnicity": row.ethnicity,
        "birth_date": row.birth_date.isoformat(),
        "address": row.address,
        "household_number": row.household_number,
        "household_head": row.household_head,
        "relation_to_head": row.relation_to_head,
    }


def _enterprise(subject: Subject) -> Answer | None:
    row = EnterpriseRecord.objects.filter(credit_code=subject.key).first()
    if row is None:
        return None
    return {
        "credit_code": row.credit_code,
        "name": row.name,
        "kind": row.kind,
        "legal_representative": row.legal_representative,
        "registered_capital": row.registered_capital,
        "established_on": row.established_on.isoformat(),
        "address": row.address,
        "business_scope": row.business_scope,
        "status": row.status,
    }


def _social_insurance(subject: Subject) -> Answer | None:
    row = SocialInsuranceRecord.objects.filter(id_number_index=subject.key).first()
    if row is None:
        return None
    return {
        "name": row.name,
        "insurance_types": row.insurance_types,
        "status": row.status,
        "employer": row.employer,
        "since": row.since.isoformat(),
        "months_paid": str(row.months_paid),
    }


def _real_estate(subject: Subject) -> Answer | None:
    rows = list(RealEstateRecord.objects.filter(id_number_index=subject.key).order_by("registered_on", "id"))
    if not rows:
        return None
    return {
        "name": rows[0].name,
        "property_count": str(len(rows)),
        "properties": "；".join(
            f"{row.certificate_number}，{row.location}，{row.area}平方米，{row.use}，{row.share}" for row in rows
        ),
    }


def _marriage(subject: Subject) -> Answer | None:
    row = MarriageRecord.objects.filter(id_number_index=subject.key).first()
    if row is None:
        return None
    return {
        "name": row.name,
        "status": row.status,
        "spouse_name": row.spouse_name,
        "registered_on": row.registered_on.isoformat() if row.registered_on else "",
        "registry": row.registry,
    }


def _credit(subject: Subject) -> Answer:
    # Absence from the lists is itself the answer (信用核查: 未列入), so there is always one.
    rows = list(
        CreditRecord.objects.filter(subject_kind=subject.kind, subject_index=subject.key, removed_on__isnull=True)
    )
    return {
        "listed": "是" if rows else "否",
        "entries": "；".join(
            f"{row.list_name}（{row.listed_by}，{row.listed_on.isoformat()}）：{row.reason}" for row in rows
        ),
    }


BACKENDS: dict[str, Callable[[Subject], Answer | None]] = {
    Backend.HOUSEHOLD: _household,
    Backend.ENTERPRISE: _enterprise,
    Backend.SOCIAL_INSURANCE: _social_insurance,
    Backend.REAL_ESTATE: _real_estate,
    Backend.MARRIAGE: _marriage,
    Backend.CREDIT: _credit,
}

# Which kind of subject each backend is keyed by (credit lists hold both).
BACKEND_SUBJECTS: dict[str, frozenset[str]] = {
    Backend.HOUSEHOLD: frozenset({SubjectKind.PERSON}),
    Backend.ENTERPRISE: frozenset({SubjectKind.ORGANISATION}),
    Backend.SOCIAL_INSURANCE: frozenset({SubjectKind.PERSON}),
    Backend.REAL_ESTATE: frozenset({SubjectKind.PERSON}),
    Backend.MARRIAGE: frozenset({SubjectKind.PERSON}),
    Backend.CREDIT: frozenset({SubjectKind.PERSON, SubjectKind.ORGANISATION}),
}


def lookup(backend: str, subject: Subject) -> Answer | None:
    """Every field the backend's table holds about the subject, or None when it holds no record."""
    return BACKENDS[backend](subject)
