"""Pages of the 12345 hotline for the public and callers: about 12345, file a work order, my orders, tracking,
grid reports and the public grid map.

Views parse, authorise and call :mod:`yiwang.hotline.services`; what they
show comes from :mod:`yiwang.hotline.selectors` and
:mod:`yiwang.hotline.page_data`. An order of someone else answers 404, like
a missing one. The desks are in :mod:`yiwang.hotline.desk_views`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.core import uploads
from yiwang.core.audit import record_event
from yiwang.core.http import client_address
from yiwang.hotline import forms, page_data, selectors, services
from yiwang.hotline.constants import Source
from yiwang.hotline.models import WorkOrder

if TYPE_CHECKING:
    from yiwang.accounts.models import User


logger = logging.getLogger(__name__)

PAGE_SIZE = selectors.PAGE_SIZE
STALE_MESSAGE = "stale_version"


def user_of(request: HttpRequest) -> User:
    return cast("User", request.user)


def apply_error(
    form: django_forms.Form, error: services.HotlineError, *, fields: Mapping[str, str] | None = None
) -> None:
    """Show a service's refusal next to the field it concerns (``fields`` maps codes or field names to this form's).

    Whatever the person typed stays in the bound form.
    """
    named = str(error.extra.get("field") or "")
    renames = fields or {}
    target = renames.get(error.code) or renames.get(named) or named
    form.add_error(target if target in form.fields else None, error.message)


def page_links(request: HttpRequest, page: Page[Any], param: str = "page") -> list[tuple[int, str]]:
    """(number, link) for every page of a list, keeping the rest of the query string."""
    links = []
    for number in page.paginator.page_range:
        query = request.GET.copy()
        query[param] = str(number)
        links.append((number, "?" + query.urlencode()))
    return links


def _caller_order(request: HttpRequest, number: str) -> WorkOrder:
    """An order of the signed-in caller; 404 for anyone else (staff use the desk page)."""
    try:
        order = selectors.get_visible(request.user, number)
    except services.WorkOrderNotFound as error:
        raise Http404(error.message) from error
    if order.caller_user_id != request.user.pk:
        raise Http404(_("工单不存在"))
    return order


# --- about 12345 -----------------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """What 12345 is for, and the doors to it."""
    return render(
        request,
        "hotline/home.html",
        {"has_desk": page_data.may_use_desk(request.user)},
    )


# --- filing and following one's own orders -----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def file_order(request: HttpRequest) -> HttpResponse:
    """File a consultation, request, complaint, report or suggestion online (source: web)."""
    user = user_of(request)
    posted = request.method == "POST"
    form = forms.WorkOrderForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        initial={"kind": request.GET.get("kind", "")},
    )
    if posted and form.is_valid():
        try:
            order = services.register(
                actor=user,
                source=Source.WEB,
                caller=services.CallerDetails(user=user, anonymous=form.cleaned_data["anonymous"]),
                **form.register_arguments(),
            )
        except services.HotlineError as error:
            apply_error(form, error, fields={"anonymous_not_allowed": "anonymous"})
        else:
            messages.success(
                request,
                _("诉求已登记，工单编号 %(number)s，查询码 %(code)s。")
                % {"number": order.number, "code": order.verification_code},
            )
            return redirect("hotline:mine_order", number=order.number)
    return render(request, "hotline/file.html", {"form": form}, status=400 if posted else 200)


@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """我的诉求: every order the person filed, newest first."""
    page = Paginator(selectors.my_orders(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "hotline/mine.html",
        {
            "page": page,
            "rows": page_data.rows(page.object_list),
            "links": page_links(request, page),
            "has_desk": page_data.may_use_desk(request.user),
        },
    )


def _render_mine_order(
    request: HttpRequest,
    order: WorkOrder,
    *,
    confirm_form: forms.ConfirmForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    view = page_data.caller_order_view(request.user, order)
    form = confirm_form or forms.ConfirmForm(prefix="confirm", initial={"expected_version": order.version})
    return render(
        request,
        "hotline/mine_order.html",
        {"view": view, "order": order, "confirm_form": form, "error": error},
        status=status,
    )


@login_required
@require_GET
def mine_order(request: HttpRequest, number: str) -> HttpResponse:
    """One of my orders: state, deadline, the public timeline and the answer."""
    try:
        order = selectors.get_visible(request.user, number)
    except services.WorkOrderNotFound as error:
        raise Http404(error.message) from error
    if order.caller_user_id != request.user.pk:
        return redirect("hotline:desk_order", number=order.number)
    return _render_mine_order(request, order)


@login_required
@require_POST
def confirm(request: HttpRequest, number: str) -> HttpResponse:
    """The rater says whether the rectification of their bad rating solved the problem."""
    user = user_of(request)
    order = _caller_order(request, number)
    form = forms.ConfirmForm(request.POST, prefix="confirm")
    if not form.is_valid():
        return _render_mine_order(request, order, confirm_form=form, status=400)
    try:
        services.perform(
            order.number,
            "confirm",
            actor=user,
            expected_version=form.cleaned_data["expected_version"],
            reason=form.cleaned_data["reason"],
            **form.params(),
        )
    except services.WorkOrderNotFound as error:
        raise Http404(error.message) from error
    except services.HotlineError as refused:
        order = _caller_order(request, number)
        if refused.code == STALE_MESSAGE:
            return _render_mine_order(request, order, error=_("工单已有新的进展，请查看最新状态后再确认。"), status=409)
        apply_error(form, refused)
        return _render_mine_order(request, order, confirm_form=form, status=refused.status)
    messages.success(request, _("感谢您的确认，已记录。"))
    return redirect("hotline:mine_order", number=order.number)


# --- attachments ------------------------------------------------------------------------------------


@login_required
@require_GET
def attachment(request: HttpRequest, number: str, attachment_id: int) -> FileResponse:
    """A file of an order, for whoever may see the whole order (its caller, and staff with a part in it).

    Sent as a download with the checked type and the cleaned name, never
    shown inline; anyone else gets the same 404 as for a missing file. The
    read is recorded in the audit log.
    """
    try:
        order = selectors.get_visible(request.user, number)
    except services.WorkOrderNotFound as error:
        raise Http404(error.message) from error
    stored = selectors.attachment(order, attachment_id)
    if stored is None:
        raise Http404(_("附件不存在"))
    try:
        handle = uploads.open_stored(stored.storage_name)
    except (OSError, ValueError) as error:
        logger.error("Attachment %s of %s is missing from the materials storage: %r", stored.pk, order.number, error)
        raise Http404(_("附件不存在")) from error
    record_event(
        "hotline.attachment_downloaded",
        actor=request.user,
        ip=client_address(request),
        target=f"hotline.WorkOrder:{order.number}",
        detail={"attachment": stored.pk, "sha256": stored.sha256},
    )
    response = FileResponse(handle, as_attachment=True, filename=stored.name, content_type=stored.content_type)
    # Also set by SecurityMiddleware; said here so that the download stays safe whatever the settings say.
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- public tracking ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    """工单查询: progress by number and verification code, for anyone; wrong guesses are throttled per address."""
    posted = request.method == "POST"
    form = forms.TrackForm(request.POST if posted else None)
    progress = None
    status = 200
    if posted:
        status = 400
        if form.is_valid():
            ip = client_address(request) or ""
            refused = page_data.track_refused(ip)
            if refused:
                form.add_error(None, refused)
                status = 429
            else:
                order = selectors.public_progress(form.cleaned_data["number"], form.cleaned_data["code"])
                if order is None:
                    page_data.record_failed_track(ip)
                    form.add_error(None, _("工单编号或查询码不正确，请核对后再试"))
                else:
                    progress = page_data.public_progress(order)
                    status = 200
    return render(request, "hotline/track.html", {"form": form, "progress": progress}, status=status)


# --- grid reports -------------------------------------------------------------------------------------


def _picked_point(form: forms.GridReportForm) -> tuple[float, float] | None:
    if not form.is_bound or form.errors.get("longitude") or form.errors.get("latitude"):
        return None
    data = getattr(form, "cleaned_data", {})
    lon, lat = data.get("longitude"), data.get("latitude")
    return (float(lon), float(lat)) if lon is not None and lat is not None else None


@login_required
@require_http_methods(["GET", "POST"])
def grid_report(request: HttpRequest) -> HttpResponse:
    """网格上报: pick the spot on the grid map (or type its coordinates), say what is wrong."""
    user = user_of(request)
    posted = request.method == "POST"
    form = forms.GridReportForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        data = form.cleaned_data
        try:
            order = services.report_grid_problem(
                actor=user,
                title=data["title"],
                content=data["content"],
                category=data["category"],
                longitude=data["longitude"],
                latitude=data["latitude"],
                location_text=data["location"],
                attachments=data["attachments"],
            )
        except services.HotlineError as error:
            apply_error(form, error, fields={"bad_location": "longitude", "outside_grid": "longitude"})
        else:
            messages.success(
                request,
                _("已上报，工单编号 %(number)s，已派至%(cell)s。")
                % {"number": order.number, "cell": order.grid_cell.name if order.grid_cell else ""},
            )
            return redirect("hotline:mine_order", number=order.number)
    point = _picked_point(form)
    return render(
        request,
        "hotline/grid_report.html",
        {"form": form, "map_svg": page_data.grid_svg(point=point)},
        status=400 if posted else 200,
    )


@require_GET
def grid_map(request: HttpRequest) -> HttpResponse:
    """The public map: cells with open reports marked, and the reports' status (nothing about who reported)."""
    page = Paginator(selectors.open_grid_reports(), PAGE_SIZE).get_page(request.GET.get("page"))
    open_cells = set(
        selectors.open_grid_reports().exclude(grid_cell=None).order_by().values_list("grid_cell__code", flat=True)
    )
    return render(
        request,
        "hotline/grid_map.html",
        {
            "page": page,
            "rows": page_data.rows(page.object_list),
            "links": page_links(request, page),
            "map_svg": page_data.grid_svg(highlight=open_cells),
        },
    )
