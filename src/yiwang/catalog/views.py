"""Public portal pages: home, search results, guides, departments, themes, bundles.

Pages are plain HTML forms and links, so they work without JavaScript on a
kiosk or an old phone.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from yiwang.core import text
from yiwang.core.middleware import ELDERLY_COOKIE
from yiwang.core.search_sources import search_other_sources

from . import selectors, services
from .constants import Audience, ItemKind, Level, ThemeAudience

RESULTS_PER_PAGE = 10
MAX_RESULTS = 100
FAQ_RESULTS = 3
OTHER_SOURCE_RESULTS = 3


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "catalog/home.html",
        {
            "hot_items": selectors.hot_items(12),
            "person_themes": selectors.themes(ThemeAudience.PERSON),
            "organisation_themes": selectors.themes(ThemeAudience.ORGANISATION),
            "bundles": selectors.published_bundles()[:8],
        },
    )


def _choice(value: str | None, allowed: list[str]) -> str:
    return value if value in allowed else ""


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("q", "")
    filters = {
        "department": request.GET.get("department", "")[:64],
        "level": _choice(request.GET.get("level"), list(Level.values)),
        "kind": _choice(request.GET.get("kind"), list(ItemKind.values)),
        "audience": _choice(request.GET.get("audience"), [Audience.PERSON, Audience.ORGANISATION]),
        "theme": request.GET.get("theme", "")[:64],
        "type": _choice(request.GET.get("type"), ["item", "bundle"]),
    }
    context: dict[str, Any] = {
        "query": raw[: settings.SEARCH_MAX_QUERY_LENGTH],
        "filters": filters,
        "departments": selectors.departments(),
        "themes": selectors.themes(),
        "levels": Level.choices,
        "kinds": ItemKind.choices,
        "error": "",
        "page": None,
        "total": 0,
        "no_good_match": False,
        "faq_hits": [],
        "other_sources": [],
    }
    status = 200
    query = text.normalise(raw)
    if len(raw) > settings.SEARCH_MAX_QUERY_LENGTH * 4 or len(query) > settings.SEARCH_MAX_QUERY_LENGTH:
        context["error"] = _("查询词过长，请不要超过%(limit)d个字。") % {"limit": settings.SEARCH_MAX_QUERY_LENGTH}
        context["query"] = ""
        status = 400
    elif query:
        outcome = selectors.search_outcome(
            query, limit=MAX_RESULTS, faqs=FAQ_RESULTS, **{k: v or None for k, v in filters.items()}
        )
        paginator = Paginator(outcome.hits, RESULTS_PER_PAGE)
        context["page"] = paginator.get_page(request.GET.get("page"))
        context["total"] = outcome.total
        context["no_good_match"] = outcome.no_good_match
        context["faq_hits"] = outcome.faqs
        context["other_sources"] = search_other_sources(query, OTHER_SOURCE_RESULTS)
    return render(request, "catalog/search.html", context, status=status)


@require_GET
def item_guide(request: HttpRequest, code: str) -> HttpResponse:
    version_param = request.GET.get("version", "")
    version = int(version_param) if version_param.isdigit() and len(version_param) < 7 else None
    item = selectors.get_item(code, version)
    _count_choice(request, "item", code)
    return render(
        request,
        "catalog/item_guide.html",
        {
            "item": item,
            "history": selectors.item_history(code),
            "is_current": item.status == "published",
        },
    )


@require_GET
def department_list(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/department_list.html", {"departments": selectors.departments()})


@require_GET
def department_detail(request: HttpRequest, code: str) -> HttpResponse:
    department = selectors.get_department(code)
    paginator = Paginator(selectors.published_items(department=code), 30)
    return render(
        request,
        "catalog/department_detail.html",
        {"department": department, "page": paginator.get_page(request.GET.get("page"))},
    )


@require_GET
def theme_detail(request: HttpRequest, code: str) -> HttpResponse:
    theme = selectors.get_theme(code)
    return render(
        request,
        "catalog/theme_detail.html",
        {
            "theme": theme,
            "items": selectors.published_items(theme=code),
            "bundles": selectors.published_bundles().filter(theme=theme),
        },
    )


@require_GET
def bundle_list(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/bundle_list.html", {"bundles": selectors.published_bundles()})


@require_GET
def bundle_detail(request: HttpRequest, code: str) -> HttpResponse:
    view = selectors.get_bundle(code)
    _count_choice(request, "bundle", code)
    return render(request, "catalog/bundle_detail.html", {"view": view})


def _count_choice(request: HttpRequest, target: str, code: str) -> None:
    # A result link on the search page carries the query (?from_search=…), so the choice is counted
    # without JavaScript; only the aggregate is stored (services.record_search_choice).
    query = request.GET.get("from_search", "")
    if query:
        services.record_search_choice(query, target, code)


@require_POST
def set_elderly_mode(request: HttpRequest) -> HttpResponse:
    """Switch elderly mode (适老化) on or off; remembered for a year."""
    target = request.POST.get("next") or request.headers.get("referer") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if request.POST.get("enabled") == "1":
        response.set_cookie(
            ELDERLY_COOKIE, "1", max_age=365 * 24 * 3600, samesite="Lax", secure=request.is_secure(), httponly=True
        )
    else:
        response.delete_cookie(ELDERLY_COOKIE)
    return response
