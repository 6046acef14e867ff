"""Applicant pages of case handling: apply, fill in and submit, my cases, a case, 办件查询, printed documents.

Views parse, authorise and call :mod:`yiwang.cases.services`; what they show
comes from :mod:`yiwang.cases.selectors` and :mod:`yiwang.cases.page_data`'s modules.
A missing and a forbidden application or case both answer 404.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts import services as accounts_services
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import case_records
from yiwang.core.http import client_address, safe_next

from . import forms, policy, selectors, services
from .constants import ApplicationState, Channel
from .models import Application, Case
from .page_data import applicant_case, applications, documents, intake, staff

if TYPE_CHECKING:
    from yiwang.accounts.models import User


MY_CASES_PAGE_SIZE = 20
MY_BUNDLES_SHOWN = 50
ANSWER_PREFIX = "answer-"
FIELD_PREFIX = "field-"
FOCUS_RE = re.compile(r"answer-[A-Za-z0-9_-]{1,80}")


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _application_url(application: Application, *, check: bool = False, anchor: str = "") -> str:
    url = reverse("cases:application", args=[application.pk])
    return url + ("?check=1" if check else "") + (f"#{anchor}" if anchor else "")


# --- starting an application --------------------------------------------------------


def _refused(request: HttpRequest, reason: str, **context: Any) -> HttpResponse:
    return render(request, "cases/apply_refused.html", {"reason": reason, **context}, status=403)


def _chosen_applicant(user: User, choice: str, item_codes: list[str]) -> services.Applicant:
    """为谁办理: ``self``, ``organisation:<id>`` (one the user represents) or ``delegation:<id>`` (a grantor
    who delegated every one of ``item_codes``: the item, or each item of a bundle)."""
    kind, _sep, raw_id = choice.partition(":")
    if kind == "organisation" and raw_id.isdigit():
        return services.applicant_for(user, organisation_id=int(raw_id))
    if kind == "delegation" and raw_id.isdigit():
        # Only a delegation this user received, still active and covering the item (404/refusal otherwise).
        delegation = accounts_selectors.get_own_delegation(user, int(raw_id))
        acting = accounts_services.act_for_by_delegation(actor=user, delegation=delegation, item_codes=item_codes)
        return services.applicant_for(user, acting=acting)
    return services.applicant_for(user)


def _start(request: HttpRequest, item_codes: list[str], *, item_code: str = "", bundle_code: str = "") -> HttpResponse:
    user = _user(request)
    try:
        applicant = _chosen_applicant(user, request.POST.get("applicant") or "self", item_codes)
        application = services.start_application(
            actor=user,
            applicant=applicant,
            item_code=item_code,
            bundle_code=bundle_code,
            channel=Channel.ONLINE,
            resume=True,
        )
    except (services.CaseError, accounts_services.IdentityError) as error:
        return _refused(request, error.code, message=error.message)
    return redirect("cases:application", application_id=application.pk)


@login_required
@require_http_methods(["GET", "POST"])
def apply_item(request: HttpRequest, code: str) -> HttpResponse:
    """在线办理: a page that says what the application needs, whose button opens the draft."""
    item = catalog_selectors.get_item(code)
    user = _user(request)
    if not applications.applies_online(item):
        return _refused(request, "offline", item=item)
    if not item.guide_complete:
        return _refused(request, "guide_incomplete", item=item)
    if user.person_id is None:
        return _refused(request, "identity_required", item=item)
    gap = applications.assurance_gap(user.person_id, item)
    if gap is not None:
        return _refused(request, "assurance_too_low", item=item, gap=gap)
    # Grantors who delegated this item to the user: the delegate applies for them (为谁办理).
    delegations = [d for d in accounts_selectors.delegations_received(user) if d.covers(item.code)]
    if request.method == "POST":
        if "applicant" not in request.POST and delegations:
            # The guide's 在线办理 button says nothing about whom for: ask first.
            return redirect("cases:apply_item", code=item.code)
        return _start(request, [item.code], item_code=item.code)
    organisations = accounts_selectors.organisations_represented(user) if item.audience != "person" else []
    return render(
        request,
        "cases/apply_start.html",
        {
            "item": item,
            "title": item.name,
            "organisations": organisations,
            "delegations": delegations,
            "materials": item.materials.all(),
            "has_draft": selectors.has_own_draft(user, item_code=item.code),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def apply_bundle(request: HttpRequest, code: str) -> HttpResponse:
    """一件事一次办: one application for the bundle's items."""
    view = catalog_selectors.get_bundle(code)
    user = _user(request)
    if user.person_id is None:
        return _refused(request, "identity_required", bundle=view.bundle)
    for member in view.members:
        gap = applications.assurance_gap(user.person_id, member.item)
        if gap is not None:
            return _refused(request, "assurance_too_low", bundle=view.bundle, item=member.item, gap=gap)
    # Grantors who delegated every item of the bundle to the user (为谁办理), as for a single item.
    member_codes = [member.item.code for member in view.members]
    delegations = [d for d in accounts_selectors.delegations_received(user) if d.covers_all(member_codes)]
    if request.method == "POST":
        if "applicant" not in request.POST and delegations:
            return redirect("cases:apply_bundle", code=view.bundle.code)
        return _start(request, member_codes, bundle_code=view.bundle.code)
    organisations = accounts_selectors.organisations_represented(user) if view.bundle.audience != "person" else []
    return render(
        request,
        "cases/apply_start.html",
        {
            "bundle": view.bundle,
            "title": view.bundle.name,
            "organisations": organisations,
            "delegations": delegations,
            "members": view.members,
            "has_draft": selectors.has_own_draft(user, bundle_code=view.bundle.code),
        },
    )


# --- the application page -----------------------------------------------------------


def _render_application(
    request: HttpRequest,
    application: Application,
    *,
    show_problems: bool,
    upload_error: tuple[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    view = applications.application_view(
        application, show_problems=show_problems, upload_error=upload_error, user=request.user
    )
    return render(
        request,
        "cases/application.html",
        {
            "view": view,
            "application": application,
            # A fresh key per rendering: a double click or a refresh of the submission sends the same one.
            "submission_key": uuid.uuid4().hex,
            "acting": intake.acting_label(application) if application.agent_id == request.user.pk else "",
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def application_page(request: HttpRequest, application_id: int) -> HttpResponse:
    """The application: situations, then the fields and materials that apply; POST saves the draft."""
    user = _user(request)
    application = selectors.get_application(user, application_id)
    if application.state == ApplicationState.SUBMITTED:
        return redirect("cases:application_submitted", application_id=application.pk)
    if application.state != ApplicationState.DRAFT:
        raise Http404(_("申请不存在"))
    if request.method == "POST":
        answers = {k[len(ANSWER_PREFIX) :]: v for k, v in request.POST.items() if k.startswith(ANSWER_PREFIX)}
        data = {k[len(FIELD_PREFIX) :]: v for k, v in request.POST.items() if k.startswith(FIELD_PREFIX)}
        try:
            services.save_draft(application, actor=user, answers=answers, form_data=data)
        except services.CaseError as error:
            messages.error(request, error.message)
            return redirect(_application_url(application))
        if request.POST.get("action") == "refresh":
            # The answers changed what applies: show the new form, without calling everything missing yet,
            # and bring the person back to the question they answered.
            focus = request.POST.get("focus", "")
            anchor = focus if FOCUS_RE.fullmatch(focus) else "fields"
            return redirect(_application_url(application, anchor=anchor))
        messages.success(request, _("草稿已保存。下面标出了提交前还需要补充的内容。"))
        return redirect(_application_url(application, check=True, anchor="problems"))
    return _render_application(request, application, show_problems=request.GET.get("check") == "1")


@login_required
@require_POST
def application_upload(request: HttpRequest, application_id: int) -> HttpResponse:
    """Upload one material file (also for a correction, from the case page)."""
    user = _user(request)
    application = selectors.get_application(user, application_id)
    key = request.POST.get("material_key", "")[:64]
    upload = request.FILES.get("file")
    fallback = _application_url(application, anchor=f"material-{key}")
    target = safe_next(request, fallback)
    if upload is None:
        message = _("请选择要上传的文件")
    else:
        try:
            stored = services.attach_file(
                application,
                actor=user,
                material_key=key,
                name=upload.name or "",
                stream=upload,
            )
        except services.CaseNotFound as error:
            raise Http404(error.message) from error
        except services.CaseError as error:
            message = error.message
        else:
            messages.success(request, _("已上传：%(name)s") % {"name": stored.original_name})
            return HttpResponseRedirect(target)
    if application.state == ApplicationState.DRAFT and key in applications.material_keys(application):
        return _render_application(request, application, show_problems=False, upload_error=(key, message), status=400)
    messages.error(request, message)
    return HttpResponseRedirect(target)


@login_required
@require_POST
def application_remove_file(request: HttpRequest, application_id: int, file_id: int) -> HttpResponse:
    user = _user(request)
    application = selectors.get_application(user, application_id)
    try:
        services.remove_file(application, actor=user, file_id=file_id)
    except services.CaseNotFound as error:
        raise Http404(error.message) from error
    except services.CaseError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("文件已移除"))
    return redirect(_application_url(application, anchor="materials"))


@login_required
@require_POST
def application_submit(request: HttpRequest, application_id: int) -> HttpResponse:
    user = _user(request)
    application = selectors.get_application(user, application_id)
    try:
        services.submit_application(application, actor=user, submission_key=request.POST.get("submission_key", ""))
    except services.CaseNotFound as error:
        raise Http404(error.message) from error
    except services.CaseError as error:
        messages.error(request, error.message)
        return redirect(_application_url(application, check=True, anchor="problems"))
    return redirect("cases:application_submitted", application_id=application.pk)


@login_required
@require_GET
def application_submitted(request: HttpRequest, application_id: int) -> HttpResponse:
    """After submission: every case the application made, with its number and 查询码."""
    user = _user(request)
    application = selectors.get_application(user, application_id)
    if application.state != ApplicationState.SUBMITTED:
        return redirect("cases:application", application_id=application.pk)
    cases = intake.application_cases(application)
    return render(
        request,
        "cases/submitted.html",
        {
            "application": application,
            "bundle": selectors.bundle_of(application),
            "cases": [(case, intake.accept_allowed(user, case)) for case in cases],
            "is_staff_agent": application.agent_id == user.pk and application.channel == Channel.COUNTER,
        },
    )


@login_required
@require_POST
def application_abandon(request: HttpRequest, application_id: int) -> HttpResponse:
    user = _user(request)
    application = selectors.get_application(user, application_id)
    try:
        services.abandon_application(application, actor=user)
    except services.CaseNotFound as error:
        raise Http404(error.message) from error
    except services.CaseError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("草稿已删除"))
    return redirect("cases:my_cases")


# --- my cases and one case ---------------------------------------------------------


@login_required
@require_GET
def my_cases(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    page = Paginator(selectors.my_cases(user, outside_bundles=True), MY_CASES_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    drafts = list(selectors.my_drafts(user)[:50])
    bundles = list(selectors.my_bundles(user)[:MY_BUNDLES_SHOWN]) if page.number == 1 else []
    return render(
        request,
        "cases/my_cases.html",
        {
            "page": page,
            "rows": [(case, applicant_case.warning_of(case)) for case in page.object_list],
            "drafts": intake.draft_rows(drafts),
            "bundles": [
                (bundle, [(case, applicant_case.warning_of(case)) for case in bundle.application.cases.all()])
                for bundle in bundles
            ],
            "is_staff": staff.may_use_workbench(user),
        },
    )


@login_required
@require_GET
def bundle_page(request: HttpRequest, number: str) -> HttpResponse:
    """一件事 progress: the bundle's one number and code, and each of its cases."""
    bundle = selectors.get_bundle_submission(_user(request), number)
    return render(
        request,
        "cases/bundle.html",
        {
            "bundle": bundle,
            "rows": [(case, applicant_case.warning_of(case)) for case in bundle.application.cases.all()],
        },
    )


def _applicant_case(request: HttpRequest, number: str) -> Case:
    """A case of the applicant side; 404 for anyone else (staff use the workbench page)."""
    case = selectors.get_case(request.user, number)
    if not policy.is_case_applicant(request.user, case):
        raise Http404(_("办件不存在"))
    return case


@login_required
@require_GET
def case_page(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    case = selectors.get_case(user, number)
    if not policy.is_case_applicant(user, case):
        return redirect("workbench:case", number=case.number)
    return _render_case(request, case)


def _render_case(request: HttpRequest, case: Case, *, withdraw_form: forms.WithdrawForm | None = None) -> HttpResponse:
    view = applicant_case.case_view(request.user, case)
    return render(
        request,
        "cases/case.html",
        {
            "view": view,
            "case": case,
            "bundle": selectors.bundle_of(case.application),
            "records": case_records.records_for(request.user, case),
            "withdraw_form": withdraw_form or forms.WithdrawForm(initial={"version": case.version}),
        },
        status=400 if withdraw_form is not None else 200,
    )


@login_required
@require_POST
def case_resubmit(request: HttpRequest, number: str) -> HttpResponse:
    """提交补正: the corrected fields from this form, the corrected files uploaded before it."""
    user = _user(request)
    case = _applicant_case(request, number)
    rows, _due = applicant_case.correction_rows(case)
    data = {row.key: request.POST.get(f"{FIELD_PREFIX}{row.key}", "") for row in rows if row.kind == "field"}
    version = request.POST.get("version", "")
    try:
        services.perform(
            case.number,
            "resubmit",
            actor=user,
            expected_version=int(version) if version.isdigit() else None,
            form_data=data or None,
        )
    except services.CaseNotFound as error:
        raise Http404(error.message) from error
    except services.CaseError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("补正内容已提交，办件继续办理。"))
    return redirect("cases:case", number=case.number)


@login_required
@require_POST
def case_withdraw(request: HttpRequest, number: str) -> HttpResponse:
    user = _user(request)
    case = _applicant_case(request, number)
    form = forms.WithdrawForm(request.POST)
    if not form.is_valid():
        return _render_case(request, case, withdraw_form=form)
    try:
        services.perform(
            case.number,
            "withdraw",
            actor=user,
            expected_version=form.cleaned_data["version"],
            reason=form.cleaned_data["reason"],
        )
    except services.CaseNotFound as error:
        raise Http404(error.message) from error
    except services.CaseError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("申请已撤回"))
    return redirect("cases:case", number=case.number)


@login_required
@require_GET
def case_print(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    """A printable document of the case, for the applicant side and the case's staff."""
    case = selectors.get_case(request.user, number)
    if kind not in documents.DOCUMENT_KINDS:
        raise Http404(_("没有这种文书"))
    # ?n= picks one 补正告知书 of several (the first is 1); absent, the latest.
    sequence = None
    if kind == "correction" and "n" in request.GET:
        raw = request.GET["n"]
        if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
            raise Http404(_("该办件没有这份文书"))
        sequence = int(raw)
    document = documents.document_view(case, kind, viewer=request.user, sequence=sequence)
    sealed = case_records.records_for(request.user, case).document(kind, sequence)
    return render(
        request,
        "cases/print/document.html",
        {
            "document": document,
            "case": case,
            "content": documents.printed_content(case, kind, document.applicant, sealed, sequence),
            "sealed": sealed,
            "qr_svg": documents.qr_svg(sealed),
        },
    )


# --- 办件查询 --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    """Public progress by number and 查询码: no personal data, one message for every wrong pair."""
    form = forms.LookupForm(request.POST or None)
    progress = None
    bundle_progress = None
    status = 200
    if request.method == "POST" and form.is_valid():
        ip = client_address(request) or ""
        try:
            services.check_lookup_allowed(ip)
        except services.CaseError as error:
            form.add_error(None, error.message)
            status = 429
        else:
            number, code = form.cleaned_data["number"], form.cleaned_data["code"]
            # A 一件事 number shows all its cases; any other is one case's number.
            bundle_progress = selectors.public_bundle_progress(number, code)
            progress = None if bundle_progress else selectors.public_progress(number, code)
            if progress is None and bundle_progress is None:
                services.record_failed_lookup(ip)
                form.add_error(None, _("办件编号或查询码不正确，请核对后再试"))
    return render(
        request,
        "cases/lookup.html",
        {"form": form, "progress": progress, "bundle_progress": bundle_progress},
        status=status,
    )
