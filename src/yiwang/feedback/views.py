"""Pages of 好差评 for the public and applicants: rate a case or a counter visit, the SMS link, public results.

Views parse, authorise and call :mod:`yiwang.feedback.services`; what they
show comes from :mod:`yiwang.feedback.selectors`. A refusal is shown next to
the form with everything the person typed still in it, under the refusal's
HTTP status; a success redirects (POST-redirect-GET). A case that is not the
user's answers 404, like a missing one.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.cases import selectors as cases_selectors
from yiwang.core.http import client_address, safe_next
from yiwang.feedback import forms, policy, selectors, services
from yiwang.feedback.constants import RatingChannel, ServiceMode
from yiwang.hotline.services import HotlineError

if TYPE_CHECKING:
    from yiwang.cases.models import Case


# A long-lived random id of the browser: lets the rules see many ratings from one device, and nothing else.
DEVICE_COOKIE = "yw_device"
DEVICE_COOKIE_AGE = 5 * 365 * 24 * 60 * 60
_DEVICE = re.compile(r"[A-Za-z0-9_-]{20,64}")
COMMENTS_PAGE_SIZE = 20


# --- the device cookie ---------------------------------------------------------------------------


def device_id(request: HttpRequest) -> str:
    """The browser's device id from its cookie, or a new one (set on the response by :func:`remember_device`)."""
    value = request.COOKIES.get(DEVICE_COOKIE, "")
    if _DEVICE.fullmatch(value):
        return value
    if not hasattr(request, "_yw_device"):
        request._yw_device = secrets.token_urlsafe(24)  # type: ignore[attr-defined]
    return str(request._yw_device)  # type: ignore[attr-defined]


def remember_device(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Set the device cookie on ``response`` when the browser did not send a valid one (HttpOnly, SameSite=Lax)."""
    device = device_id(request)
    if request.COOKIES.get(DEVICE_COOKIE) != device:
        response.set_cookie(
            DEVICE_COOKIE,
            device,
            max_age=DEVICE_COOKIE_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


def login_url(request: HttpRequest) -> str:
    """The sign-in page, coming back to this page afterwards."""
    return f"{reverse('accounts:login')}?{urlencode({'next': request.path})}"


def _origin(request: HttpRequest, channel: str) -> services.Origin:
    return services.Origin(channel=channel, device=device_id(request), address=client_address(request) or "")


# --- rating a case (一事一评) --------------------------------------------------------------------


def _own_case(request: HttpRequest, number: str) -> Case:
    """A case of the user's applicant side; 404 for anyone else's (staff rate nothing here)."""
    return cases_selectors.get_own_case(request.user, number.strip().upper()[:64])


def _render_case_rating(
    request: HttpRequest,
    case: Case,
    *,
    form: forms.RatingForm | None = None,
    resolution_form: forms.ResolutionForm | None = None,
    action: str = "",
    status: int = 200,
) -> HttpResponse:
    state = selectors.case_rating(request.user, case)
    if state is None:  # pragma: no cover - callers fetched the case as its applicant
        raise Http404(_("办件不存在"))
    context = {
        "case": case,
        "state": state,
        "form": form or forms.RatingForm(mode=ServiceMode.ONLINE),
        "resolution_form": resolution_form or forms.ResolutionForm(prefix=forms.RESOLUTION_PREFIX),
        "action": action or reverse("feedback:rate_case", args=[case.number]),
        "channel_hint": "",
    }
    return remember_device(request, render(request, "feedback/case.html", context, status=status))


def _rate_case(request: HttpRequest, case: Case, *, channel: str, action: str) -> HttpResponse:
    form = forms.RatingForm(request.POST or None, mode=ServiceMode.ONLINE)
    if request.method != "POST":
        return _render_case_rating(request, case, form=form, action=action)
    if not form.is_valid():
        return _render_case_rating(request, case, form=form, action=action, status=400)
    try:
        services.rate_case(
            user=request.user,
            number=case.number,
            level=form.cleaned_data["level"],
            scores=form.scores(),
            comment=form.cleaned_data["comment"],
            origin=_origin(request, channel),
        )
    except services.RatingError as error:
        status = forms.add_service_error(form, error)
        return _render_case_rating(request, case, form=form, action=action, status=status)
    messages.success(request, _("感谢您的评价！"))
    return remember_device(request, redirect("feedback:rate_case", number=case.number))


@login_required
@require_http_methods(["GET", "POST"])
def rate_case(request: HttpRequest, number: str) -> HttpResponse:
    """Rate a finished case from its page (网站办件页); once rated, the rating and its rectification."""
    case = _own_case(request, number)
    return _rate_case(request, case, channel=RatingChannel.WEB, action=reverse("feedback:rate_case", args=[number]))


@login_required
@require_POST
def confirm_resolution(request: HttpRequest, number: str) -> HttpResponse:
    """The rater says whether the rectification of their bad rating resolved the problem."""
    case = _own_case(request, number)
    rating = selectors.rating_of_case(case)
    if rating is None:
        raise Http404(_("没有需要确认的整改"))
    form = forms.ResolutionForm(request.POST, prefix=forms.RESOLUTION_PREFIX)
    if not form.is_valid():
        return _render_case_rating(request, case, resolution_form=form, status=400)
    resolved = form.cleaned_data["resolved"] == "yes"
    try:
        services.confirm_resolution(
            user=request.user, rating_id=rating.pk, resolved=resolved, note=form.cleaned_data["note"]
        )
    except (services.RatingError, HotlineError) as error:
        status = forms.add_service_error(form, error)
        return _render_case_rating(request, case, resolution_form=form, status=status)
    if resolved:
        messages.success(request, _("感谢您的确认，整改已完成。"))
    else:
        messages.success(request, _("已转回责任部门继续整改，处理后会再次请您确认。"))
    fallback = reverse("feedback:rate_case", args=[case.number])
    return HttpResponseRedirect(safe_next(request, fallback))


# --- the SMS link ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The rating link of an SMS: the applicant signs in, then rates the case (channel: 短信链接)."""
    invited = selectors.live_invitation(token)
    if invited is None or invited.case is None:
        return render(request, "feedback/invalid_code.html", {"kind": "invitation"}, status=404)
    if not request.user.is_authenticated:
        return render(request, "feedback/invitation_login.html", {"login_url": login_url(request)})
    case = invited.case
    if not policy.may_rate_case(request.user, case):
        # Someone else's link: the same answer as a wrong one, so links cannot be probed.
        return render(request, "feedback/invalid_code.html", {"kind": "invitation"}, status=404)
    if selectors.rating_of_case(case) is not None:
        return redirect("feedback:rate_case", number=case.number)
    return _rate_case(request, case, channel=RatingChannel.SMS, action=request.path)


# --- a counter visit (一次一评) -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def rate_visit(request: HttpRequest, token: str) -> HttpResponse:
    """The page behind the counter's QR code: anyone may rate; a signed-in person rates under their real name."""
    visit = selectors.visit_to_rate(token)
    if visit is None:
        return render(request, "feedback/invalid_code.html", {"kind": "visit"}, status=404)
    form = forms.RatingForm(request.POST or None, mode=ServiceMode.COUNTER)
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            try:
                services.rate_visit(
                    token=visit.token,
                    user=request.user,
                    level=form.cleaned_data["level"],
                    scores=form.scores(),
                    comment=form.cleaned_data["comment"],
                    origin=_origin(request, RatingChannel.QR),
                )
            except services.RatingError as error:
                status = forms.add_service_error(form, error)
            else:
                messages.success(request, _("感谢您的评价！"))
                return remember_device(request, redirect("feedback:visit", token=visit.token))
    context: dict[str, Any] = {
        "visit": visit,
        "rated": selectors.is_rated(visit),
        "form": form,
        "real_name": bool(request.user.is_authenticated and getattr(request.user, "person_id", None)),
        "login_url": login_url(request),
    }
    return remember_device(request, render(request, "feedback/visit.html", context, status=status))


# --- public results --------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[forms.PeriodForm, selectors.Period, int]:
    """The period asked for in the query string (the default one when the input is wrong, with the errors shown)."""
    if not request.GET.get("from") and not request.GET.get("to"):
        period = selectors.period_of()
        # The default period, filled in, so the form shows what the page shows.
        return forms.PeriodForm(initial={"from": period.start, "to": period.end}), period, 200
    form = forms.PeriodForm(request.GET)
    if form.is_valid():
        try:
            return form, selectors.period_of(form.cleaned_data["from"], form.cleaned_data["to"]), 200
        except selectors.PeriodError as error:
            form.add_error(None, error.message)
    return form, selectors.period_of(), 400


@require_GET
def results(request: HttpRequest) -> HttpResponse:
    """好差评结果公开: satisfaction per department over the chosen period, from the tallies."""
    form, period, status = _period(request)
    rows = selectors.results(period, group_by="department")
    context = {
        "form": form,
        "period": period,
        "rows": rows,
        "total": selectors.total_of(rows),
        "query": request.GET.urlencode(),
    }
    return render(request, "feedback/results.html", context, status=status)


@require_GET
def department_results(request: HttpRequest, code: str) -> HttpResponse:
    """One department's results per item, channel and window."""
    form, period, status = _period(request)
    view = selectors.department_results(code, period)
    context = {"form": form, "period": period, "view": view, "query": request.GET.urlencode()}
    return render(request, "feedback/department_results.html", context, status=status)


@require_GET
def comments(request: HttpRequest) -> HttpResponse:
    """Published comments, newest first: personal data removed, never who rated."""
    form = forms.CommentFilterForm(request.GET, departments=selectors.department_choices())
    department = form.cleaned_data["department"] if form.is_valid() else ""
    listed = selectors.published_comments(department_code=department or None)
    page: Page[selectors.PublishedComment] = Paginator(listed, COMMENTS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "limit": selectors.COMMENTS_LIMIT}
    return render(request, "feedback/comments.html", context, status=200 if form.is_valid() else 400)
