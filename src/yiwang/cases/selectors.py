"""Reads of case handling: my applications and cases, timelines, public progress, the staff workbench.

Objects are fetched so that a missing and a forbidden one look the same (404).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.cases import definitions, policy
from yiwang.cases.constants import OPEN_CASE_STATES, ApplicationState, CaseState, Channel, TaskStatus
from yiwang.cases.models import (
    Application,
    BundleSubmission,
    Case,
    CaseEvent,
    CaseTask,
    CorrectionNotice,
    FieldSaving,
)
from yiwang.cases.services.applications import application_definition
from yiwang.cases.services.applications import item_definition as cached_item_definition
from yiwang.cases.workflow import action_label
from yiwang.core import calendar, material_sources

if TYPE_CHECKING:
    from yiwang.catalog.models import ServiceItem

WORKBENCH_PAGE_SIZE = 20


def _applicant_filter(user: Any) -> Q:
    conditions = Q(pk__in=[])
    if getattr(user, "person_id", None) is not None:
        conditions |= Q(applicant_person_id=user.person_id, applicant_organisation__isnull=True)
    organisations = list(accounts_selectors.organisations_represented(user).values_list("pk", flat=True))
    if organisations:
        conditions |= Q(applicant_organisation_id__in=organisations)
    return conditions


def my_cases(user: Any, *, outside_bundles: bool = False) -> QuerySet[Case]:
    """Cases of the person, of organisations they represent, and those they filled in for others.

    ``outside_bundles`` leaves out the cases of 一件事 submissions, which are listed by :func:`my_bundles`.
    """
    if not getattr(user, "is_authenticated", False):
        return Case.objects.none()
    cases = Case.objects.filter(_applicant_filter(user) | Q(application__created_by=user))
    if outside_bundles:
        cases = cases.filter(application__bundle_submission__isnull=True)
    return cases.select_related("department").order_by("-submitted_at", "-id")


def _with_cases(bundles: QuerySet[BundleSubmission]) -> QuerySet[BundleSubmission]:
    member_cases = Case.objects.select_related("department").order_by("id")
    return bundles.select_related("application").prefetch_related(Prefetch("application__cases", queryset=member_cases))


def my_bundles(user: Any) -> QuerySet[BundleSubmission]:
    """The user's 一件事 submissions, newest first, each with its cases (two more queries for any number)."""
    if not getattr(user, "is_authenticated", False):
        return BundleSubmission.objects.none()
    bundles = BundleSubmission.objects.filter(_applicant_filter(user) | Q(application__created_by=user))
    return _with_cases(bundles).order_by("-submitted_at", "-id")


def get_bundle_submission(user: Any, number: str) -> BundleSubmission:
    """A bundle submission of the user's applicant side; 404 for a missing one and anyone else's alike."""
    bundle = _with_cases(BundleSubmission.objects.filter(number=number.strip().upper())).first()
    if bundle is None or not policy.is_bundle_applicant(user, bundle.application):
        raise Http404(_("办件不存在"))
    return bundle


def bundle_of(application: Application) -> BundleSubmission | None:
    """The bundle submission an application made, if it was a 一件事 application."""
    return BundleSubmission.objects.filter(application=application).first()


def my_drafts(user: Any) -> QuerySet[Application]:
    if not getattr(user, "is_authenticated", False):
        return Application.objects.none()
    return Application.objects.filter(
        Q(created_by=user) | (_applicant_filter(user) & Q(agent__isnull=True)), state=ApplicationState.DRAFT
    ).order_by("-updated_at")


def has_own_draft(user: Any, *, item_code: str = "", bundle_code: str = "") -> bool:
    """Whether the user has an online draft of their own for this item or bundle (在线办理 then continues it)."""
    return Application.objects.filter(
        created_by=user,
        applicant_person_id=user.person_id,
        agent__isnull=True,
        item_code=item_code,
        bundle_code=bundle_code,
        channel=Channel.ONLINE,
        state=ApplicationState.DRAFT,
    ).exists()


def get_application(user: Any, application_id: int) -> Application:
    application = Application.objects.filter(pk=application_id).first()
    if application is None or not policy.can_edit_application(user, application):
        raise Http404(_("申请不存在"))
    return application


def get_case(user: Any, number: str) -> Case:
    """A case the user may see, as applicant side or staff; 404 otherwise."""
    case = Case.objects.select_related("item", "department", "application").filter(number=number).first()
    if case is None or not policy.can_view_case(user, case):
        raise Http404(_("办件不存在"))
    return case


def case_for_department_system(department_codes: frozenset[str], number: str) -> Case:
    """A case a department system may read (its department tree's); 404 otherwise, exactly like a missing one."""
    case = Case.objects.select_related("item", "department", "application").filter(number=number).first()
    if case is None or not policy.department_system_may_read(department_codes, case):
        raise Http404(_("办件不存在"))
    return case


def timeline(case: Case, *, for_staff: bool) -> list[CaseEvent]:
    events = case.events.select_related("actor").order_by("id")
    if not for_staff:
        events = events.filter(public=True)
    return list(events)


def open_correction(case: Case) -> CorrectionNotice | None:
    return case.corrections.filter(resolved_at__isnull=True).order_by("-id").first()


@dataclass
class Expectation:
    """What the applicant must do now, if anything, in words they understand."""

    kind: str  # correction | payment | collection | none
    message: str
    due: dt.date | None = None
    items: list[dict[str, str]] = field(default_factory=list)


def expected_of_applicant(case: Case) -> Expectation:
    if case.state == CaseState.CORRECTION_REQUESTED:
        notice = open_correction(case)
        return Expectation(
            "correction",
            _("请按补正告知一次性补齐以下材料或信息，补正期间办理时限暂停计算。"),
            notice.due if notice else None,
            list(notice.items) if notice else [],
        )
    if case.state == CaseState.AWAITING_PAYMENT:
        return Expectation("payment", _("请缴纳费用，缴费确认后进入制证环节。"))
    if case.state == CaseState.READY_FOR_COLLECTION:
        result = case.item.result_name or _("办理结果")
        return Expectation("collection", _("%(result)s已制作完成，请按约定方式领取。") % {"result": result})
    return Expectation("none", "")


def deadline_warning(case: Case, today: dt.date | None = None) -> str:
    today = today or calendar.today_local()
    if case.state not in OPEN_CASE_STATES:
        return calendar.DeadlineWarning.NONE
    return calendar.deadline_warning(case.promised_due, today, paused=case.paused_since is not None)


@dataclass(frozen=True)
class PublicProgress:
    """办件查询: what anyone with the number and code may see — no personal data."""

    number: str
    item_name: str
    department: str
    state: str
    state_label: str
    submitted_on: dt.date
    promised_due: dt.date | None
    steps: list[tuple[str, dt.datetime]]


def public_progress(number: str, code: str) -> PublicProgress | None:
    """The public progress of a case, or None when the number or the code is wrong (never says which)."""
    case = Case.objects.select_related("department").filter(number=number.strip().upper()).first()
    if case is None or not hmac.compare_digest(case.verification_code, code.strip().upper()):
        return None
    return _progress_of(case)


@dataclass(frozen=True)
class PublicBundleProgress:
    """办件查询 of a 一件事 by its one number and code: each case's public progress, no personal data."""

    number: str
    bundle_name: str
    submitted_on: dt.date
    cases: list[PublicProgress]


def _progress_of(case: Case) -> PublicProgress:
    steps = [
        (action_label(e.action), e.created_at)
        for e in case.events.filter(public=True).order_by("id").only("action", "created_at")
    ]
    return PublicProgress(
        number=case.number,
        item_name=case.item_name,
        department=case.department.name,
        state=case.state,
        state_label=str(CaseState(case.state).label),
        submitted_on=timezone.localdate(case.submitted_at),
        promised_due=case.promised_due,
        steps=steps,
    )


def public_bundle_progress(number: str, code: str) -> PublicBundleProgress | None:
    """The public progress of a bundle's cases, or None when the number or the code is wrong (never says which)."""
    bundle = _with_cases(BundleSubmission.objects.filter(number=number.strip().upper())).first()
    if bundle is None or not hmac.compare_digest(bundle.verification_code, code.strip().upper()):
        return None
    return PublicBundleProgress(
        number=bundle.number,
        bundle_name=bundle.bundle_name,
        submitted_on=timezone.localdate(bundle.submitted_at),
        cases=[_progress_of(case) for case in bundle.application.cases.all()],
    )


@dataclass(frozen=True)
class WorkbenchFilters:
    state: str = ""
    deadline: str = ""  # overdue | due_soon | paused
    number: str = ""


def workbench(user: Any, filters: WorkbenchFilters | None = None) -> QuerySet[CaseTask]:
    """The open tasks ``user`` works on, overdue first, then by due date: one query, no N+1."""
    filters = filters or WorkbenchFilters()
    scope = policy.task_scope(user)
    if scope is None:
        return CaseTask.objects.none()
    tasks = CaseTask.objects.filter(scope, status=TaskStatus.OPEN)
    if filters.state:
        tasks = tasks.filter(case__state=filters.state)
    if filters.number:
        tasks = tasks.filter(case__number=filters.number.strip().upper())
    today = calendar.today_local()
    if filters.deadline == "overdue":
        tasks = tasks.filter(due__lt=today)
    elif filters.deadline == "due_soon":
        tasks = tasks.filter(due__gte=today, due__lte=calendar.add_working_days(today, 2).date)
    elif filters.deadline == "paused":
        tasks = tasks.filter(case__paused_since__isnull=False)
    return tasks.select_related("case", "department").order_by(F("due").asc(nulls_last=True), "id")


def case_tasks(case: Case) -> list[CaseTask]:
    return list(case.tasks.select_related("department", "completed_by").order_by("id"))


def files_of(case: Case) -> QuerySet[Any]:
    return case.application.files.filter(superseded_at__isnull=True).order_by("material_key", "id")


def item_definition(item_code: str) -> definitions.ApplicationDefinition:
    """What an application for the published item ``item_code`` asks (its fields and materials); 404 if none.

    For callers that build an application elsewhere (跨省通办: a peer node's form for one of our items).
    """
    return application_definition(Application(item_code=item_code))


def loaded_item_definition(item: ServiceItem) -> definitions.ApplicationDefinition:
    """As :func:`item_definition`, for a published item the caller has already loaded with its materials and fees
    (``catalog.selectors.online_application_items``): no query of its own, whatever the number of items."""
    return cached_item_definition(item)


def case_by_number(number: str) -> Case:
    """A case by its number, for the platform itself (no caller to check); 404 if none."""
    case = Case.objects.select_related("department").filter(number=number).first()
    if case is None:
        raise Http404("办件不存在")
    return case


def action_name(action: str) -> str:
    """A case action's name as the applicant's timeline shows it, in the active language."""
    return action_label(action)


def case_by_id(case_id: int) -> Case | None:
    """A case by id with its item, department and application, for higher apps' outbox handlers.

    No access check: the caller acts for the platform on an event about this case.
    """
    return Case.objects.select_related("item", "department", "application").filter(pk=case_id).first()


def get_own_case(user: Any, number: str) -> Case:
    """A case ``user`` applied for (or applied for on someone's behalf); 404 for anyone else's."""
    case = Case.objects.select_related("item", "department", "application").filter(number=number).first()
    if case is None or not policy.is_case_applicant(user, case):
        raise Http404(_("办件不存在"))
    return case


def case_with_code(number: str, code: str) -> Case | None:
    """The case with this number when ``code`` is its verification code (the caller holds the receipt)."""
    case = Case.objects.select_related("item", "department").filter(number=number.strip()).first()
    if case is None or not hmac.compare_digest(case.verification_code, code.strip().upper()):
        return None
    return case


def finished_cases() -> QuerySet[Case]:
    """Cases that reached a final state (办结, 不予许可, 不予受理, 撤回), oldest first."""
    return Case.objects.exclude(state__in=sorted(OPEN_CASE_STATES)).order_by("id")


def document_content(
    case: Case, kind: str, *, applicant: str, sequence: int | None = None, licences: list[str] | None = None
) -> dict[str, Any]:
    """What the case's printed document ``kind`` says, as plain data (see :mod:`yiwang.cases.document_content`):
    the print page renders it and the licences app seals it. Http404 when the case has no such document."""
    from yiwang.cases import document_content as content  # it reads the page data, which imports this module

    return content.document_content(case, kind, applicant=applicant, sequence=sequence, licences=licences)


# --- 六减: what cases spared their applicants ---------------------------------------------------------------


@dataclass(frozen=True)
class CaseSavings:
    """减填 and 免交 of one case: fields prefilled and kept, materials supplied by a licence or data service."""

    fields_saved: int
    materials_saved: int


def fields_saved(case_ids: Iterable[int] | None = None) -> QuerySet[FieldSaving]:
    """六减 (减填): the fields cases' applicants did not type, one row per case and field (for oversight)."""
    rows = FieldSaving.objects.all()
    if case_ids is not None:
        rows = rows.filter(case_id__in=list(case_ids))
    return rows.order_by("id")


def case_savings(case: Case) -> CaseSavings:
    """The 六减 figures of one case (the materials as far as the sources have recorded them)."""
    materials = material_sources.materials_saved([case.number]).get(case.number, 0)
    return CaseSavings(fields_saved=FieldSaving.objects.filter(case=case).count(), materials_saved=materials)
