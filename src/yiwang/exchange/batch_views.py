"""The staff page of 前置库 batches: each batch of the user's departments, how it ended and what it changed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import policy, selectors

PAGE_SIZE = 30


@login_required
@require_GET
def batches(request: HttpRequest) -> HttpResponse:
    if not policy.may_use_exchange_desk(request.user):
        raise PermissionDenied(_("只有部门工作人员可以使用数据共享交换"))
    page = Paginator(selectors.batches_seen_by(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "exchange/batches.html", {"page": page})
