"""Reads of the exchange app, already filtered by what the caller may see."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Q, QuerySet

from yiwang.accounts import selectors as accounts_selectors
from yiwang.directory import selectors as directory_selectors

from . import policy
from .constants import OpenType, SubjectKind
from .models import Batch, Consent, DataService, ExchangeRecord, Resource, SharedMaterialSaving


def public_resources() -> QuerySet[Resource]:
    """The catalogue entries the public sees: active and not 不予开放 (the entry, never anyone's data)."""
    return (
        Resource.objects.filter(active=True)
        .exclude(open_type=OpenType.NOT_OPEN)
        .select_related("department")
        .prefetch_related("fields", "services")
    )


def all_resources() -> QuerySet[Resource]:
    """The whole catalogue (staff): every active resource with its fields and services."""
    return Resource.objects.filter(active=True).select_related("department").prefetch_related("fields", "services")


def services() -> QuerySet[DataService]:
    return DataService.objects.filter(active=True, resource__active=True).select_related("resource__department")


def requesting_departments(user: Any) -> list[tuple[str, str]]:
    """(code, name) of the departments ``user`` may request data for."""
    return [(code, name) for code, name in directory_selectors.department_names() if policy.may_request_for(user, code)]


def exchanges_seen_by(user: Any) -> QuerySet[ExchangeRecord]:
    """Exchanges ``user``'s departments requested or provided (all for platform staff), newest first."""
    records = ExchangeRecord.objects.select_related("service__resource__department", "consumer")
    scope = policy.viewing_scope(user)
    if scope is None:
        return records
    if not scope:
        return records.none()
    return records.filter(consumer__code__in=scope) | records.filter(service__resource__department__code__in=scope)


def my_exchanges(user: Any) -> QuerySet[ExchangeRecord]:
    """Exchanges of the signed-in person's own data, and of the organisations they legally represent (营业执照
    信息 fetched for an application they made for their business), refusals included, newest first."""
    person_id = getattr(user, "person_id", None)
    if not getattr(user, "is_authenticated", False) or person_id is None:
        return ExchangeRecord.objects.none()
    codes = list(accounts_selectors.organisations_represented(user).values_list("credit_code", flat=True))
    about = Q(subject_person_id=person_id)
    if codes:
        about |= Q(subject_kind=SubjectKind.ORGANISATION, subject_index__in=codes)
    return ExchangeRecord.objects.filter(about).select_related("service__resource__department", "consumer")


def my_consents(user: Any) -> QuerySet[Consent]:
    """The signed-in person's consents, newest first."""
    person_id = getattr(user, "person_id", None)
    if not getattr(user, "is_authenticated", False) or person_id is None:
        return Consent.objects.none()
    return Consent.objects.filter(person_id=person_id).select_related("service__resource__department", "consumer")


def consentable_services() -> QuerySet[DataService]:
    """Services over a person's data that share conditionally: the ones a person may consent to."""
    from .constants import ShareType, SubjectKind

    return services().filter(resource__subject_kind=SubjectKind.PERSON, resource__share_type=ShareType.CONDITIONAL)


def materials_saved(case_ids: list[int] | None = None) -> QuerySet[SharedMaterialSaving]:
    """六减: the materials cases did not need on paper because a data service supplied them."""
    rows = SharedMaterialSaving.objects.all()
    if case_ids is not None:
        rows = rows.filter(case_id__in=case_ids)
    return rows.order_by("id")


def materials_saved_count(case_number: str) -> int:
    """How many materials one case got by data sharing instead of paper."""
    return SharedMaterialSaving.objects.filter(case_number=case_number).count()


def materials_saved_counts(case_numbers: Sequence[str]) -> dict[str, int]:
    """六减 (免交): per case number, how many materials data sharing supplied (the kernel's savings registry)."""
    rows = (
        SharedMaterialSaving.objects.filter(case_number__in=list(case_numbers))
        .values("case_number")
        .annotate(count=Count("id"))
    )
    return {row["case_number"]: row["count"] for row in rows}


def batches_seen_by(user: Any) -> QuerySet[Batch]:
    """前置库 batches of the departments ``user`` works for (all for platform staff), newest first."""
    rows = Batch.objects.select_related("department", "resource")
    scope = policy.viewing_scope(user)
    if scope is None:
        return rows
    return rows.filter(department__code__in=scope) if scope else rows.none()
