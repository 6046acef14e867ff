"""The message centre (站内消息): a signed-in user's own in-app messages.

Views parse, authorise and call services; they never write models.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from . import metrics as metrics_module
from . import notifications, selectors

MESSAGES_PER_PAGE = 20


@login_required
@require_GET
def message_list(request: HttpRequest) -> HttpResponse:
    """The user's messages, newest first, unread ones marked."""
    page = Paginator(selectors.inbox(request.user), MESSAGES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/message_list.html",
        {"page": page, "unread": selectors.unread_count(request.user)},
    )


@login_required
@require_GET
def message_open(request: HttpRequest, message_id: int) -> HttpResponse:
    """Open one message: it becomes read, and its link, when it has one on this site, is followed."""
    message = notifications.mark_read(selectors.get_own_message(request.user, message_id))
    # Links come from our own services, but a link to another host would make this an open redirect.
    if message.link and url_has_allowed_host_and_scheme(
        message.link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(message.link)
    return render(request, "core/message_detail.html", {"message": message})


@login_required
@require_POST
def message_read_all(request: HttpRequest) -> HttpResponse:
    count = notifications.mark_all_read(request.user)
    if count:
        messages.success(request, _("已将 %(count)d 条消息标为已读。") % {"count": count})
    return redirect("core:messages")


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics for operators: a scraper's bearer token, or staff holding ``core.view_metrics``.

    401 (with ``WWW-Authenticate: Bearer``) when no valid credential came, 403 for a signed-in user
    without the permission (docs/adr/0035-metrics-and-backup.md says why not 404).
    """
    access = metrics_module.access_of(request)
    if access is metrics_module.Access.GRANTED:
        return HttpResponse(metrics_module.exposition(), content_type=metrics_module.CONTENT_TYPE)
    if access is metrics_module.Access.FORBIDDEN:
        return HttpResponse(_("没有查看运行指标的权限。"), status=403, content_type="text/plain; charset=utf-8")
    response = HttpResponse(_("需要凭据才能查看运行指标。"), status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = metrics_module.WWW_AUTHENTICATE
    return response
