"""Staff pages of case handling: the workbench, one case for staff with its action forms, counter intake.

Views parse, authorise and call :mod:`yiwang.cases.services`. A case outside
the user's departments answers 404, like a missing one; the workbench and
the counter answer 403 to accounts without the role.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import storages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.accounts import services as accounts_services
from yiwang.accounts.services import ActingFor
from yiwang.cases import forms, selectors, services
from yiwang.cases.constants import CaseState, Channel
from yiwang.cases.models import Case
from yiwang.cases.page_data import desks, documents, intake, staff
from yiwang.cases.views import _user
from yiwang.cases.workflow import TRANSITIONS
from yiwang.core import calendar, case_records
from yiwang.core.audit import record_event
from yiwang.core.http import client_address, safe_next

# The person a counter clerk serves; kept in the session only while the intake lasts.
COUNTER_ACTING = "yiwang_counter_acting"
COUNTER_APPLICATIONS = "yiwang_counter_applications"
# An intake left open this long is over: the person has surely left the window.
COUNTER_TTL_SECONDS = 30 * 60


def _deny(request: HttpRequest, page: str) -> None:
    record_event("permission.denied", actor=request.user, ip=client_address(request), detail={"page": page})
    raise PermissionDenied


# --- the workbench ---------------------------------------------------------------------


@login_required
@require_GET
def workbench(request: HttpRequest) -> HttpResponse:
    """The user's open tasks, overdue first; one row per task."""
    user = _user(request)
    if not staff.may_use_workbench(user):
        _deny(request, "workbench")
    form = forms.WorkbenchFilterForm(request.GET or None, states=[(s.value, s.label) for s in CaseState])
    filters = selectors.WorkbenchFilters()
    if form.is_bound and form.is_valid():
        filters = selectors.WorkbenchFilters(
            state=form.cleaned_data["state"], deadline=form.cleaned_data["deadline"], number=form.cleaned_data["number"]
        )
    page = Paginator(selectors.workbench(user, filters), selectors.WORKBENCH_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    today = calendar.today_local()
    rows = []
    for task in page.object_list:
        warning = calendar.deadline_warning(task.due, today, paused=task.case.paused_since is not None)
        rows.append((task, warning, calendar.DeadlineWarning(warning).label, documents.masked_applicant(task.case)))
    return render(
        request,
        "cases/staff/workbench.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "open_number": staff.openable_case_number(user, filters.number) if filters.number else "",
            "is_counter_clerk": staff.may_use_counter(user),
            "other_desks": desks.other_desks(user),
        },
    )


# --- one case ----------------------------------------------------------------------------


def _action_form(action: str, view: staff.StaffCaseView, data: Any = None) -> forms.ActionForm:
    form_class = forms.ACTION_FORMS[action]
    extra: dict[str, Any] = {}
    if form_class is forms.CorrectionForm:
        extra = {"materials": view.correction_materials, "fields": view.correction_fields}
    elif form_class is forms.TransferForm:
        extra = {"departments": view.departments}
    elif form_class is forms.ApproveForm:
        extra = {"fee_situations": list(view.fee_situations)}
    return form_class(data, prefix=action, initial={"version": view.case.version}, **extra)


def _render_case(
    request: HttpRequest,
    case: Case,
    *,
    bound: forms.ActionForm | None = None,
    action: str = "",
    error: str = "",
    status: int = 200,
    reveal_form: forms.RevealApplicantForm | None = None,
    revealed: dict[str, str] | None = None,
    reveal_error: str = "",
) -> HttpResponse:
    view = staff.staff_case_view(request.user, case)
    action_forms = []
    for step in view.actions:
        form = bound if bound is not None and step.action == action else _action_form(step.action, view)
        action_forms.append((step, form, error if step.action == action else ""))
    # A refusal of an action that has no form on the page (the case moved on) is shown above the forms.
    page_error = error if error and action not in {step.action for step in view.actions} else ""
    return render(
        request,
        "cases/staff/case.html",
        {
            "view": view,
            "case": case,
            "action_forms": action_forms,
            "page_error": page_error,
            "reveal_form": reveal_form or forms.RevealApplicantForm(),
            "revealed": revealed or {},
            "reveal_error": reveal_error,
            "records": case_records.records_for(request.user, case),
        },
        status=status,
    )


@login_required
@require_GET
def case_page(request: HttpRequest, number: str) -> HttpResponse:
    case = staff.get_staff_case(request.user, number)
    return _render_case(request, case)


@login_required
@require_POST
def act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """One action of the transition table on one case, with the case version the form was rendered with."""
    user = _user(request)
    case = staff.get_staff_case(user, number)
    if action not in forms.ACTION_FORMS:
        raise Http404(_("没有这个办理动作"))
    view = staff.staff_case_view(user, case)
    form = _action_form(action, view, request.POST)
    if not form.is_valid():
        return _render_case(request, case, bound=form, action=action, status=400)
    try:
        services.perform(
            case.number,
            action,
            actor=user,
            expected_version=form.cleaned_data["version"],
            reason=form.cleaned_data.get("reason") or "",
            **form.params(),
        )
    except services.CaseNotFound as refused:
        raise Http404(refused.message) from refused
    except services.CaseError as refused:
        if refused.code == "stale_version":
            # Someone else acted first: show the case as it is now, not the form that no longer fits it.
            messages.error(request, _("该办件已被他人处理，下面是最新状态，请确认后再操作。"))
            return redirect("workbench:case", number=case.number)
        case.refresh_from_db()
        return _render_case(request, case, bound=form, action=action, error=refused.message, status=refused.status)
    # The button's own words (同意办理 for a non-licensing item), not the transition table's 准予许可.
    label = next((step.label for step in view.actions if step.action == action), TRANSITIONS[action].label)
    messages.success(request, _("已完成：%(label)s") % {"label": label})
    return HttpResponseRedirect(safe_next(request, reverse("workbench:case", args=[case.number])))


@login_required
@require_POST
@never_cache
def reveal_applicant(request: HttpRequest, number: str) -> HttpResponse:
    """查看完整信息: the applicant's full data on the case page, for a holder of a task on the open case.

    The values are shown in this one answer (never stored in the session or
    a URL); the read is recorded in the applicant's list and the audit log.
    """
    user = _user(request)
    case = staff.get_staff_case(user, number)
    form = forms.RevealApplicantForm(request.POST)
    if not form.is_valid():
        return _render_case(request, case, reveal_form=form, status=400)
    try:
        revealed = services.reveal_applicant(
            actor=user, number=case.number, fields=form.cleaned_data["which"], purpose=form.cleaned_data["purpose"]
        )
    except services.CaseNotFound as refused:
        raise Http404(refused.message) from refused
    except accounts_services.IdentityError as refused:
        return _render_case(request, case, reveal_form=form, reveal_error=refused.message, status=refused.status)
    return _render_case(request, case, reveal_form=form, revealed=revealed)


@login_required
@require_GET
def case_file(request: HttpRequest, number: str, file_id: int) -> FileResponse:
    """A material file, as an attachment with its stored type; for whoever may see the case."""
    case = selectors.get_case(request.user, number)
    stored = staff.open_case_file(request.user, case, file_id)
    handle = storages["materials"].open(stored.storage_name, "rb")
    return FileResponse(handle, as_attachment=True, filename=stored.original_name, content_type=stored.content_type)


# --- counter intake (一窗受理) ------------------------------------------------------------


def _require_clerk(request: HttpRequest) -> None:
    if not staff.may_use_counter(request.user):
        _deny(request, "counter")


def _acting(request: HttpRequest) -> ActingFor | None:
    stored = request.session.get(COUNTER_ACTING)
    if not isinstance(stored, dict):
        return None
    if time.time() - float(stored.get("started", 0)) > COUNTER_TTL_SECONDS:
        _end_intake(request)
        return None
    return ActingFor(int(stored["person_id"]), str(stored["person_label"]), str(stored["basis"]))


def _end_intake(request: HttpRequest) -> None:
    request.session.pop(COUNTER_ACTING, None)
    request.session.pop(COUNTER_APPLICATIONS, None)


def _start_serving(request: HttpRequest, acting: ActingFor) -> None:
    _end_intake(request)
    request.session[COUNTER_ACTING] = {
        "person_id": acting.person_id,
        "person_label": acting.person_label,
        "basis": acting.basis,
        "started": time.time(),
    }


def _show_identity_error(form: forms.forms.Form, error: accounts_services.IdentityError) -> None:
    form.add_error(error.field if error.field and error.field in form.fields else None, error.detail)


@login_required
@require_http_methods(["GET", "POST"])
def counter(request: HttpRequest) -> HttpResponse:
    """Step 1: check the identity of the person at the window; step 2: choose any item for them.

    A person with no record yet (a walk-in who never registered online) is
    offered the registration form, filled in with the document just checked.
    """
    _require_clerk(request)
    user = _user(request)
    identity_form = forms.CounterIdentityForm(request.POST or None)
    register_form: forms.CounterRegisterForm | None = None
    if request.method == "POST" and identity_form.is_valid():
        data = identity_form.cleaned_data
        try:
            acting = accounts_services.act_for_at_counter(
                actor=user,
                document_type=data["document_type"],
                document_number=data["document_number"],
                identity_checked_by=data["identity_checked_by"],
                ip=client_address(request),
            )
        except accounts_services.IdentityError as error:
            if error.code == "person_unknown":
                # A copy: the error added below takes the number out of cleaned_data.
                register_form = forms.CounterRegisterForm(initial=dict(data))
            _show_identity_error(identity_form, error)
        else:
            _start_serving(request, acting)
            messages.success(request, _("身份核验通过，请选择要办理的事项"))
            return redirect("workbench:counter")
    return _render_counter(request, identity_form, register_form)


def _render_counter(
    request: HttpRequest,
    identity_form: forms.CounterIdentityForm,
    register_form: forms.CounterRegisterForm | None = None,
) -> HttpResponse:
    user = _user(request)
    serving = _acting(request)
    item_form = forms.CounterItemForm(request.GET or None)
    query = item_form.cleaned_data["q"] if item_form.is_bound and item_form.is_valid() else ""
    intake_ids = request.session.get(COUNTER_APPLICATIONS, []) if serving else []
    return render(
        request,
        "cases/staff/counter.html",
        {
            "identity_form": identity_form,
            "register_form": register_form,
            "acting": serving,
            "item_form": item_form,
            "query": query,
            "choices": intake.counter_item_choices(query) if serving and query else [],
            "intake": intake.intake_rows(user, intake_ids),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def counter_register(request: HttpRequest) -> HttpResponse:
    """登记新办事人: record a walk-in whose document the clerk has checked, then serve them (no account made)."""
    _require_clerk(request)
    user = _user(request)
    form = forms.CounterRegisterForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            acting = accounts_services.register_at_counter(
                actor=user,
                name=data["name"],
                document_type=data["document_type"],
                document_number=data["document_number"],
                identity_checked_by=data["identity_checked_by"],
                mobile=data["mobile"],
                ip=client_address(request),
            )
        except accounts_services.IdentityError as error:
            _show_identity_error(form, error)
        else:
            _start_serving(request, acting)
            messages.success(request, _("已登记办事人信息，请选择要办理的事项"))
            return redirect("workbench:counter")
    return _render_counter(request, forms.CounterIdentityForm(), form)


@login_required
@require_POST
def counter_start(request: HttpRequest) -> HttpResponse:
    """Open a counter application for the person being served, for the chosen item."""
    _require_clerk(request)
    user = _user(request)
    acting = _acting(request)
    if acting is None:
        messages.error(request, _("请先核验办事人身份"))
        return redirect("workbench:counter")
    code = request.POST.get("item_code", "").strip()[:80]
    try:
        application = services.start_application(
            actor=user,
            applicant=services.applicant_for(user, acting=acting),
            item_code=code,
            channel=Channel.COUNTER,
        )
    except Http404:
        messages.error(request, _("事项不存在或未发布，请核对事项编码"))
        return redirect("workbench:counter")
    except services.CaseError as error:
        messages.error(request, error.message)
        return redirect("workbench:counter")
    request.session[COUNTER_APPLICATIONS] = [*request.session.get(COUNTER_APPLICATIONS, []), application.pk]
    return redirect("cases:application", application_id=application.pk)


@login_required
@require_POST
def counter_finish(request: HttpRequest) -> HttpResponse:
    """The person has been served: forget whom the clerk was acting for."""
    _require_clerk(request)
    _end_intake(request)
    messages.success(request, _("本次接待已结束"))
    return redirect("workbench:counter")
