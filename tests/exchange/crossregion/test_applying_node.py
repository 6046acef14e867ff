"""The applying node (A): a peer's items imported, an application taken and forwarded from the outbox (queued and
retried while the peer is down), the peer's statuses recorded once each, and the citizen's pages."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import make_citizen
from tests.cases.builders import pdf_bytes
from yiwang.accounts.models import DataAccessRecord
from yiwang.core import outbox
from yiwang.core.models import Notification, OutboxEvent
from yiwang.core.search_sources import search_other_sources
from yiwang.exchange.crossregion import services
from yiwang.exchange.crossregion.constants import APPLICATION, DELIVER_TOPIC, DeliveryState, ForwardState
from yiwang.exchange.crossregion.models import Delivery, ForwardedApplication, RemoteItem, StatusUpdate
from yiwang.exchange.nodes import services as nodes

from .conftest import PEER
from .helpers import form_for

pytestmark = pytest.mark.django_db


class FakePeer:
    """Stands in for ``nodes.send``: answers the peer's items, takes applications, or fails as told."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.error: nodes.ExchangeError | None = None

    def __call__(self, code: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((code, kind, body))
        if self.error is not None:
            raise self.error
        if kind == "catalog_items":
            return {"node": code, "name": "乙省政务服务平台", "items": self.items}
        return {"case_number": "ZJ-20261207-000042", "department": "乙省市场监督管理局", "state": "submitted",
                "state_label": "待受理"}  # fmt: skip


@pytest.fixture
def fake_peer(offered: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> FakePeer:
    fake = FakePeer([offered])
    monkeypatch.setattr(nodes, "send", fake)
    return fake


@pytest.fixture
def remote_item(fake_peer: FakePeer) -> RemoteItem:
    services.import_items(PEER)
    return RemoteItem.objects.get()


def _drain() -> None:
    while outbox.process_batch("test"):
        pass


def _files(item: RemoteItem) -> list[services.Upload]:
    return [
        services.Upload(m["key"], f"{m['key']}.pdf", io.BytesIO(pdf_bytes(m["key"])))
        for m in item.materials
        if m["required"]
    ]


def _apply(user: Any, item: RemoteItem) -> ForwardedApplication:
    return services.apply(actor=user, item_id=item.pk, form_data=form_for(item.__dict__), files=_files(item))


def test_import_keeps_the_peers_items_and_withdraws_those_it_stops_listing(
    fake_peer: FakePeer, offered: dict[str, Any]
) -> None:
    report = services.import_items(PEER)
    assert (report.created, report.updated, report.withdrawn, report.peer_name) == (1, 0, 0, "乙省政务服务平台")
    item = RemoteItem.objects.get()
    assert (item.peer_code, item.code, item.name, item.active) == (PEER, offered["code"], offered["name"], True)
    assert item.materials == offered["materials"] and [f["key"] for f in item.fields] == [
        f["key"] for f in offered["fields"]
    ]
    assert fake_peer.sent == [(PEER, "catalog_items", {})]
    fake_peer.items = []
    report = services.import_items(PEER)
    assert (report.created, report.updated, report.withdrawn) == (0, 0, 1)
    assert not RemoteItem.objects.get().active


@pytest.mark.parametrize("items", [None, "x", [{"code": ""}], [{"code": "a", "name": "b", "fields": "x"}]])
def test_a_malformed_item_list_is_refused_and_changes_nothing(fake_peer: FakePeer, items: Any) -> None:
    fake_peer.items = items
    with pytest.raises(services.CrossRegionError) as refused:
        services.import_items(PEER)
    assert refused.value.code == "bad_answer" and not RemoteItem.objects.exists()


def test_applying_queues_the_application_and_the_outbox_forwards_it(
    fake_peer: FakePeer, remote_item: RemoteItem
) -> None:
    citizen = make_citizen("周五")
    application = _apply(citizen, remote_item)
    assert re.fullmatch(r"KS-\d{8}-000001", application.number)
    assert application.state == ForwardState.FORWARDING and application.applicant_person_id == citizen.person_id
    assert [m["key"] for m in application.materials] == [m["key"] for m in remote_item.materials if m["required"]]
    delivery = Delivery.objects.get()
    assert (delivery.kind, delivery.state, delivery.body) == (APPLICATION, "pending", {"number": application.number})

    _drain()
    code, kind, body = fake_peer.sent[-1]
    assert (code, kind) == (PEER, APPLICATION)
    assert body["number"] == application.number and body["item_code"] == remote_item.code
    assert body["applicant"]["name"] == "周五" and len(body["applicant"]["document_number"]) == 18
    assert body["form_data"] == application.form_data
    assert [m["sha256"] for m in body["materials"]] == [m["sha256"] for m in application.materials]
    application.refresh_from_db()
    assert application.state == ForwardState.FORWARDED
    assert (application.remote_number, application.remote_state_label) == ("ZJ-20261207-000042", "待受理")
    # The person sees that their identity went to the handling node.
    record = DataAccessRecord.objects.get(person_id=citizen.person_id)
    assert record.case_reference == application.number and "document_number" in record.fields


def test_a_peer_that_is_down_leaves_the_case_forwarding_and_is_retried_later(
    fake_peer: FakePeer, remote_item: RemoteItem
) -> None:
    application = _apply(make_citizen(), remote_item)
    fake_peer.error = nodes.ExchangeError("peer_unreachable", "down")
    _drain()
    application.refresh_from_db()
    delivery = Delivery.objects.get()
    assert application.state == ForwardState.FORWARDING
    assert delivery.state == DeliveryState.PENDING and delivery.attempts == 1
    assert delivery.last_error.startswith("peer_unreachable")
    retry = OutboxEvent.objects.get(topic=DELIVER_TOPIC, processed_at__isnull=True)
    assert retry.available_at > timezone.now()

    # Up again: the retry, when due, forwards it.
    fake_peer.error = None
    OutboxEvent.objects.filter(pk=retry.pk).update(available_at=timezone.now())
    _drain()
    application.refresh_from_db()
    assert application.state == ForwardState.FORWARDED and Delivery.objects.get().attempts == 2


def test_a_final_refusal_by_the_peer_fails_the_application_with_its_reason(
    fake_peer: FakePeer, remote_item: RemoteItem
) -> None:
    application = _apply(make_citizen(), remote_item)
    fake_peer.error = nodes.ExchangeError("peer_refused", "申请尚未填写完整", reason="application_incomplete")
    _drain()
    application.refresh_from_db()
    assert application.state == ForwardState.FAILED and "申请尚未填写完整" in application.failure
    assert Delivery.objects.get().state == DeliveryState.FAILED
    assert not OutboxEvent.objects.filter(topic=DELIVER_TOPIC, processed_at__isnull=True).exists()


def test_an_incomplete_application_is_refused_field_by_field(fake_peer: FakePeer, remote_item: RemoteItem) -> None:
    with pytest.raises(services.CrossRegionError) as refused:
        services.apply(actor=make_citizen(), item_id=remote_item.pk, form_data={}, files=[])
    assert refused.value.code == "application_incomplete"
    problems = refused.value.extra["problems"]
    assert {f["key"] for f in remote_item.fields if f["required"]} <= set(problems)
    assert {m["key"] for m in remote_item.materials if m["required"]} <= set(problems)
    assert not ForwardedApplication.objects.exists() and not Delivery.objects.exists()


def test_a_file_that_is_not_a_document_is_refused(fake_peer: FakePeer, remote_item: RemoteItem) -> None:
    files = _files(remote_item)
    files[0] = services.Upload(files[0].material_key, "x.pdf", io.BytesIO(b"MZ\x90\x00 not a pdf"))
    with pytest.raises(services.CrossRegionError):
        services.apply(
            actor=make_citizen(), item_id=remote_item.pk, form_data=form_for(remote_item.__dict__), files=files
        )
    assert not ForwardedApplication.objects.exists()


def test_an_account_without_verified_identity_cannot_apply(fake_peer: FakePeer, remote_item: RemoteItem) -> None:
    user = make_citizen()
    user.person = None
    with pytest.raises(services.CrossRegionError) as refused:
        _apply(user, remote_item)
    assert refused.value.code == "identity_required"


def _status(number: str, event: int, state: str, label: str, **extra: Any) -> dict[str, Any]:
    return {
        "origin_number": number,
        "case_number": "ZJ-20261207-000042",
        "department": "乙省市场监督管理局",
        "event": event,
        "action": extra.pop("action", "accept"),
        "action_label": "受理",
        "state": state,
        "state_label": label,
        "reason": extra.pop("reason", ""),
        "occurred_at": "2026-12-07T03:00:00+00:00",
    }


def test_statuses_are_recorded_once_each_and_a_late_one_does_not_move_the_state_back(
    fake_peer: FakePeer, remote_item: RemoteItem, peer_info: nodes.PeerInfo
) -> None:
    application = _apply(make_citizen(), remote_item)
    _drain()
    assert services.receive_case_status(peer_info, _status(application.number, 7, "in_review", "审查中")) == {
        "recorded": True,
        "number": application.number,
    }
    refused = _status(application.number, 9, "refused", "不予许可", action="refuse", reason="材料不符合法定形式")
    assert services.receive_case_status(peer_info, refused)["recorded"] is True
    assert services.receive_case_status(peer_info, refused)["recorded"] is False  # delivered twice
    late = _status(application.number, 8, "in_review", "审查中", action="complete_task")
    assert services.receive_case_status(peer_info, late)["recorded"] is True
    application.refresh_from_db()
    assert (application.remote_state, application.remote_state_label, application.remote_sequence) == (
        "refused",
        "不予许可",
        9,
    )
    assert list(StatusUpdate.objects.order_by("sequence").values_list("sequence", flat=True)) == [7, 8, 9]
    # The applicant hears of each status that moved the case on, once (not of the late one, nor of a repeat).
    told = Notification.objects.filter(channel="in_app", recipient_user_id=application.created_by_id)
    assert sorted(n.subject for n in told) == [
        f"跨省通办 {application.number}：不予许可",
        f"跨省通办 {application.number}：审查中",
    ]
    refusal = told.get(subject__endswith="不予许可")
    assert "材料不符合法定形式" in refusal.body and refusal.link == f"/cross-region/applications/{application.number}/"


def test_a_status_for_an_application_not_forwarded_to_that_peer_is_refused(
    fake_peer: FakePeer, remote_item: RemoteItem, peer_info: nodes.PeerInfo
) -> None:
    application = _apply(make_citizen(), remote_item)
    other = nodes.PeerInfo("node-c", "", "http://node-c.example", "0" * 16)
    with pytest.raises(services.CrossRegionError) as refused:
        services.receive_case_status(other, _status(application.number, 1, "in_review", "审查中"))
    assert refused.value.code == "not_found"
    with pytest.raises(services.CrossRegionError) as refused:
        services.receive_case_status(peer_info, {**_status(application.number, 1, "x", "y"), "event": "1"})
    assert refused.value.code == "bad_status"
    assert not StatusUpdate.objects.exists()


def test_the_citizen_pages_show_forwarding_then_the_peers_status_and_name_both_nodes(
    fake_peer: FakePeer, remote_item: RemoteItem, peer_info: nodes.PeerInfo, client: Client, settings: Any
) -> None:
    settings.YIWANG_PLATFORM_NAME = "甲省政务服务平台"
    citizen = make_citizen("吴六")
    client.force_login(citizen)
    listing = client.get("/cross-region/?q=" + remote_item.name[:4]).content.decode()
    assert remote_item.name in listing and "由乙省政务服务平台办理（跨省通办）" in listing
    form = client.get(f"/cross-region/items/{remote_item.pk}/")
    assert form.status_code == 200 and remote_item.materials[0]["name"] in form.content.decode()
    incomplete = client.post(f"/cross-region/items/{remote_item.pk}/", {})
    assert incomplete.status_code == 422 and not ForwardedApplication.objects.exists()

    data: dict[str, Any] = dict(form_for(remote_item.__dict__))
    for upload in _files(remote_item):
        data[f"material-{upload.material_key}"] = upload_file(upload)
    response = client.post(f"/cross-region/items/{remote_item.pk}/", data)
    application = ForwardedApplication.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/cross-region/applications/{application.number}/receipt/"
    )
    receipt = client.get(response["Location"]).content.decode()
    assert application.number in receipt and "甲省政务服务平台" in receipt and "乙省政务服务平台" in receipt
    page = client.get(f"/cross-region/applications/{application.number}/").content.decode()
    assert "正在转送" in page

    _drain()
    services.receive_case_status(peer_info, _status(application.number, 5, "in_review", "审查中"))
    page = client.get(f"/cross-region/applications/{application.number}/").content.decode()
    assert "ZJ-20261207-000042" in page and "审查中" in page and "正在转送" not in page
    receipt = client.get(f"/cross-region/applications/{application.number}/receipt/").content.decode()
    assert "ZJ-20261207-000042" in receipt and "乙省市场监督管理局" in receipt and "甲省政务服务平台" in receipt
    assert application.number in client.get("/cross-region/applications/").content.decode()

    # Someone else's application is not found, and a guest is sent to log in.
    client.force_login(make_citizen("郑七"))
    assert client.get(f"/cross-region/applications/{application.number}/").status_code == 404
    assert client.get(f"/cross-region/applications/{application.number}/receipt/").status_code == 404
    client.logout()
    assert client.get(f"/cross-region/applications/{application.number}/").status_code == 302


def upload_file(upload: services.Upload) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(upload.name, upload.stream.read(), content_type="application/pdf")


def test_the_portal_search_finds_the_peers_items(remote_item: RemoteItem) -> None:
    found = dict((source.kind, hits) for source, hits in search_other_sources(remote_item.name))
    hits = found["cross_region"]
    assert hits[0].title == remote_item.name and hits[0].url == f"/cross-region/items/{remote_item.pk}/"
    assert "跨省通办" in hits[0].snippet


def test_with_no_peer_items_the_page_says_so_and_where_else_to_turn() -> None:
    page = Client().get("/cross-region/").content.decode()
    assert "本平台暂未接入可跨省通办的外地事项" in page and "12345" in page
    searched = Client().get("/cross-region/?q=护照").content.decode()
    assert "没有找到跨省通办事项" in searched and "暂未接入" not in searched
