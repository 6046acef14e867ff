"""Staff pages of 好差评: the counter's rating code, the 12345 operator's entry, supervisors' and departments' desks.

Each desk answers 403 to accounts without its role (the refusal audited);
an object outside the user's departments answers 404, like a missing one.
Refusals of the services are shown next to the form that was sent, with its
input kept; successes redirect (POST-redirect-GET).
"""

from __future__ import annotations

from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.core.audit import record_event
from yiwang.core.http import client_address
from yiwang.feedback import forms, policy, selectors, services
from yiwang.feedback.selectors import queues, visits

DESK_PAGE_SIZE = 20


def _require(request: HttpRequest, allowed: bool, page: str) -> None:
    if not allowed:
        record_event("permission.denied", actor=request.user, ip=client_address(request), detail={"page": page})
        raise PermissionDenied


# --- the counter's rating code (一次一评) ------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def counter(request: HttpRequest) -> HttpResponse:
    """The clerk picks the window (and the case or item) and gets a one-time rating code for the person served."""
    _require(request, policy.is_counter_clerk(request.user), "feedback.counter")
    windows = [(w.pk, f"{w.department.display_name} {w.name}") for w in visits.counter_windows(request.user)]
    form = forms.CounterForm(request.POST or None, windows=windows)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                visit = services.open_visit(
                    clerk=request.user,
                    window_id=form.cleaned_data["window"],
                    item_code=form.cleaned_data["item_code"],
                    case_number=form.cleaned_data["case_number"],
                )
            except Http404:
                form.add_error("case_number", _("办件不存在，请核对办件编号"))
            except services.RatingError as error:
                status = forms.add_service_error(form, error)
            else:
                return redirect("feedback:counter_visit", token=visit.token)
    context = {"form": form, "visits": visits.recent_visits(request.user)}
    return render(request, "feedback/counter.html", context, status=status)


@login_required
@require_GET
def counter_visit(request: HttpRequest, token: str) -> HttpResponse:
    """The rating code of one visit as a QR code (inline SVG) for the person to scan, with the link spelled out."""
    _require(request, policy.is_counter_clerk(request.user), "feedback.counter")
    visit = visits.clerk_visit(request.user, token)
    url = request.build_absolute_uri(reverse("feedback:visit", args=[visit.token]))
    # segno writes the SVG itself (the link is escaped in it), so it is safe to put into the page as it is.
    svg = segno.make(url, error="m").svg_inline(scale=4, omitsize=True, svgclass="qr", title=_("评价二维码"))
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(_("评价二维码"))}" ', 1)
    context = {"visit": visit, "url": url, "qr_svg": mark_safe(svg), "rated": selectors.is_rated(visit)}  # noqa: S308
    return render(request, "feedback/counter_visit.html", context)


# --- 12345: a caller's rating entered by the operator --------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def phone(request: HttpRequest) -> HttpResponse:
    """电话代评: the operator enters the rating a caller gives for the case on their receipt (number and 查询码)."""
    _require(request, policy.is_hotline_operator(request.user), "feedback.phone")
    form = forms.PhoneRatingForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                rating = services.rate_for_caller(
                    operator=request.user,
                    number=form.cleaned_data["number"],
                    code=form.cleaned_data["code"],
                    level=form.cleaned_data["level"],
                    scores=form.scores(),
                    comment=form.cleaned_data["comment"],
                )
            except services.RatingError as error:
                field = "code" if error.code == "bad_case_code" else None
                status = forms.add_service_error(form, error, field=field)
            else:
                messages.success(
                    request,
                    _("已录入来电人对办件 %(number)s 的评价：%(level)s")
                    % {"number": form.cleaned_data["number"], "level": rating.get_level_display()},
                )
                return redirect("feedback:phone")
    return render(request, "feedback/phone.html", {"form": form}, status=status)


# --- supervisors: suspect ratings and appeals ---------------------------------------------------------


def _render_supervision(
    request: HttpRequest,
    *,
    review: tuple[int, forms.ReviewForm] | None = None,
    decision: tuple[int, forms.AppealDecisionForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    suspects = Paginator(queues.suspect_ratings(request.user), DESK_PAGE_SIZE).get_page(request.GET.get("page"))
    appeals = Paginator(queues.pending_appeals(request.user), DESK_PAGE_SIZE).get_page(request.GET.get("appeals_page"))
    suspect_rows: list[tuple[Any, forms.ReviewForm]] = []
    for row in queues.suspect_rows(suspects.object_list):
        bound = review[1] if review is not None and review[0] == row.rating.pk else None
        suspect_rows.append((row, bound or forms.ReviewForm(prefix=f"review-{row.rating.pk}")))
    appeal_rows: list[tuple[Any, forms.AppealDecisionForm]] = []
    for appeal in appeals.object_list:
        bound_decision = decision[1] if decision is not None and decision[0] == appeal.pk else None
        appeal_rows.append((appeal, bound_decision or forms.AppealDecisionForm(prefix=f"appeal-{appeal.pk}")))
    # A refusal for a row that is no longer listed (someone else decided it) is shown above the lists.
    page_errors: list[str] = []
    if review is not None and review[0] not in {row.rating.pk for row, _form in suspect_rows}:
        page_errors += [str(e) for e in review[1].non_field_errors()]
    if decision is not None and decision[0] not in {appeal.pk for appeal, _form in appeal_rows}:
        page_errors += [str(e) for e in decision[1].non_field_errors()]
    context = {
        "suspects": suspects,
        "suspect_rows": suspect_rows,
        "appeals": appeals,
        "appeal_rows": appeal_rows,
        "page_errors": page_errors,
    }
    return render(request, "feedback/supervision.html", context, status=status)


@login_required
@require_GET
def supervision(request: HttpRequest) -> HttpResponse:
    """Suspect ratings to confirm or clear, and appeals to decide, within the supervisor's departments."""
    _require(request, policy.is_supervisor(request.user), "feedback.supervision")
    return _render_supervision(request)


@login_required
@require_POST
def review(request: HttpRequest, rating_id: int) -> HttpResponse:
    """Exclude a suspect rating as fake or malicious, or clear it, with a note kept on the record."""
    _require(request, policy.is_supervisor(request.user), "feedback.supervision")
    queues.get_suspect(request.user, rating_id)
    form = forms.ReviewForm(request.POST, prefix=f"review-{rating_id}")
    if not form.is_valid():
        return _render_supervision(request, review=(rating_id, form), status=400)
    exclude = form.cleaned_data["decision"] == "exclude"
    try:
        services.review_suspect(
            supervisor=request.user, rating_id=rating_id, exclude=exclude, note=form.cleaned_data["note"]
        )
    except services.RatingError as error:
        status = forms.add_service_error(form, error)
        return _render_supervision(request, review=(rating_id, form), status=status)
    messages.success(request, _("已剔除该评价，理由已记录") if exclude else _("已核查，该评价计入统计"))
    return redirect("feedback:supervision")


@login_required
@require_POST
def decide_appeal(request: HttpRequest, appeal_id: int) -> HttpResponse:
    """Uphold (the rating is excluded) or dismiss a department's appeal, with the reason on the record."""
    _require(request, policy.is_supervisor(request.user), "feedback.supervision")
    queues.get_appeal(request.user, appeal_id)
    form = forms.AppealDecisionForm(request.POST, prefix=f"appeal-{appeal_id}")
    if not form.is_valid():
        return _render_supervision(request, decision=(appeal_id, form), status=400)
    uphold = form.cleaned_data["decision"] == "uphold"
    try:
        services.decide_appeal(
            supervisor=request.user, appeal_id=appeal_id, uphold=uphold, reason=form.cleaned_data["reason"]
        )
    except services.RatingError as error:
        status = forms.add_service_error(form, error)
        return _render_supervision(request, decision=(appeal_id, form), status=status)
    messages.success(request, _("申诉成立，该评价已剔除") if uphold else _("已裁定申诉不成立"))
    return redirect("feedback:supervision")


# --- the rated department: its bad ratings, their rectification, appeals ------------------------------


def _render_department(
    request: HttpRequest, *, bound: tuple[int, forms.AppealForm] | None = None, status: int = 200
) -> HttpResponse:
    page = Paginator(queues.department_bad_ratings(request.user), DESK_PAGE_SIZE).get_page(request.GET.get("page"))
    rows: list[tuple[Any, forms.AppealForm]] = []
    for row in queues.bad_rating_rows(page.object_list):
        form = bound[1] if bound is not None and bound[0] == row.rating.pk else None
        rows.append((row, form or forms.AppealForm(prefix=f"appeal-{row.rating.pk}")))
    page_errors: list[str] = []
    if bound is not None and bound[0] not in {row.rating.pk for row, _form in rows}:
        page_errors += [str(e) for e in bound[1].non_field_errors()]
    context = {"page": page, "rows": rows, "page_errors": page_errors}
    return render(request, "feedback/department.html", context, status=status)


@login_required
@require_GET
def department(request: HttpRequest) -> HttpResponse:
    """The bad ratings of the user's departments, the state of their rectification, and appeals."""
    _require(request, policy.may_appeal(request.user), "feedback.department")
    return _render_department(request)


@login_required
@require_POST
def file_appeal(request: HttpRequest, rating_id: int) -> HttpResponse:
    """申诉: ask a supervisor to exclude a bad rating the department believes mistaken or malicious."""
    _require(request, policy.may_appeal(request.user), "feedback.department")
    queues.get_department_rating(request.user, rating_id)
    form = forms.AppealForm(request.POST, prefix=f"appeal-{rating_id}")
    if not form.is_valid():
        return _render_department(request, bound=(rating_id, form), status=400)
    try:
        services.file_appeal(staff=request.user, rating_id=rating_id, reason=form.cleaned_data["reason"])
    except services.RatingError as error:
        status = forms.add_service_error(form, error)
        return _render_department(request, bound=(rating_id, form), status=status)
    messages.success(request, _("申诉已提交，等待监督人员裁定"))
    return redirect("feedback:department")
