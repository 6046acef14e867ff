"""Pages and endpoints of fee payment: the providers' callback endpoint and the sandbox gateway's cashier page.

The callback endpoint is called by payment gateways, not browsers: no
session, no CSRF token, only the provider's signature, checked in
:func:`yiwang.cases.payments.handle_callback`. The cashier page belongs to
the simulated gateway (:mod:`yiwang.cases.sandbox_gateway`); it is served
here only because the sandbox lives in the same process.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from yiwang.cases import payments, sandbox_gateway
from yiwang.cases.constants import PaymentStatus
from yiwang.cases.models import PaymentOrder


@csrf_exempt
@require_POST
def payment_callback(request: HttpRequest, provider: str) -> HttpResponse:
    """A provider's asynchronous payment notice; the status code tells it whether to send it again."""
    outcome = payments.handle_callback(provider, request.body, request.headers)
    return JsonResponse({"outcome": outcome}, status=payments.callback_status(outcome))


def _return_url(request: HttpRequest) -> str:
    target = request.GET.get("return_url", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("accounts:home")


def _cashier(request: HttpRequest, order: PaymentOrder, *, error: str = "", status: int = 200) -> HttpResponse:
    # Success is what the order says, not the query string: the provider's notice arrives after the redirect,
    # and until then the payment is being confirmed (neither 支付成功 nor 待支付).
    paid = order.status == PaymentStatus.PAID
    confirming = not paid and order.status == PaymentStatus.PENDING and request.GET.get("paid") == "1"
    status_label = _("支付结果确认中") if confirming else order.get_status_display()
    return render(
        request,
        "cases/payments/sandbox_cashier.html",
        {
            "order": order,
            "item_name": order.case.item_name,
            "case_number": order.case.number,
            "can_pay": payments.can_pay(order) and not confirming,
            "paid_now": paid,
            "confirming": confirming,
            "status_label": status_label,
            "return_url": _return_url(request),
            "error": error,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_cashier(request: HttpRequest, order_number: str) -> HttpResponse:
    """The sandbox gateway's cashier (收银台): the applicant confirms or abandons the payment."""
    order = payments.order_for_payer(order_number, request.user)
    if order is None or order.provider != sandbox_gateway.PROVIDER:
        raise Http404
    if request.method == "GET":
        return _cashier(request, order)
    action = request.POST.get("action", "")
    if action == "cancel":
        # Leaving the cashier is not cancelling the fee: the order stays payable.
        return HttpResponseRedirect(_return_url(request))
    if action != "pay":
        return _cashier(request, order, error=_("请选择“确认支付”或“取消”。"), status=400)
    if not payments.can_pay(order):
        return _cashier(request, order, error=_("该缴款单当前不能支付。"), status=409)
    sandbox_gateway.pay(order.order_number, order.amount)
    query = urlencode({"paid": "1", "return_url": _return_url(request)})
    return HttpResponseRedirect(f"{request.path}?{query}")
