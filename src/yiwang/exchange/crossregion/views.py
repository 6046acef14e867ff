"""Pages of 跨省通办 at the applying node: the peers' items, the application form, the citizen's case page and
its receipt (回执). Views parse, authorise and call :mod:`.services`; another person's application is a 404.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from . import selectors, services
from .constants import ForwardState

PAGE_SIZE = 30


@require_GET
def items(request: HttpRequest) -> HttpResponse:
    """跨省通办事项 (public): items other nodes handle that can be applied for here."""
    query = request.GET.get("q", "")[:100]
    page = Paginator(selectors.remote_items(query), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "crossregion/items.html", {"page": page, "query": query})


@login_required
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, item_id: int) -> HttpResponse:
    """The application form for a peer's item: its fields and materials; submitting forwards it."""
    item = selectors.get_remote_item(item_id)
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    error = ""
    if request.method == "POST":
        values = {spec["key"]: request.POST.get(spec["key"], "")[:5000] for spec in item.fields}
        files = [
            services.Upload(spec["key"], upload.name or "", upload)
            for spec in item.materials
            if (upload := request.FILES.get(f"material-{spec['key']}")) is not None
        ]
        try:
            application = services.apply(actor=request.user, item_id=item.pk, form_data=values, files=files)
        except services.CrossRegionError as refused:
            problems = dict(refused.extra.get("problems") or {})
            if refused.field:
                problems[refused.field] = refused.message
            error = refused.message
        else:
            return redirect("crossregion:receipt", number=application.number)
    return render(
        request,
        "crossregion/apply.html",
        {
            "item": item,
            "field_rows": [(spec, values.get(spec["key"], ""), problems.get(spec["key"], "")) for spec in item.fields],
            "material_rows": [(spec, problems.get(spec["key"], "")) for spec in item.materials],
            "error": error,
        },
        status=422 if error else 200,
    )


@login_required
@require_GET
def my_applications(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.my_applications(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "crossregion/my_applications.html", {"page": page})


@login_required
@require_GET
def application(request: HttpRequest, number: str) -> HttpResponse:
    """The citizen's case page: this node's number, the handling node's case number and status, its history."""
    found = selectors.get_my_application(request.user, number)
    return render(
        request,
        "crossregion/application.html",
        {
            "application": found,
            "updates": selectors.status_updates(found),
            "states": ForwardState,
            "platform_name": settings.YIWANG_PLATFORM_NAME,
        },
    )


@login_required
@require_GET
def receipt(request: HttpRequest, number: str) -> HttpResponse:
    """回执: what was received where, and who handles it where — both nodes named."""
    found = selectors.get_my_application(request.user, number)
    return render(
        request,
        "crossregion/receipt.html",
        {"application": found, "states": ForwardState, "platform_name": settings.YIWANG_PLATFORM_NAME},
    )
