"""Reads of the licences app, already filtered by what the caller may see.

A missing licence and one the caller may not see both raise the same
``not_found`` refusal (404), so identifiers cannot be probed.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from yiwang.accounts import policy as accounts_policy
from yiwang.core import calendar
from yiwang.core.assurance_sources import IdentityLicence
from yiwang.core.identifiers import parse_licence_identifier
from yiwang.directory import selectors as directory_selectors
from yiwang.licences import policy
from yiwang.licences.constants import EXPIRY_REMINDER_DAYS, LicenceStatus
from yiwang.licences.models import Licence, LicenceEvent, LicenceShare, LicenceType, MaterialSaving, WalletMaterial
from yiwang.licences.services.errors import LicenceError

if TYPE_CHECKING:
    from yiwang.directory.models import Department


def _holder_filter(user: Any) -> Q:
    condition = Q(pk__in=[])
    person_id = getattr(user, "person_id", None)
    if person_id is not None:
        condition |= Q(holder_person_id=person_id, holder_organisation__isnull=True)
    organisations = policy.organisations_acted_for(user)
    if organisations:
        condition |= Q(holder_organisation_id__in=organisations)
    return condition


def wallet(user: Any, *, include_old: bool = False) -> QuerySet[Licence]:
    """我的证照: the licences of the person and of organisations they act for; superseded versions only on request."""
    if not getattr(user, "is_authenticated", False):
        return Licence.objects.none()
    licences = Licence.objects.filter(_holder_filter(user)).select_related("licence_type", "department")
    if not include_old:
        licences = licences.exclude(status=LicenceStatus.SUPERSEDED)
    return licences.order_by("-issued_on", "-id")


def identity_licences(person_id: int, today: dt.date | None = None) -> list[IdentityLicence]:
    """The person's own identity e-licences (居民身份证电子证照), current versions, with whether each is valid today.

    The provider of ``core.assurance_sources`` for real-name level 4: identity
    checks ask it, and the counter clerk sees the list to pick the one shown.
    """
    today = today or calendar.today_local()
    licences = (
        Licence.objects.filter(
            holder_person_id=person_id, holder_organisation__isnull=True, licence_type__proves_identity=True
        )
        .exclude(status=LicenceStatus.SUPERSEDED)
        .select_related("licence_type")
        .order_by("-issued_on", "-id")
    )
    found = []
    for licence in licences:
        status = licence.effective_status(today)
        found.append(
            IdentityLicence(
                licence_id=licence.pk,
                identifier=licence.identifier,
                type_name=licence.licence_type.name,
                valid=status == LicenceStatus.VALID,
                status_label=str(LicenceStatus(status).label),
            )
        )
    return found


@dataclass(frozen=True)
class WalletEntry:
    licence: Licence
    status: str
    status_label: str
    expires_soon: bool


def wallet_entries(user: Any, today: dt.date | None = None) -> list[WalletEntry]:
    """The wallet with each licence's status as of today and whether it expires within the reminder window."""
    today = today or calendar.today_local()
    return [wallet_entry(licence, today) for licence in wallet(user)]


def wallet_entry(licence: Licence, today: dt.date) -> WalletEntry:
    """One licence's status as of ``today`` and whether it expires within the reminder window."""
    status = licence.effective_status(today)
    soon = (
        status == LicenceStatus.VALID
        and licence.valid_until is not None
        and licence.valid_until <= today + dt.timedelta(days=EXPIRY_REMINDER_DAYS)
    )
    return WalletEntry(licence, status, str(LicenceStatus(status).label), soon)


def get_licence(user: Any, licence_id: int) -> Licence:
    """A licence the user may see (holder side or staff of the issuing department)."""
    licence = Licence.objects.select_related("licence_type", "department").filter(pk=licence_id).first()
    if licence is None or not policy.can_view(user, licence):
        raise LicenceError("not_found", _("电子证照不存在"))
    return licence


def get_own_licence(user: Any, licence_id: int) -> Licence:
    """A licence of the user's wallet (holder side only)."""
    licence = Licence.objects.select_related("licence_type", "department").filter(pk=licence_id).first()
    if licence is None or not policy.is_holder_side(user, licence):
        raise LicenceError("not_found", _("电子证照不存在"))
    return licence


def history(licence: Licence) -> list[LicenceEvent]:
    """Everything that happened to the licence and to its earlier versions, newest first."""
    ids = [licence.pk]
    current = licence
    while current.previous_id is not None:
        ids.append(current.previous_id)
        current = Licence.objects.only("pk", "previous_id").get(pk=current.previous_id)
    return list(LicenceEvent.objects.filter(licence_id__in=ids).select_related("licence").order_by("-id"))


def shares_of(licence: Licence) -> QuerySet[LicenceShare]:
    return licence.shares.annotate(opened=Count("verifications")).order_by("-id")


def holder_shares(user: Any, *, licence_id: int | None = None) -> QuerySet[LicenceShare]:
    """The shares (亮证) of the licences the user holds, superseded versions included, newest first.

    With ``licence_id``, only that licence's; a licence the user does not hold gives an empty list.
    """
    shares = LicenceShare.objects.filter(licence__in=wallet(user, include_old=True).values("pk"))
    if licence_id is not None:
        shares = shares.filter(licence_id=licence_id)
    return shares.select_related("licence__licence_type").prefetch_related("verifications").order_by("-id")


def get_own_share(user: Any, share_id: int) -> LicenceShare:
    """A share of a licence the user holds; someone else's reads exactly as a missing one."""
    share = holder_shares(user).filter(pk=share_id).first()
    if share is None:
        raise LicenceError("not_found", _("亮证记录不存在"))
    return share


@dataclass(frozen=True)
class PublicStatus:
    """What anyone holding a licence (its identifier and 核验码) may learn: no personal data beyond the name."""

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


def public_status(identifier: str, code: str) -> PublicStatus | None:
    """The status of a licence by identifier and 核验码; None when either is wrong (never says which).

    A malformed identifier or a wrong check character raises ``bad_identifier``
    with the reason, so a typing mistake is told apart from an unknown licence.
    """
    from yiwang.licences.services.issuance import seal_verification

    try:
        parsed = parse_licence_identifier(identifier)
    except ValueError as error:
        raise LicenceError("bad_identifier", str(error), field="identifier") from None
    licence = (
        Licence.objects.select_related("licence_type", "department", "next_version")
        .filter(identifier=str(parsed))
        .first()
    )
    if licence is None or not hmac.compare_digest(licence.verification_code, code.strip().upper()):
        return None
    status = licence.effective_status(calendar.today_local())
    newer = getattr(licence, "next_version", None)
    verification = seal_verification(licence)
    return PublicStatus(
        identifier=licence.identifier,
        type_name=licence.licence_type.name,
        holder_name=licence.holder_name,
        issuer=licence.department.name,
        issued_on=licence.issued_on,
        valid_until=licence.valid_until,
        status=status,
        status_label=str(LicenceStatus(status).label),
        status_reason=licence.status_reason if status == LicenceStatus.REVOKED else "",
        newer_identifier=newer.identifier if newer is not None else "",
        seal_intact=verification is None or verification.ok,
        seal_message=verification.message if verification is not None else "",
    )


def types_for_staff(user: Any) -> QuerySet[LicenceType]:
    """Licence types of the departments the staff member works in (all for platform-wide roles)."""
    types = LicenceType.objects.select_related("department").order_by("department__name", "code")
    if accounts_policy.is_platform_admin(user):
        return types
    return accounts_policy.scope_by_department(types, user, roles=(*policy.VIEWING_ROLES, *policy.TYPE_ROLES))


def types_managed(user: Any) -> QuerySet[LicenceType]:
    """Licence types the user may edit (their departments' as department administrator; all for the platform),
    each with ``issued``, the number of licences issued of it."""
    types = LicenceType.objects.select_related("department").annotate(issued=Count("licences"))
    if not accounts_policy.is_platform_admin(user):
        types = accounts_policy.scope_by_department(types, user, roles=policy.TYPE_ROLES)
    return types.order_by("department__sort_order", "department__code", "code")


def get_managed_type(user: Any, type_id: int) -> LicenceType:
    """A licence type the user may edit; one of another department reads exactly as a missing one."""
    licence_type = types_managed(user).filter(pk=type_id).first()
    if licence_type is None:
        raise LicenceError("not_found", _("证照类型不存在"))
    return licence_type


def type_departments(user: Any) -> QuerySet[Department]:
    """Departments the user may define licence types for that can issue (they have a credit code)."""
    departments = directory_selectors.departments().exclude(credit_code="")
    if accounts_policy.is_platform_admin(user):
        return departments
    return accounts_policy.scope_by_department(departments, user, field="code", roles=policy.TYPE_ROLES)


def licences_for_staff(user: Any, *, query: str = "") -> QuerySet[Licence]:
    """Licences issued by the staff member's departments, newest first; ``query`` matches identifier or case."""
    licences = Licence.objects.select_related("licence_type", "department").order_by("-id")
    if not accounts_policy.is_platform_admin(user):
        licences = accounts_policy.scope_by_department(licences, user, roles=policy.VIEWING_ROLES)
    query = query.strip()
    if query:
        licences = licences.filter(Q(identifier=query) | Q(case_number=query) | Q(holder_name=query))
    return licences


def _names(value: str) -> set[str]:
    return {part.strip() for part in value.replace("／", "/").split("/") if part.strip()}


def types_for_material(source_name: str) -> list[LicenceType]:
    """The active licence types a catalogue material's ``source_name`` (电子证照类型) names."""
    wanted = _names(source_name)
    if not wanted:
        return []
    return [
        licence_type
        for licence_type in LicenceType.objects.filter(active=True)
        if wanted & ({licence_type.name} | set(licence_type.material_names))
    ]


def wallet_materials(application_id: int) -> dict[str, WalletMaterial]:
    """Materials of an application taken from the wallet, by material key."""
    rows = WalletMaterial.objects.filter(application_id=application_id).select_related("licence__licence_type")
    return {row.material_key: row for row in rows}


def materials_saved(case_ids: Iterable[int] | None = None) -> QuerySet[MaterialSaving]:
    """六减: the materials cases did not need on paper because they came from the wallet."""
    rows = MaterialSaving.objects.all()
    if case_ids is not None:
        rows = rows.filter(case_id__in=list(case_ids))
    return rows.order_by("id")


def materials_saved_count(case_number: str) -> int:
    """How many materials one case took from the wallet instead of paper."""
    return MaterialSaving.objects.filter(case_number=case_number).count()


def materials_saved_counts(case_numbers: Sequence[str]) -> dict[str, int]:
    """六减 (免交): per case number, how many materials the wallet supplied (the kernel's savings registry)."""
    rows = (
        MaterialSaving.objects.filter(case_number__in=list(case_numbers))
        .values("case_number")
        .annotate(count=Count("id"))
    )
    return {row["case_number"]: row["count"] for row in rows}
