"""Pages of data sharing: the public resource catalogue, the staff desk, the citizen's consents, and the
免提交 page where an applicant fetches and confirms a material.

Views parse, authorise and call :mod:`yiwang.exchange.services`; a missing and
a forbidden object both answer 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import policy, selectors, services
from .constants import CONSENT_DAYS_CHOICES, CONSENT_DAYS_DEFAULT

PAGE_SIZE = 30


@require_GET
def catalogue(request: HttpRequest) -> HttpResponse:
    """政务信息资源目录 (public): the open entries, their fields and terms; never anyone's data."""
    page = Paginator(selectors.public_resources(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "exchange/catalogue.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def desk(request: HttpRequest) -> HttpResponse:
    """数据共享交换 (staff): a request form, the exchanges one's departments asked for or answered, the catalogue.

    A request posted here goes through the same service as the API; the answer (only the asked fields) is
    shown once, on this page, and is not kept.
    """
    if not policy.may_use_exchange_desk(request.user):
        raise PermissionDenied(_("只有部门工作人员可以使用数据共享交换"))
    result = None
    error = ""
    form = {key: request.POST.get(key, "")[:300] for key in REQUEST_KEYS} if request.method == "POST" else {}
    if request.method == "POST":
        try:
            if form.get("subject_kind") == "organisation":
                subject = services.subject_for_credit_code(form.get("subject", ""))
            else:
                subject = services.subject_for_id_number(form.get("subject", ""))
            result = services.request_data(
                actor=request.user,
                consumer_code=form.get("consumer", ""),
                service_code=form.get("service", ""),
                subject=subject,
                fields=[f.strip() for f in form.get("fields", "").replace("，", ",").split(",") if f.strip()],
                purpose=form.get("purpose", ""),
                legal_basis=form.get("legal_basis", ""),
                case_reference=form.get("case_reference", "")[:80],
            )
        except services.ExchangeError as refusal:
            error = refusal.message
            if refusal.extra.get("exchange_id"):
                error = _("%(message)s（交换编号 %(id)s）") % {"message": error, "id": refusal.extra["exchange_id"]}
    page = Paginator(selectors.exchanges_seen_by(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "exchange/desk.html",
        {
            "resources": selectors.all_resources(),
            "services": selectors.services(),
            "consumers": selectors.requesting_departments(request.user),
            "page": page,
            "form": form,
            "result": result,
            "error": error,
        },
        status=400 if error else 200,
    )


REQUEST_KEYS = ("service", "consumer", "subject_kind", "subject", "fields", "purpose", "legal_basis", "case_reference")


def _int(value: str | None, default: int = 0) -> int:
    return int(value) if value and value.isdigit() else default


@login_required
@require_http_methods(["GET", "POST"])
def consents(request: HttpRequest) -> HttpResponse:
    """我的数据授权: give, see and revoke consents to conditional shares; the exchanges of one's data."""
    if request.method == "POST":
        try:
            services.give_consent(
                actor=request.user,
                service_code=request.POST.get("service", "")[:40],
                days=_int(request.POST.get("days"), CONSENT_DAYS_DEFAULT),
                purpose=_("办理本人申请的政务服务事项"),
            )
        except services.ExchangeError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("已授权，可随时撤回"))
        return HttpResponseRedirect(reverse("exchange:consents"))
    return render(
        request,
        "exchange/consents.html",
        {
            "consents": selectors.my_consents(request.user)[:50],
            "services": selectors.consentable_services() if request.user.person_id else [],  # type: ignore[union-attr]
            "exchanges": selectors.my_exchanges(request.user)[:20],
            "days_choices": CONSENT_DAYS_CHOICES,
            "days_default": CONSENT_DAYS_DEFAULT,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def consent_revoke(request: HttpRequest, consent_id: int) -> HttpResponse:
    """Withdraw a consent (only the person it is about)."""
    try:
        services.revoke_consent(actor=request.user, consent_id=consent_id)
    except services.ExchangeError as error:
        raise Http404(error.message) from error
    messages.success(request, _("已撤回授权，之后不再据此获取您的数据"))
    return HttpResponseRedirect(reverse("exchange:consents"))


@login_required
@require_http_methods(["GET", "POST"])
def material(request: HttpRequest, application_id: int, material_key: str) -> HttpResponse:
    """免提交: consent when the share is conditional, fetch, show the data, confirm (or fall back to upload)."""
    try:
        context = services.material_context(request.user, application_id, material_key)
    except services.ExchangeError as error:
        raise Http404(error.message) from error
    back = reverse("cases:application", args=[application_id]) + "#materials"
    here = reverse("exchange:material", args=[application_id, material_key])
    fallback = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "consent":
                if request.POST.get("agree") != "yes":
                    messages.error(request, _("请勾选同意后再获取"))
                    return HttpResponseRedirect(here)
                services.give_consent(
                    actor=request.user,
                    service_code=context.service.code,
                    consumer_code=context.consumer.code,
                    fields=context.fields,
                    days=_int(request.POST.get("days"), CONSENT_DAYS_DEFAULT),
                    purpose=context.purpose,
                    application_id=application_id,
                )
                action = "fetch"
            if action == "fetch":
                services.fetch_material(actor=request.user, application_id=application_id, material_key=material_key)
                messages.success(request, _("已获取，请核对后确认"))
                return HttpResponseRedirect(here)
            if action == "confirm":
                if request.POST.get("confirm") != "yes":
                    messages.error(request, _("请勾选确认后再提交"))
                    return HttpResponseRedirect(here)
                services.confirm_material(actor=request.user, application_id=application_id, material_key=material_key)
                messages.success(request, _("已确认，该材料免提交"))
                return HttpResponseRedirect(back)
            if action == "release":
                services.release_material(actor=request.user, application_id=application_id, material_key=material_key)
                messages.success(request, _("已取消共享获取，请上传该材料"))
                return HttpResponseRedirect(back)
        except services.ExchangeError as error:
            if error.code == "not_found":
                raise Http404(error.message) from error
            if error.code in ("provider_unavailable", "no_record"):
                fallback = error.message
            else:
                messages.error(request, error.message)
                return HttpResponseRedirect(here)
    row = services.shared_material(application_id, material_key)
    return render(
        request,
        "exchange/material.html",
        {
            "context": context,
            "row": row,
            "data": services.material_data(row) if row else {},
            "labels": {f.key: f.label for f in services.resource_fields(context.service)},
            "stale": bool(row and services.is_stale(row)),
            "needs_consent": context.needs_consent and not services.has_live_consent(context),
            "fallback": fallback,
            "days_choices": CONSENT_DAYS_CHOICES,
            "days_default": CONSENT_DAYS_DEFAULT,
            "back": back,
        },
        status=503 if fallback else 200,
    )
