"""Fees of case handling: payment orders, the sandbox gateway, and the callbacks that confirm (or not) a payment."""

from __future__ import annotations

import base64
import datetime as dt
import html
import http.server
import json
import re
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, ID_CARD_REISSUE, Staff, item_code
from yiwang.cases import definitions, payments, sandbox_gateway, services
from yiwang.cases.constants import CaseState, PaymentStatus
from yiwang.cases.models import Application, Case, CaseEvent, PaymentCallback, PaymentOrder
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import outbox
from yiwang.core.models import AuditEvent, OutboxEvent

pytestmark = pytest.mark.django_db

CALLBACK_URL = "/payments/callback/sandbox/"


# --- helpers ---------------------------------------------------------------------------


def run_worker() -> int:
    """Handle every due outbox event as ``yiwang worker`` would, until none is left; return how many."""
    handled = 0
    for _round in range(20):
        done = outbox.process_batch("test-worker")
        if not done:
            return handled
        handled += done
    raise AssertionError("the outbox never ran dry")


def awaiting_payment(citizen: Any, police: Staff) -> Case:
    (case,) = builders.apply_at_counter(police.clerk, citizen, item_code=item_code(ID_CARD_REISSUE, "police"))
    services.perform(case, "accept", actor=police.clerk)
    services.perform(case, "complete_task", actor=police.reviewer, reason="挂失信息与人口信息一致")
    return services.perform(case, "approve", actor=police.approver, reason="准予补领")


def order_of(case: Case) -> PaymentOrder:
    return PaymentOrder.objects.get(case=case)


def notice(order: PaymentOrder, **overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "notify_id": uuid.uuid4().hex,
        "order_number": order.order_number,
        "trade_no": sandbox_gateway.trade_number(order.order_number),
        "amount": order.amount,
        "status": "SUCCESS",
        "paid_at": timezone.now(),
    }
    fields.update(overrides)
    return sandbox_gateway.notice_body(**fields)


def post_callback(client: Client, body: bytes, headers: dict[str, str], provider: str = "sandbox") -> Any:
    return client.post(
        f"/payments/callback/{provider}/",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


def confirmations(case: Case) -> int:
    return CaseEvent.objects.filter(case=case, action="confirm_payment").count()


def outcomes() -> list[str]:
    return list(PaymentCallback.objects.order_by("id").values_list("outcome", flat=True))


def audited(event: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event).order_by("sequence"))


@pytest.fixture
def fee_case(citizen: Any, police: Staff) -> Case:
    return awaiting_payment(citizen, police)


@pytest.fixture
def applicant_client(citizen: Any) -> Client:
    client = Client()
    client.force_login(citizen)
    return client


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Move the clock forward: ``later(minutes=21)``."""
    real_now = timezone.now

    def move(**delta: float) -> None:
        shifted = real_now() + dt.timedelta(**delta)
        monkeypatch.setattr(timezone, "now", lambda: shifted)

    yield move


# --- orders ------------------------------------------------------------------------------


def test_approving_a_fee_charging_case_creates_its_payment_order(fee_case: Case) -> None:
    order = order_of(fee_case)

    assert fee_case.state == CaseState.AWAITING_PAYMENT
    assert re.fullmatch(rf"PAY{timezone.localdate():%Y%m%d}\d{{10}}", order.order_number)
    assert order.amount == Decimal("40.00")
    assert order.description == "居民身份证工本费（丢失补领）"
    assert (order.provider, order.status, order.provider_trade_number) == ("sandbox", PaymentStatus.PENDING, "")
    approve = CaseEvent.objects.get(case=fee_case, action="approve")
    assert approve.detail["payment_order"] == order.order_number
    assert payments.checkout_url(order) == (
        f"/payments/sandbox/{order.order_number}/?return_url=%2Fcases%2F{fee_case.number}%2F"
    )


def test_an_order_is_the_sum_of_the_items_fees_and_created_once(fee_case: Case) -> None:
    first = order_of(fee_case)
    fee_case.item.fees.create(name="邮寄费", amount=Decimal("12.50"))
    PaymentOrder.objects.filter(pk=first.pk).update(status=PaymentStatus.CANCELLED)

    second = payments.create_order(fee_case)
    again = payments.create_order(fee_case)

    assert second.pk == again.pk != first.pk
    assert second.order_number != first.order_number
    assert second.amount == Decimal("52.50")
    assert second.description == "居民身份证工本费（丢失补领）、邮寄费"


def test_an_item_without_fees_gets_no_order(citizen: Any) -> None:
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    with pytest.raises(ValueError, match="没有收费项目"):
        payments.create_order(case)
    assert not PaymentOrder.objects.exists()


def test_an_unknown_configured_provider_stops_order_creation(fee_case: Case, settings: Any) -> None:
    settings.YIWANG_PAYMENT_PROVIDER = "nonexistent"
    PaymentOrder.objects.update(status=PaymentStatus.CANCELLED)
    with pytest.raises(payments.UnknownProvider):
        payments.create_order(fee_case)


def test_cancel_orders_cancels_only_unpaid_orders(fee_case: Case) -> None:
    assert payments.cancel_orders(fee_case) == 1
    assert order_of(fee_case).status == PaymentStatus.CANCELLED
    assert payments.pending_order(fee_case) is None
    assert payments.cancel_orders(fee_case) == 0


# --- the whole journey ---------------------------------------------------------------------


def test_paying_at_the_cashier_moves_the_case_on_once_the_gateway_has_notified(
    fee_case: Case, applicant_client: Client
) -> None:
    order = order_of(fee_case)
    cashier = payments.checkout_url(order)

    page = applicant_client.get(cashier)
    assert page.status_code == 200
    html = page.content.decode()
    assert "40.00" in html and "居民身份证补领" in html and "确认支付" in html and "取消" in html

    paid = applicant_client.post(cashier, {"action": "pay"})
    assert paid.status_code == 302 and "paid=1" in paid["Location"]
    # The notice is asynchronous: nothing has changed on our side yet.
    assert order_of(fee_case).status == PaymentStatus.PENDING
    after_payment = applicant_client.get(paid["Location"]).content.decode()
    # Issue 12 item 8: never "支付成功" beside "待支付"; until the notice arrives the payment is being confirmed.
    assert "支付结果确认中" in after_payment and 'value="pay"' not in after_payment
    assert "支付成功" not in after_payment and "待支付" not in after_payment
    # The query string claims nothing: without it the still pending order is payable again.
    assert "支付成功" not in applicant_client.get(cashier).content.decode()

    run_worker()
    settled = applicant_client.get(paid["Location"]).content.decode()
    assert "支付成功" in settled and "已支付" in settled and "待支付" not in settled

    fee_case.refresh_from_db()
    order = order_of(fee_case)
    assert fee_case.state == CaseState.ISSUING
    assert order.status == PaymentStatus.PAID and order.paid_at is not None
    assert order.provider_trade_number == sandbox_gateway.trade_number(order.order_number)
    (callback,) = PaymentCallback.objects.all()
    assert (callback.outcome, callback.signature_valid, callback.order_id) == ("confirmed", True, order.pk)
    assert json.loads(callback.body)["out_trade_no"] == order.order_number
    event = CaseEvent.objects.get(case=fee_case, action="confirm_payment")
    assert (event.actor_id, event.from_state, event.to_state) == (None, "awaiting_payment", "issuing")


def test_the_gateways_delayed_duplicate_changes_nothing(fee_case: Case, applicant_client: Client, later: Any) -> None:
    order = order_of(fee_case)
    applicant_client.post(payments.checkout_url(order), {"action": "pay"})
    run_worker()
    paid_at = order_of(fee_case).paid_at
    assert OutboxEvent.objects.filter(topic=sandbox_gateway.RESEND_TOPIC, processed_at__isnull=True).count() == 1

    # The duplicate comes 20 minutes later, byte for byte: older than the freshness window, but already handled.
    later(minutes=21)
    run_worker()

    assert outcomes() == ["confirmed", "duplicate"]
    first, second = PaymentCallback.objects.order_by("id")
    assert first.body == second.body and first.notification_id == second.notification_id
    assert confirmations(fee_case) == 1
    assert order_of(fee_case).paid_at == paid_at
    assert not OutboxEvent.objects.filter(topic__startswith="sandbox_gateway.", processed_at__isnull=True).exists()


def test_a_second_notice_of_the_same_trade_is_a_duplicate_answered_200(
    fee_case: Case, applicant_client: Client, api_client: Client
) -> None:
    order = order_of(fee_case)
    body = notice(order)
    assert post_callback(api_client, body, sandbox_gateway.sign(body)).json() == {"outcome": "confirmed"}

    again = notice(order)  # a new notification id, the same trade
    response = post_callback(api_client, again, sandbox_gateway.sign(again))

    assert response.status_code == 200 and response.json() == {"outcome": "duplicate"}
    assert confirmations(fee_case) == 1
    fee_case.refresh_from_db()
    assert fee_case.state == CaseState.ISSUING


def test_paying_twice_before_the_notice_arrives_charges_once(fee_case: Case, applicant_client: Client) -> None:
    cashier = payments.checkout_url(order_of(fee_case))
    applicant_client.post(cashier, {"action": "pay"})
    applicant_client.post(cashier, {"action": "pay"})  # the back button, a double click

    run_worker()

    assert sorted(outcomes()) == ["confirmed", "duplicate"]
    assert confirmations(fee_case) == 1


def test_a_stale_notice_that_was_never_handled_is_refused(fee_case: Case, api_client: Client) -> None:
    body = notice(order_of(fee_case))
    old = post_callback(api_client, body, sandbox_gateway.sign(body, at=timezone.now() - dt.timedelta(minutes=16)))
    future = post_callback(api_client, body, sandbox_gateway.sign(body, at=timezone.now() + dt.timedelta(minutes=10)))

    assert (old.status_code, old.json()) == (400, {"outcome": "stale"})
    assert (future.status_code, future.json()) == (400, {"outcome": "stale"})
    assert order_of(fee_case).status == PaymentStatus.PENDING
    fee_case.refresh_from_db()
    assert fee_case.state == CaseState.AWAITING_PAYMENT
    assert [a.detail["outcome"] for a in audited("payment.callback_refused")] == ["stale", "stale"]


# --- refused notices -------------------------------------------------------------------------


def test_a_notice_signed_by_another_key_is_refused_and_kept(fee_case: Case, api_client: Client) -> None:
    body = notice(order_of(fee_case))
    headers = sandbox_gateway.sign(body)
    timestamp = headers[sandbox_gateway.TIMESTAMP_HEADER]
    forged = Ed25519PrivateKey.generate().sign(timestamp.encode() + b"." + body)
    headers[sandbox_gateway.SIGNATURE_HEADER] = base64.b64encode(forged).decode()

    response = post_callback(api_client, body, headers)

    assert (response.status_code, response.json()) == (400, {"outcome": "bad_signature"})
    callback = PaymentCallback.objects.get()
    assert (callback.signature_valid, callback.order_id, callback.body) == (False, None, body.decode())
    assert order_of(fee_case).status == PaymentStatus.PENDING
    fee_case.refresh_from_db()
    assert fee_case.state == CaseState.AWAITING_PAYMENT
    (refused,) = audited("payment.callback_refused")
    assert refused.detail["outcome"] == "bad_signature"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {sandbox_gateway.TIMESTAMP_HEADER: "1700000000"},
        {sandbox_gateway.SIGNATURE_HEADER: base64.b64encode(b"x" * 64).decode()},
        {sandbox_gateway.SIGNATURE_HEADER: "not base64!", sandbox_gateway.TIMESTAMP_HEADER: "1700000000"},
        {
            sandbox_gateway.SIGNATURE_HEADER: base64.b64encode(b"x" * 64).decode(),
            sandbox_gateway.TIMESTAMP_HEADER: "-5",
        },
    ],
    ids=["none", "no-signature", "no-timestamp", "bad-base64", "bad-timestamp"],
)
def test_missing_or_garbled_signature_headers_are_refused(
    fee_case: Case, api_client: Client, headers: dict[str, str]
) -> None:
    response = post_callback(api_client, notice(order_of(fee_case)), headers)
    assert (response.status_code, response.json()) == (400, {"outcome": "bad_signature"})
    assert outcomes() == ["bad_signature"]


def test_a_tampered_body_fails_the_signature(fee_case: Case, api_client: Client) -> None:
    body = notice(order_of(fee_case))
    headers = sandbox_gateway.sign(body)
    tampered = body.replace(b'"total_amount":"40.00"', b'"total_amount":"0.01"')
    assert tampered != body

    response = post_callback(api_client, tampered, headers)

    assert (response.status_code, response.json()) == (400, {"outcome": "bad_signature"})
    assert order_of(fee_case).status == PaymentStatus.PENDING
    assert PaymentCallback.objects.get().body == tampered.decode()


def test_a_signed_body_that_is_not_a_notice_is_refused(fee_case: Case, api_client: Client) -> None:
    for body in (b"not json", b"[1, 2]", b'{"notify_id": "x"}', notice(order_of(fee_case), amount="NaN")):
        response = post_callback(api_client, body, sandbox_gateway.sign(body))
        assert response.status_code == 400
    assert outcomes() == ["bad_signature"] * 4


def test_a_notice_for_an_unknown_order_is_refused(fee_case: Case, api_client: Client) -> None:
    order = order_of(fee_case)
    body = notice(order, order_number="PAY202601010000000000")

    response = post_callback(api_client, body, sandbox_gateway.sign(body))

    assert (response.status_code, response.json()) == (400, {"outcome": "unknown_order"})
    callback = PaymentCallback.objects.get()
    assert (callback.signature_valid, callback.order_id) == (True, None)
    assert order_of(fee_case).status == PaymentStatus.PENDING


def test_a_wrong_amount_is_flagged_and_not_taken_as_payment(fee_case: Case, api_client: Client) -> None:
    order = order_of(fee_case)
    body = notice(order, amount=Decimal("4.00"))

    response = post_callback(api_client, body, sandbox_gateway.sign(body))

    assert (response.status_code, response.json()) == (200, {"outcome": "amount_mismatch"})
    assert order_of(fee_case).status == PaymentStatus.PENDING
    fee_case.refresh_from_db()
    assert fee_case.state == CaseState.AWAITING_PAYMENT
    (flag,) = audited("payment.amount_mismatch")
    assert flag.target == f"cases.PaymentOrder:{order.order_number}"
    assert (flag.detail["expected"], flag.detail["amount"]) == ("40.00", "4.00")


def test_a_closed_trade_changes_nothing(fee_case: Case, api_client: Client) -> None:
    body = notice(order_of(fee_case), status="CLOSED")
    response = post_callback(api_client, body, sandbox_gateway.sign(body))
    assert (response.status_code, response.json()) == (200, {"outcome": "not_paid"})
    assert order_of(fee_case).status == PaymentStatus.PENDING


def test_an_unknown_provider_is_refused_but_recorded(api_client: Client) -> None:
    response = api_client.post("/payments/callback/nonexistent/", data=b"{}", content_type="application/json")
    assert (response.status_code, response.json()) == (404, {"outcome": "unknown_provider"})
    assert PaymentCallback.objects.get().provider == "nonexistent"


def test_the_callback_endpoint_takes_only_post(api_client: Client) -> None:
    assert api_client.get(CALLBACK_URL).status_code == 405
    assert not PaymentCallback.objects.exists()


# --- money that comes too late ----------------------------------------------------------------


def test_a_payment_for_a_cancelled_order_is_recorded_for_refund(fee_case: Case, api_client: Client) -> None:
    order = order_of(fee_case)
    payments.cancel_orders(fee_case)
    body = notice(order)

    response = post_callback(api_client, body, sandbox_gateway.sign(body))

    assert (response.status_code, response.json()) == (200, {"outcome": "late"})
    assert order_of(fee_case).status == PaymentStatus.CANCELLED
    assert confirmations(fee_case) == 0
    (refund,) = audited("payment.refund_due")
    assert refund.detail["reason"] == "order_cancelled" and refund.detail["amount"] == "40.00"


def test_a_second_payment_by_another_trade_is_recorded_for_refund(fee_case: Case, api_client: Client) -> None:
    order = order_of(fee_case)
    first = notice(order)
    post_callback(api_client, first, sandbox_gateway.sign(first))
    other = notice(order, trade_no="OTHER-TRADE-1")

    response = post_callback(api_client, other, sandbox_gateway.sign(other))

    assert response.json() == {"outcome": "late"}
    assert order_of(fee_case).provider_trade_number == sandbox_gateway.trade_number(order.order_number)
    assert confirmations(fee_case) == 1
    assert audited("payment.refund_due")[0].detail["reason"] == "paid_twice"


def test_a_payment_after_withdrawal_is_late(fee_case: Case, citizen: Any, api_client: Client) -> None:
    order = order_of(fee_case)
    services.perform(fee_case, "withdraw", actor=citizen, reason="已找到原身份证")
    body = notice(order)

    response = post_callback(api_client, body, sandbox_gateway.sign(body))

    assert (response.status_code, response.json()) == (200, {"outcome": "late"})
    fee_case.refresh_from_db()
    assert fee_case.state == CaseState.WITHDRAWN
    assert confirmations(fee_case) == 0
    assert order_of(fee_case).status == "cancelled"
    assert len(audited("payment.refund_due")) == 1


# --- the cashier ------------------------------------------------------------------------------


def test_only_the_applicant_side_may_open_or_use_the_cashier(fee_case: Case, other_citizen: Any, police: Staff) -> None:
    cashier = payments.checkout_url(order_of(fee_case))
    anonymous = Client().get(cashier)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]

    for stranger in (other_citizen, police.approver):
        client = Client()
        client.force_login(stranger)
        assert client.get(cashier).status_code == 404
        assert client.post(cashier, {"action": "pay"}).status_code == 404

    assert not OutboxEvent.objects.filter(topic=sandbox_gateway.NOTIFY_TOPIC).exists()
    assert len(audited("permission.denied")) == 4
    assert Client().get("/payments/sandbox/PAY000/").status_code == 302


def test_the_cashier_refuses_to_take_money_it_should_not(fee_case: Case, applicant_client: Client) -> None:
    cashier = payments.checkout_url(order_of(fee_case))
    assert applicant_client.post(cashier, {"action": "steal"}).status_code == 400
    assert applicant_client.get("/payments/sandbox/PAY000/").status_code == 404

    payments.cancel_orders(fee_case)
    refused = applicant_client.post(cashier, {"action": "pay"})
    assert refused.status_code == 409
    assert 'value="pay"' not in refused.content.decode()
    assert not OutboxEvent.objects.filter(topic=sandbox_gateway.NOTIFY_TOPIC).exists()


def test_cancelling_at_the_cashier_returns_without_paying(fee_case: Case, applicant_client: Client) -> None:
    cashier = payments.checkout_url(order_of(fee_case))
    response = applicant_client.post(cashier, {"action": "cancel"})
    assert (response.status_code, response["Location"]) == (302, f"/cases/{fee_case.number}/")
    assert order_of(fee_case).status == PaymentStatus.PENDING
    assert not OutboxEvent.objects.filter(topic=sandbox_gateway.NOTIFY_TOPIC).exists()

    offsite = applicant_client.post(
        f"/payments/sandbox/{order_of(fee_case).order_number}/?return_url=https://evil.example/", {"action": "cancel"}
    )
    assert offsite["Location"] == "/accounts/"


# --- the gateway ---------------------------------------------------------------------------------


def test_the_gateway_retries_a_notice_the_platform_did_not_accept() -> None:
    sandbox_gateway.pay("PAY209901010000000000", Decimal("1.00"))

    run_worker()

    assert outcomes() == ["unknown_order"]
    (retry,) = OutboxEvent.objects.filter(topic=sandbox_gateway.NOTIFY_TOPIC, processed_at__isnull=True)
    assert retry.payload["attempt"] == 2
    assert retry.available_at - retry.created_at >= sandbox_gateway.RETRY_DELAYS[0] - dt.timedelta(seconds=1)
    assert not OutboxEvent.objects.filter(topic=sandbox_gateway.RESEND_TOPIC).exists()


def test_the_signing_key_is_stable_and_tied_to_the_secret_key(settings: Any) -> None:
    body = b'{"x":1}'
    first = sandbox_gateway.sign(body, at=timezone.now())
    public = sandbox_gateway.public_key()
    message = first[sandbox_gateway.TIMESTAMP_HEADER].encode() + b"." + body
    public.verify(base64.b64decode(first[sandbox_gateway.SIGNATURE_HEADER]), message)

    settings.SECRET_KEY = "another-installation-" * 4
    assert sandbox_gateway.public_key().public_bytes_raw() != public.public_bytes_raw()
    assert sandbox_gateway.trade_number("PAY1") != ""


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[tuple[bytes, dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, dict(self.headers.items())))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"outcome":"confirmed"}')

    def log_message(self, *args: Any) -> None:
        pass


def test_the_gateway_can_notify_over_http(
    fee_case: Case, applicant_client: Client, api_client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.received = []
    try:
        settings.YIWANG_PAYMENT_CALLBACK_URL = f"http://127.0.0.1:{server.server_port}{CALLBACK_URL}"
        applicant_client.post(payments.checkout_url(order_of(fee_case)), {"action": "pay"})
        with django_capture_on_commit_callbacks(execute=True):
            run_worker()
    finally:
        server.shutdown()
        server.server_close()

    ((body, headers),) = _Recorder.received
    # What went over the wire is exactly what our endpoint accepts.
    response = post_callback(api_client, body, {k: v for k, v in headers.items() if k.startswith("X-Sandbox-")})
    assert response.json() == {"outcome": "confirmed"}
    fee_case.refresh_from_db()
    assert fee_case.state == CaseState.ISSUING
    assert OutboxEvent.objects.filter(topic=sandbox_gateway.RESEND_TOPIC, processed_at__isnull=True).count() == 1


# --- alternative fee lines (issue 12 item 8) -------------------------------------------------------------------------

ID_CARD_RENEWAL = "居民身份证换领"
EXPIRED = "有效期满、即将到期或登记项目变更换领的"
DAMAGED = "证件严重损坏不能辨认换领的"


def renewal_to_decision(citizen: Any, police: Staff, answers: dict[str, str] | None = None) -> Case:
    code = item_code(ID_CARD_RENEWAL, "police")
    (case,) = builders.apply_at_counter(police.clerk, citizen, item_code=code, answers=answers)
    services.perform(case, "accept", actor=police.clerk)
    services.perform(case, "complete_task", actor=police.reviewer, reason="信息核实无误")
    return case


def renewal_fee_key() -> str:
    return definitions.fee_question_key(item_code(ID_CARD_RENEWAL, "police"))


def test_the_applicant_answer_picks_one_alternative_fee_line_instead_of_the_sum(citizen: Any, police: Staff) -> None:
    item = catalog_selectors.published_items().get(code=item_code(ID_CARD_RENEWAL, "police"))
    question = definitions.for_item(item).question(renewal_fee_key())
    assert question is not None and [v for v, _label in question.options] == [EXPIRED, DAMAGED]
    case = renewal_to_decision(citizen, police, {renewal_fee_key(): EXPIRED})
    services.perform(case, "approve", actor=police.approver, reason="准予换领")
    order = order_of(case)
    assert order.amount == Decimal("20.00") and "损坏" not in order.description

    damaged = renewal_to_decision(citizen, police, {renewal_fee_key(): DAMAGED})
    services.perform(damaged, "approve", actor=police.approver, reason="准予换领")
    assert order_of(damaged).amount == Decimal("40.00")


def test_the_approver_picks_the_fee_line_when_the_answers_do_not(citizen: Any, police: Staff) -> None:
    case = renewal_to_decision(citizen, police, {renewal_fee_key(): DAMAGED})
    # An application from before the question existed: nothing picks the line.
    Application.objects.filter(pk=case.application_id).update(situation_answers={})
    with pytest.raises(services.CaseError) as unpicked:
        services.perform(case, "approve", actor=police.approver, reason="准予换领")
    assert unpicked.value.code == "fee_situation_required" and not PaymentOrder.objects.exists()
    with pytest.raises(services.CaseError) as invented:
        services.perform(case, "approve", actor=police.approver, reason="准予换领", fee_situation="随便收")
    assert invented.value.code == "unknown_fee_situation"
    services.perform(case, "approve", actor=police.approver, reason="准予换领", fee_situation=EXPIRED)
    assert order_of(case).amount == Decimal("20.00")


def test_fee_lines_without_a_situation_are_always_charged_and_a_lone_situation_only_when_it_applies() -> None:
    from yiwang.catalog.models import Fee

    item = catalog_selectors.published_items().get(code=item_code(ID_CARD_REISSUE, "police"))
    fixed = list(item.fees.all())
    assert catalog_selectors.fees_charged(item, None) == fixed
    extra = Fee.objects.create(item=item, name="加急费", amount=Decimal("5.00"), situation="申请加急办理的")
    item = catalog_selectors.published_items().get(pk=item.pk)
    assert catalog_selectors.fees_charged(item, "申请加急办理的") == [*fixed, extra]
    assert catalog_selectors.fees_charged(item, definitions.NO_FEE_SITUATION) == fixed
    with pytest.raises(catalog_selectors.FeeSituationUnknown):
        catalog_selectors.fees_charged(item, None)


def staff_page(user: Any, case: Case) -> str:
    client = Client()
    client.force_login(user)
    return html.unescape(client.get(f"/workbench/cases/{case.number}/").content.decode())


def test_the_staff_case_page_shows_the_fee_and_whether_it_is_paid(citizen: Any, police: Staff) -> None:
    case = renewal_to_decision(citizen, police, {renewal_fee_key(): DAMAGED})
    before = staff_page(police.approver, case)
    assert "应缴费用" in before and "40.00元" in before and "准予后生成缴款单" in before
    services.perform(case, "approve", actor=police.approver, reason="准予换领")
    order = order_of(case)
    pending = staff_page(police.approver, case)
    assert "40.00元" in pending and "待支付" in pending and order.order_number in pending
    PaymentOrder.objects.filter(pk=order.pk).update(status=PaymentStatus.PAID)
    paid = staff_page(police.approver, case)
    assert "已支付" in paid and "待支付" not in paid


def test_the_approver_chooses_the_fee_situation_on_the_case_page(citizen: Any, police: Staff) -> None:
    case = renewal_to_decision(citizen, police, {renewal_fee_key(): DAMAGED})
    Application.objects.filter(pk=case.application_id).update(situation_answers={})
    page = staff_page(police.approver, case)
    assert "收费情形待审批人确定" in page and 'name="approve-fee_situation"' in page
    client = Client()
    client.force_login(police.approver)
    case.refresh_from_db()
    refused = client.post(f"/workbench/cases/{case.number}/actions/approve/", {"approve-version": case.version})
    assert refused.status_code == 400 and not PaymentOrder.objects.exists()
    client.post(
        f"/workbench/cases/{case.number}/actions/approve/",
        {"approve-version": case.version, "approve-fee_situation": EXPIRED},
    )
    assert order_of(case).amount == Decimal("20.00")
