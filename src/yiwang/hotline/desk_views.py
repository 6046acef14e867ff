"""Staff pages of the 12345 hotline: the desk (operators, departments, grid workers), phone intake, one order
with the action forms its viewer may use, and the supervisors' view.

Views parse, authorise and call :mod:`yiwang.hotline.services`; every state
change goes through ``services.perform`` or ``services.register``. An order
the user may not see answers 404, like a missing one; the desk, intake and
supervision pages answer 403 to accounts without the role.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.core.audit import record_event
from yiwang.core.http import client_address
from yiwang.core.problems import ServiceError
from yiwang.hotline import forms, page_data, policy, selectors, services
from yiwang.hotline.constants import Source
from yiwang.hotline.models import WorkOrder
from yiwang.hotline.views import PAGE_SIZE, apply_error, page_links, user_of
from yiwang.hotline.workflow import TRANSITIONS

# Lists on one screen beside the main queue: long enough for a shift, short enough to read.
SIDE_LIST_SIZE = 50


def _deny(request: HttpRequest, page: str) -> None:
    record_event("permission.denied", actor=request.user, ip=client_address(request), detail={"page": page})
    raise PermissionDenied


def _visible(request: HttpRequest, number: str) -> WorkOrder:
    try:
        return selectors.get_visible(request.user, number)
    except services.WorkOrderNotFound as error:
        raise Http404(error.message) from error


# --- the desk -----------------------------------------------------------------------------------------


@login_required
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    """One desk for every hotline role: what is waiting for this user, by what their roles allow."""
    user = user_of(request)
    if not page_data.may_use_desk(user):
        _deny(request, "hotline.desk")
    open_form = forms.OpenOrderForm(request.GET or None)
    if open_form.is_bound and open_form.is_valid() and open_form.cleaned_data["number"]:
        number = open_form.cleaned_data["number"].strip()
        try:
            order = selectors.get_visible(user, number)
        except services.WorkOrderNotFound:
            open_form.add_error("number", _("没有您可以查看的这张工单，请核对编号"))
        else:
            return redirect("hotline:desk_order", number=order.number)
    context: dict[str, Any] = {
        "open_form": open_form,
        "is_operator": policy.is_operator(user),
        "is_supervisor": policy.is_supervisor(user),
        "is_department": page_data.is_department_staff(user),
    }
    if context["is_operator"]:
        queue = Paginator(selectors.operator_queue(user), PAGE_SIZE).get_page(request.GET.get("queue"))
        context.update(
            queue=queue,
            queue_links=page_links(request, queue, "queue"),
            callbacks=page_data.rows(selectors.callbacks_due(user)[:SIDE_LIST_SIZE], deadline="callback_due"),
        )
    if context["is_department"]:
        page = Paginator(selectors.department_queue(user), PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(
            department_page=page, department_rows=page_data.rows(page.object_list), links=page_links(request, page)
        )
    return render(request, "hotline/desk/desk.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest) -> HttpResponse:
    """电话受理: the operator registers a call; the classifier's suggestions wait on the order page."""
    user = user_of(request)
    if not policy.is_operator(user):
        _deny(request, "hotline.intake")
    posted = request.method == "POST"
    form = forms.IntakeForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            order = services.register(
                actor=user,
                source=Source.PHONE,
                caller=services.CallerDetails(
                    name=data["caller_name"], phone=data["phone"], anonymous=data["anonymous"]
                ),
                # The operator is on the line: they confirm the suggestion with one click (or choose otherwise)
                # instead of the platform dispatching behind their back.
                auto_dispatch=False,
                **form.register_arguments(),
            )
        except services.HotlineError as error:
            apply_error(form, error, fields={"anonymous_not_allowed": "anonymous", "bad_location": "longitude"})
        else:
            messages.success(
                request,
                _("已登记工单 %(number)s，请告知来电人查询码 %(code)s。")
                % {"number": order.number, "code": order.verification_code},
            )
            return redirect("hotline:desk_order", number=order.number)
    return render(request, "hotline/desk/intake.html", {"form": form}, status=400 if posted else 200)


# --- one order ------------------------------------------------------------------------------------------


class _Choices:
    """Departments and categories for the dispatch and transfer forms, read once per page."""

    def __init__(self) -> None:
        self._departments: list[tuple[str, str]] | None = None
        self._categories: list[tuple[str, str]] | None = None

    @property
    def departments(self) -> list[tuple[str, str]]:
        if self._departments is None:
            self._departments = page_data.department_choices()
        return self._departments

    @property
    def categories(self) -> list[tuple[str, str]]:
        if self._categories is None:
            self._categories = selectors.dispatch_categories()
        return self._categories


def _action_form(
    action: str,
    order: WorkOrder,
    choices: _Choices,
    data: Any = None,
    initial: dict[str, Any] | None = None,
    files: Any = None,
) -> forms.ActionForm:
    form_class = forms.ACTION_FORMS[action]
    extra: dict[str, Any] = {}
    if form_class is forms.DispatchForm:
        extra = {"departments": choices.departments, "categories": choices.categories}
    elif form_class is forms.TransferForm:
        extra = {"departments": choices.departments}
    return form_class(
        data, files, prefix=action, initial={"expected_version": order.version, **(initial or {})}, **extra
    )


def _render_order(
    request: HttpRequest,
    order: WorkOrder,
    *,
    bound: forms.ActionForm | None = None,
    action: str = "",
    error: str = "",
    status: int = 200,
    reveal_form: forms.RevealCallerForm | None = None,
    revealed_phone: str = "",
    reveal_error: str = "",
) -> HttpResponse:
    user = user_of(request)
    view = page_data.staff_order_view(user, order)
    choices = _Choices()
    offered = {step.action for step in view.actions}
    knowledge_query = ""
    knowledge: list[page_data.KnowledgeHit] = []
    answer_initial: dict[str, Any] = {}
    if "answer" in offered:
        knowledge_query = request.GET.get("kb", "").strip()[:100] or order.title
        knowledge = page_data.knowledge_hits(knowledge_query)
        picked = page_data.knowledge_answer(request.GET.get("use", "")[:100])
        if picked is not None:
            answer_initial = {"answer": picked[0], "source": picked[1]}
    # Without a direct answer to give, the operator still sees what the knowledge base says about it.
    reference = page_data.knowledge_reference(order) if not knowledge_query and policy.is_operator(user) else []
    # Open orders about the same problem at the same place, one click to merge into: on request only, since
    # comparing with every open order costs about a tenth of a second per few hundred of them.
    look_for_duplicates = "merge" in offered and request.GET.get("duplicates") == "1"
    duplicates = selectors.possible_duplicates(order) if look_for_duplicates else []
    action_forms = []
    for step in view.actions:
        if bound is not None and step.action == action:
            form = bound
        else:
            form = _action_form(
                step.action, order, choices, initial=answer_initial if step.action == "answer" else None
            )
        action_forms.append((step, form, error if step.action == action else ""))
    # One click to take a suggestion: the department must exist and the dispatch form must be offered.
    accept = []
    if "dispatch" in offered:
        known = {code for code, _name in choices.departments}
        accept = [s for s in view.suggestions if s.get("department_code") in known]
    return render(
        request,
        "hotline/desk/order.html",
        {
            "view": view,
            "order": order,
            "action_forms": action_forms,
            # A refusal of an action that has no form here (the order moved on) is shown above the forms.
            "page_error": error if error and action not in offered else "",
            "accept_suggestions": accept,
            "knowledge_query": knowledge_query,
            "knowledge": knowledge,
            "knowledge_reference": reference,
            "duplicates": duplicates,
            "looked_for_duplicates": look_for_duplicates,
            "may_reveal_caller": policy.reveal_desk(user, order) is not None,
            "reveal_form": reveal_form or forms.RevealCallerForm(),
            "revealed_phone": revealed_phone,
            "reveal_error": reveal_error,
        },
        status=status,
    )


@login_required
@require_GET
def order_page(request: HttpRequest, number: str) -> HttpResponse:
    """One order for staff: its facts, the caller (when they may know), suggestions, actions and full record."""
    order = _visible(request, number)
    if not page_data.sees_as_staff(request.user, order):
        return redirect("hotline:mine_order", number=order.number)
    return _render_order(request, order)


@login_required
@require_POST
def act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """One action of the transition table, with the order version the form was rendered with."""
    user = user_of(request)
    order = _visible(request, number)
    if action not in forms.ACTION_FORMS or action == "confirm" or not page_data.sees_as_staff(user, order):
        raise Http404(_("没有这个办理动作"))
    choices = _Choices()
    form = _action_form(action, order, choices, request.POST, files=request.FILES)
    if not form.is_valid():
        return _render_order(request, order, bound=form, action=action, status=400)
    try:
        services.perform(
            order.number,
            action,
            actor=user,
            expected_version=form.cleaned_data["expected_version"],
            reason=form.cleaned_data.get("reason") or "",
            **form.params(),
        )
    except services.WorkOrderNotFound as refused:
        raise Http404(refused.message) from refused
    except services.HotlineError as refused:
        order = _visible(request, number)
        if refused.code == "stale_version":
            # Keep what was typed, but against the version on screen now, so that a second look can resubmit it.
            data = request.POST.copy()
            data[f"{action}-expected_version"] = str(order.version)
            fresh = _action_form(action, order, choices, data)
            fresh.is_valid()
            return _render_order(
                request,
                order,
                bound=fresh,
                action=action,
                error=_("工单已被他人处理，下面是最新状态。您填写的内容已保留，请确认后再提交。"),
                status=409,
            )
        if refused.extra.get("field") in form.fields:
            apply_error(form, refused)
            return _render_order(request, order, bound=form, action=action, status=refused.status)
        return _render_order(request, order, bound=form, action=action, error=refused.message, status=refused.status)
    messages.success(request, _("已完成：%(label)s") % {"label": TRANSITIONS[action].label})
    try:
        selectors.get_visible(user, order.number)
    except services.WorkOrderNotFound:
        # Sent back by a grid worker, say: the order is no longer theirs to see.
        return redirect("hotline:desk")
    return redirect("hotline:desk_order", number=order.number)


@login_required
@require_POST
@never_cache
def reveal_caller(request: HttpRequest, number: str) -> HttpResponse:
    """查看完整号码: the caller's number in this one answer, for whoever holds the open order (recorded)."""
    user = user_of(request)
    order = _visible(request, number)
    if not page_data.sees_as_staff(user, order):
        raise Http404(_("工单不存在"))
    form = forms.RevealCallerForm(request.POST)
    if not form.is_valid():
        return _render_order(request, order, reveal_form=form, status=400)
    try:
        phone = services.reveal_caller_phone(actor=user, number=order.number, purpose=form.cleaned_data["purpose"])
    except services.WorkOrderNotFound as refused:
        raise Http404(refused.message) from refused
    except ServiceError as refused:
        return _render_order(request, order, reveal_form=form, reveal_error=refused.message, status=refused.status)
    return _render_order(request, order, reveal_form=form, revealed_phone=phone)


# --- supervision ------------------------------------------------------------------------------------------


@login_required
@require_GET
def supervision(request: HttpRequest) -> HttpResponse:
    """督办: overdue and escalated orders, extension requests, and orders nobody routes (sent back by their unit)."""
    user = user_of(request)
    if not policy.is_supervisor(user):
        _deny(request, "hotline.supervision")
    sections = [
        ("overdue", _("已超期"), page_data.rows(selectors.overdue(user)[:SIDE_LIST_SIZE])),
        ("escalated", _("已升级（超过签收或办理期限）"), page_data.rows(selectors.escalated(user)[:SIDE_LIST_SIZE])),
        ("extensions", _("待审批的延期申请"), page_data.rows(selectors.pending_extensions(user)[:SIDE_LIST_SIZE])),
        (
            "unrouted",
            _("被退回、待重新派单的差评整改和网格事件"),
            page_data.rows(selectors.unrouted(user)[:SIDE_LIST_SIZE]),
        ),
    ]
    return render(request, "hotline/desk/supervision.html", {"sections": sections, "limit": SIDE_LIST_SIZE})


# --- hot issues -------------------------------------------------------------------------------------------

HOT_WINDOWS = (7, 30, 90)


@login_required
@require_GET
def hot_issues(request: HttpRequest) -> HttpResponse:
    """热点诉求: clusters of similar orders of a recent period, biggest and most recent first."""
    user = user_of(request)
    if not (policy.is_operator(user) or policy.is_supervisor(user)):
        _deny(request, "hotline.hot_issues")
    try:
        days = int(request.GET.get("days", "30"))
    except ValueError:
        days = 30
    if days not in HOT_WINDOWS:
        days = 30
    issues = selectors.hot_issues(window_days=days, top=20)
    return render(request, "hotline/desk/hot_issues.html", {"issues": issues, "days": days, "windows": HOT_WINDOWS})
