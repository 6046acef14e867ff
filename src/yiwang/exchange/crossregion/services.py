"""跨省通办 over the node exchange: importing a peer's items, forwarding an application, and the status coming back.

Node A (where the citizen applies) imports node B's items (:func:`import_items`), takes an application for one
(:func:`apply`) and queues it for B; node B makes a case of it in its own case engine
(:func:`receive_application`) and reports the case's public events back (:func:`report_case_event`), which A
records on its application (:func:`receive_case_status`). Every message is a signed node-exchange message
(``yiwang.exchange.nodes``), delivered from the outbox until the peer answers (:func:`deliver`). See
docs/cross-region.md and ADR 0029.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts import services as accounts_services
from yiwang.accounts.constants import AssuranceLevel, AssuranceMethod
from yiwang.cases import selectors as cases_selectors
from yiwang.cases import services as cases_services
from yiwang.cases.constants import CaseState, Channel
from yiwang.catalog import selectors as catalog_selectors
from yiwang.catalog.constants import OnlineDepth
from yiwang.core import calendar, crypto, leasing, notifications, numbering, outbox, uploads
from yiwang.core.audit import record_event
from yiwang.core.identifiers import DocumentType
from yiwang.core.problems import ServiceError
from yiwang.core.search_sources import SourceHit, register_search_source
from yiwang.exchange.nodes import services as nodes

from .constants import (
    APPLICATION,
    CASE_STATUS,
    CATALOG_ITEMS,
    DELIVER_TOPIC,
    MAX_DELIVERY_ATTEMPTS,
    MAX_ITEMS_PER_IMPORT,
    MAX_MATERIAL_BYTES,
    NUMBER_PREFIX,
    RETRYABLE_REASONS,
    DeliveryState,
    ForwardState,
)
from .models import Delivery, ForwardedApplication, IncomingApplication, NumberSequence, RemoteItem, StatusUpdate

if TYPE_CHECKING:
    from yiwang.core.models import OutboxEvent

logger = logging.getLogger(__name__)

# Case actions whose status goes back to the applying node. "submit" does not: the answer to the application
# already carries the new case's number and state.
_NOT_REPORTED = frozenset({"submit"})
_TEXT_MAX = 5000


class CrossRegionError(ServiceError):
    """A 跨省通办 request refused: by this node (a bad application) or, as a message, to a peer."""

    statuses: ClassVar[Mapping[str, int]] = {"not_found": 404, "item_not_offered": 404}


# --- registration ----------------------------------------------------------------------------------------


def register() -> None:
    """Answer this app's message kinds, handle its outbox topics, and make the peers' items searchable."""
    nodes.register_handler(CATALOG_ITEMS, answer_catalog_items)
    nodes.register_handler(APPLICATION, receive_application)
    nodes.register_handler(CASE_STATUS, receive_case_status)
    outbox.handles(DELIVER_TOPIC)(deliver_event)
    outbox.handles("case.event")(report_case_event)
    register_search_source("cross_region", _lazy_label(), search_hits, order=20)


def _lazy_label() -> Any:
    from django.utils.translation import gettext_lazy

    return gettext_lazy("跨省通办事项")


# --- B: the items this node offers to its peers -------------------------------------------------------------


def _offered(item: Any) -> dict[str, Any] | None:
    """An item as peers see it, or None when it cannot be applied for from elsewhere.

    Offered: items that take online applications, whose guide is complete and whose form asks no situation
    questions (the peer's form shows fields and materials only). Materials this node fetches from its own data
    services are left out: the applicant elsewhere cannot give them, and this node fetches them itself.
    """
    if item.online_depth < OnlineDepth.ONLINE_APPLICATION or not item.guide_complete:
        return None
    definition = cases_selectors.loaded_item_definition(item)
    if definition.questions:
        return None
    return {
        "code": item.code,
        "name": item.name,
        "department": item.department.name,
        "kind": item.get_kind_display(),
        "promised_days": item.promised_days,
        "fields": [
            {
                "key": f.key,
                "label": str(f.label),
                "type": f.type,
                "required": f.required and not f.show_if,
                "max_length": f.max_length,
                "choices": [[value, str(label)] for value, label in f.choices],
            }
            for f in definition.fields
        ],
        "materials": [
            {"key": m.key, "name": m.name, "required": m.required and not m.show_if}
            for m in definition.materials
            if not m.from_source
        ],
    }


def offered_items() -> list[dict[str, Any]]:
    """This node's items that peers may offer their citizens (跨省通办), as they travel in ``catalog_items``."""
    offered = []
    with translation.override("zh-hans"):
        # Loaded with their materials and fees in a few queries: a peer's import asks for all of them at once.
        for item in catalog_selectors.online_application_items():
            described = _offered(item)
            if described is not None:
                offered.append(described)
            if len(offered) >= MAX_ITEMS_PER_IMPORT:
                break
    return offered


def answer_catalog_items(peer: nodes.PeerInfo, body: dict[str, Any]) -> dict[str, Any]:
    """``catalog_items``: the items this node handles for applicants of other nodes."""
    return {"node": nodes.identity().code, "name": str(settings.YIWANG_PLATFORM_NAME), "items": offered_items()}


# --- A: importing a peer's items ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    peer_code: str
    peer_name: str
    created: int
    updated: int
    withdrawn: int


def import_items(peer_code: str, *, actor: Any = None) -> ImportReport:
    """Ask the peer for the items it offers and keep them here as items it handles (``yiwang cross-region``).

    Items the peer no longer lists stop taking applications; the applications made for them stay.
    Raises ``ExchangeError`` when the peer cannot be asked, ``CrossRegionError`` for an answer that is not a list
    of items.
    """
    answer = nodes.send(peer_code, CATALOG_ITEMS, {})
    raw_items = answer.get("items")
    if not isinstance(raw_items, list) or len(raw_items) > MAX_ITEMS_PER_IMPORT:
        raise CrossRegionError("bad_answer", _("节点 %(code)s 的事项清单格式不正确") % {"code": peer_code})
    peer_name = _text(answer.get("name"), 200) or peer_code
    items = [_clean_item(raw, peer_code) for raw in raw_items]
    now = timezone.now()
    created = updated = 0
    with transaction.atomic():
        for values in items:
            _row, made = RemoteItem.objects.update_or_create(
                peer_code=peer_code,
                code=values.pop("code"),
                defaults={**values, "peer_name": peer_name, "active": True, "imported_at": now},
            )
            created += made
            updated += not made
        listed = [row["code"] for row in (_clean_item(raw, peer_code) for raw in raw_items)]
        withdrawn = (
            RemoteItem.objects.filter(peer_code=peer_code, active=True).exclude(code__in=listed).update(active=False)
        )
        record_event(
            "crossregion.items_imported",
            actor=actor,
            target=f"exchange_nodes.Peer:{peer_code}",
            detail={"created": created, "updated": updated, "withdrawn": withdrawn},
        )
    return ImportReport(peer_code, peer_name, created, updated, withdrawn)


def _clean_item(raw: Any, peer_code: str) -> dict[str, Any]:
    bad = CrossRegionError("bad_answer", _("节点 %(code)s 的事项清单格式不正确") % {"code": peer_code})
    if not isinstance(raw, dict):
        raise bad
    code, name = _text(raw.get("code"), 80), _text(raw.get("name"), 200)
    fields, materials = raw.get("fields") or [], raw.get("materials") or []
    if not code or not name or not isinstance(fields, list) or not isinstance(materials, list):
        raise bad
    days = raw.get("promised_days")
    return {
        "code": code,
        "name": name,
        "department_name": _text(raw.get("department"), 200),
        "kind": _text(raw.get("kind"), 40),
        "promised_days": days if isinstance(days, int) and 0 <= days < 10_000 else None,
        "fields": [_clean_field(f, bad) for f in fields],
        "materials": [_clean_material(m, bad) for m in materials],
    }


def _clean_field(raw: Any, bad: CrossRegionError) -> dict[str, Any]:
    if not isinstance(raw, dict) or not _text(raw.get("key"), 64):
        raise bad
    choices = raw.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, list) and len(c) == 2 for c in choices):
        raise bad
    length = raw.get("max_length")
    return {
        "key": _text(raw.get("key"), 64),
        "label": _text(raw.get("label"), 200) or _text(raw.get("key"), 64),
        "type": _text(raw.get("type"), 20) or "text",
        "required": raw.get("required") is True,
        "max_length": length if isinstance(length, int) and 0 < length <= _TEXT_MAX else 200,
        "choices": [[_text(value, 100), _text(label, 200)] for value, label in choices],
    }


def _clean_material(raw: Any, bad: CrossRegionError) -> dict[str, Any]:
    if not isinstance(raw, dict) or not _text(raw.get("key"), 64) or not _text(raw.get("name"), 200):
        raise bad
    return {
        "key": _text(raw.get("key"), 64),
        "name": _text(raw.get("name"), 200),
        "required": raw.get("required") is True,
    }


# --- A: applying for a peer's item -------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A material file as the applicant sent it."""

    material_key: str
    name: str
    stream: IO[bytes]


def form_problems(item: RemoteItem, form_data: Mapping[str, str], material_keys: set[str]) -> dict[str, str]:
    """What stops an application for ``item`` being forwarded: by field or material key, a message for people."""
    problems: dict[str, str] = {}
    for spec in item.fields:
        value = (form_data.get(spec["key"]) or "").strip()
        if not value:
            if spec["required"]:
                problems[spec["key"]] = _("请填写：%(label)s") % {"label": spec["label"]}
            continue
        if len(value) > spec["max_length"]:
            problems[spec["key"]] = _("%(label)s 不能超过 %(n)s 个字") % {
                "label": spec["label"],
                "n": spec["max_length"],
            }
        elif spec["choices"] and value not in {choice[0] for choice in spec["choices"]}:
            problems[spec["key"]] = _("请从列表中选择：%(label)s") % {"label": spec["label"]}
    for spec in item.materials:
        if spec["required"] and spec["key"] not in material_keys:
            problems[spec["key"]] = _("请上传：%(name)s") % {"name": spec["name"]}
    return problems


def apply(*, actor: Any, item_id: int, form_data: Mapping[str, str], files: list[Upload]) -> ForwardedApplication:
    """Take an application for a peer's item and queue it for the peer: the citizen's case here says 正在转送.

    The applicant is the actor's verified person; fields and materials are checked against the peer's form, each
    file as every upload is (type, size, content, virus scan), and stored here until the peer has the case.
    Raises ``CrossRegionError`` (``identity_required``, ``not_found``, ``application_incomplete`` with
    ``problems``, ``materials_too_large``, or an upload's refusal code).
    """
    if getattr(actor, "person_id", None) is None:
        raise CrossRegionError("identity_required", _("请先完成实名认证再申请"))
    item = RemoteItem.objects.filter(pk=item_id, active=True).first()
    if item is None:
        raise CrossRegionError("not_found", _("事项不存在或已停止跨省通办"))
    known_fields = {spec["key"] for spec in item.fields}
    data = {k: str(v).strip()[:_TEXT_MAX] for k, v in form_data.items() if k in known_fields and str(v).strip()}
    known_materials = {spec["key"]: spec["name"] for spec in item.materials}
    uploads_by_key: dict[str, Upload] = {}
    for upload in files:
        if upload.material_key not in known_materials:
            raise CrossRegionError("unknown_material", _("该事项没有这项材料"))
        uploads_by_key[upload.material_key] = upload
    problems = form_problems(item, data, set(uploads_by_key))
    if problems:
        raise CrossRegionError("application_incomplete", _("申请尚未填写完整"), problems=problems)
    checked = []
    for key, upload in uploads_by_key.items():
        try:
            result = uploads.check_upload(upload.name, upload.stream)
        except uploads.UploadRejected as refused:
            raise CrossRegionError(refused.code, refused.message, field=key) from refused
        upload.stream.seek(0)
        checked.append((key, upload, result))
    if sum(result.size for _key, _upload, result in checked) > MAX_MATERIAL_BYTES:
        raise CrossRegionError(
            "materials_too_large",
            _("跨省通办的申请材料合计不能超过 %(mb)s MB") % {"mb": round(MAX_MATERIAL_BYTES / 1_000_000, 1)},
        )
    now = timezone.now()
    with transaction.atomic():
        materials = [
            {
                "key": key,
                "name": known_materials[key],
                "original_name": result.safe_name,
                "content_type": result.content_type,
                "size": result.size,
                "sha256": result.sha256,
                "storage_name": uploads.store_in_transaction(result, upload.stream),
            }
            for key, upload, result in checked
        ]
        serial = numbering.next_value(NumberSequence, {"day": calendar.today_local()})
        application = ForwardedApplication.objects.create(
            number=f"{NUMBER_PREFIX}-{calendar.today_local():%Y%m%d}-{serial:06d}",
            item=item,
            peer_code=item.peer_code,
            peer_name=item.peer_name,
            item_code=item.code,
            item_name=item.name,
            department_name=item.department_name,
            applicant_person_id=actor.person_id,
            created_by=actor,
            form_data=data,
            materials=materials,
            submitted_at=now,
        )
        _queue(f"application:{application.number}", item.peer_code, APPLICATION, {"number": application.number})
        record_event(
            "crossregion.applied",
            actor=actor,
            target=f"exchange_crossregion.ForwardedApplication:{application.number}",
            detail={"peer": item.peer_code, "item": item.code, "materials": len(materials)},
        )
    return application


def _application_body(number: str) -> dict[str, Any]:
    """The ``cross_region_application`` message for a forwarded application, built when it is sent.

    The applicant's identity number is decrypted only here, to travel signed to the handling node; once it has
    arrived, the exchange is put in the person's "谁用了我的数据" list.
    """
    application = ForwardedApplication.objects.get(number=number)
    person = accounts_selectors.get_person(application.applicant_person_id)
    materials = []
    for spec in application.materials:
        with uploads.open_stored(spec["storage_name"]) as stream:
            content = stream.read()
        materials.append(
            {
                "key": spec["key"],
                "name": spec["original_name"],
                "content_type": spec["content_type"],
                "sha256": spec["sha256"],
                "data": base64.b64encode(content).decode("ascii"),
            }
        )
    return {
        "number": application.number,
        "node_name": str(settings.YIWANG_PLATFORM_NAME),
        "item_code": application.item_code,
        "applicant": {
            "name": person.name,
            "document_type": person.document_type,
            "document_number": crypto.decrypt(person.document_number_encrypted),
            "assurance_level": person.assurance_level,
        },
        "form_data": application.form_data,
        "materials": materials,
        "submitted_at": application.submitted_at.isoformat(),
    }


# --- delivery: from the outbox until the peer answers ---------------------------------------------------------


def _queue(key: str, peer_code: str, kind: str, body: dict[str, Any]) -> None:
    """Queue a message for ``peer_code`` once per ``key`` (inside the caller's transaction)."""
    delivery, created = Delivery.objects.get_or_create(
        key=key, defaults={"peer_code": peer_code, "kind": kind, "body": body}
    )
    if created:
        outbox.publish(DELIVER_TOPIC, {"delivery_id": delivery.pk})


def deliver_event(event: OutboxEvent) -> None:
    """Outbox handler of ``crossregion.deliver``: one attempt at the delivery it names."""
    delivery_id = event.payload.get("delivery_id")
    if isinstance(delivery_id, int):
        deliver(delivery_id)


def deliver(delivery_id: int) -> str:
    """Send a queued message to its peer once; return the delivery's state afterwards.

    Delivered: its effect is recorded (a forwarded application learns the peer's case number). Refused by the
    peer for good (an item it no longer handles, an application it finds incomplete): failed, with the peer's
    reason. Not answered (the peer is down, a signature failed): tried again later, the wait doubling, up to
    ``MAX_DELIVERY_ATTEMPTS`` times. The attempt never raises, so the exchange log's entries of a failed
    attempt are kept with the outbox's transaction.
    """
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.state != DeliveryState.PENDING:
            return delivery.state if delivery is not None else ""
        body = _application_body(delivery.body["number"]) if delivery.kind == APPLICATION else delivery.body
        delivery.attempts += 1
        try:
            result = nodes.send(delivery.peer_code, delivery.kind, body)
        except nodes.ExchangeError as error:
            reason = str(error.extra.get("reason") or "")
            delivery.last_error = f"{error.code}{f' ({reason})' if reason else ''}: {error.message}"[:_TEXT_MAX]
            final = (error.code == "peer_refused" and reason not in RETRYABLE_REASONS) or error.code == "bad_message"
            if final or delivery.attempts >= MAX_DELIVERY_ATTEMPTS:
                delivery.state = DeliveryState.FAILED
                _failed(delivery, error.message)
            else:
                outbox.publish(DELIVER_TOPIC, {"delivery_id": delivery.pk}, delay=leasing.backoff(delivery.attempts))
            delivery.save(update_fields=["attempts", "last_error", "state"])
            logger.warning("cross-region delivery %s to %s: %s", delivery.key, delivery.peer_code, delivery.last_error)
            return delivery.state
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.last_error = ""
        delivery.save(update_fields=["attempts", "last_error", "state", "delivered_at"])
        if delivery.kind == APPLICATION:
            _forwarded(delivery.body["number"], result)
    return delivery.state


def _forwarded(number: str, result: dict[str, Any]) -> None:
    application = ForwardedApplication.objects.select_for_update().get(number=number)
    # The applicant's name and identity number went to the handling node: the person can see so.
    accounts_services.record_data_exchange(
        person_id=application.applicant_person_id,
        accessor=None,
        accessor_label=application.peer_name or application.peer_code,
        department_name=application.department_name,
        fields=["name", "document_number"],
        purpose=_("跨省通办：转送申请至办理地"),
        case_reference=application.number,
        exchange_id=application.number,
    )
    application.state = ForwardState.FORWARDED
    application.forwarded_at = timezone.now()
    application.remote_number = _text(result.get("case_number"), 64)
    application.remote_department = _text(result.get("department"), 200)
    if application.remote_sequence == 0:  # no status has overtaken the answer
        application.remote_state = _text(result.get("state"), 32)
        application.remote_state_label = _text(result.get("state_label"), 64)
    application.save()


def _failed(delivery: Delivery, message: str) -> None:
    if delivery.kind != APPLICATION:
        return
    ForwardedApplication.objects.filter(number=delivery.body["number"]).update(
        state=ForwardState.FAILED, failure=message[:_TEXT_MAX], updated_at=timezone.now()
    )


# --- B: an application from a peer becomes a case here -----------------------------------------------------


def receive_application(peer: nodes.PeerInfo, body: dict[str, Any]) -> dict[str, Any]:
    """``cross_region_application``: make (once) this node's case for a peer's forwarded application.

    The applicant is taken as the peer verified them (its signed message says so); the application goes through
    this node's own case engine — its form checks, upload checks and assurance rule — on the channel 跨域通办,
    filled in by the peer's node account. The same application delivered again returns the same case.
    """
    number = _text(body.get("number"), 64)
    if not number:
        raise CrossRegionError("bad_application", _("缺少受理地编号"))
    existing = IncomingApplication.objects.filter(origin_node=peer.code, origin_number=number).first()
    if existing is not None:
        return _case_answer(existing.case_number)
    item_code = _text(body.get("item_code"), 80)
    try:
        item = catalog_selectors.published_item(item_code)
    except Http404:
        item = None
    if item is None or _offered(item) is None:
        raise CrossRegionError("item_not_offered", _("本节点不办理该事项的跨省通办：%(code)s") % {"code": item_code})
    applicant = body.get("applicant")
    form_data = body.get("form_data")
    materials = body.get("materials")
    if not isinstance(applicant, dict) or not isinstance(form_data, dict) or not isinstance(materials, list):
        raise CrossRegionError("bad_application", _("申请的申请人、表单或材料格式不正确"))
    files = _decoded_materials(materials)
    with transaction.atomic():
        person = _applicant_person(applicant)
        account = _node_account(peer.code)
        cases_applicant = cases_services.Applicant(
            person.pk, None, account.pk, f"cross_region:{peer.code}:{number}"[:200], person.name
        )
        application = cases_services.start_application(
            actor=account, applicant=cases_applicant, item_code=item.code, channel=Channel.CROSS_REGION
        )
        cases_services.save_draft(application, actor=account, form_data={str(k): str(v) for k, v in form_data.items()})
        for key, name, content in files:
            cases_services.attach_file(
                application, actor=account, material_key=key, name=name, stream=io.BytesIO(content)
            )
        (case,) = cases_services.submit_application(
            application, actor=account, submission_key=f"xr:{peer.code}:{number}"[: cases_services.SUBMISSION_KEY_MAX]
        )
        IncomingApplication.objects.create(
            origin_node=peer.code,
            origin_name=_text(body.get("node_name"), 200) or peer.name,
            origin_number=number,
            case=case,
            case_number=case.number,
        )
    return _case_answer(case.number)


def _case_answer(case_number: str) -> dict[str, Any]:
    case = cases_selectors.case_by_number(case_number)
    with translation.override("zh-hans"):
        return {
            "case_number": case.number,
            "department": case.department.name,
            "state": case.state,
            "state_label": str(CaseState(case.state).label),
        }


def _decoded_materials(materials: list[Any]) -> list[tuple[str, str, bytes]]:
    files = []
    total = 0
    for raw in materials:
        if not isinstance(raw, dict):
            raise CrossRegionError("bad_application", _("申请材料格式不正确"))
        try:
            content = base64.b64decode(str(raw.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise CrossRegionError("bad_application", _("申请材料不是有效的 Base64")) from None
        total += len(content)
        if total > MAX_MATERIAL_BYTES:
            raise CrossRegionError("materials_too_large", _("申请材料合计过大"))
        if hashlib.sha256(content).hexdigest() != raw.get("sha256"):
            raise CrossRegionError("material_digest_mismatch", _("申请材料与其摘要不符"))
        files.append((_text(raw.get("key"), 64), _text(raw.get("name"), 200) or "material", content))
    return files


def _applicant_person(applicant: dict[str, Any]) -> Any:
    """The applicant as a person of this node: found by document number, or registered as the peer verified them."""
    document_type = _text(applicant.get("document_type"), 32)
    if document_type not in DocumentType.values:
        raise CrossRegionError("bad_application", _("申请人证件类型不正确"))
    try:
        number = accounts_services.clean_document(document_type, str(applicant.get("document_number") or ""))
        name = accounts_services.clean_name(str(applicant.get("name") or ""))
    except accounts_services.IdentityError as error:
        raise CrossRegionError("bad_application", error.message) from error
    person = accounts_services.find_person(document_type, number)
    if person is not None:
        if person.name != name:
            raise CrossRegionError("applicant_mismatch", _("申请人姓名与本节点登记的证件信息不符"))
        return person
    level = applicant.get("assurance_level")
    # The peer's verification counts up to an online check: an in-person check is this node's own to make.
    level = min(level if isinstance(level, int) and level >= 1 else 1, int(AssuranceLevel.IDENTITY_VERIFIED))
    return accounts_services.create_person(
        name=name,
        document_type=document_type,
        document_number=number,
        assurance_level=level,
        assurance_method=AssuranceMethod.ONLINE_IDENTITY if level >= 2 else AssuranceMethod.SELF_DECLARED,
    )


def _node_account(peer_code: str) -> Any:
    """The account that fills in a peer's applications here (经办人): it cannot log in."""
    user_model = get_user_model()
    username = f"node:{peer_code}"[:150]
    account = user_model.objects.filter(username=username).first()
    if account is None:
        account = user_model(username=username, is_active=False)
        account.set_unusable_password()
        account.save()
    return account


# --- B: a case's public events go back to the applying node ----------------------------------------------------


def report_case_event(event: OutboxEvent) -> None:
    """Outbox handler of ``case.event``: queue the status of a case that came from a peer, for that peer.

    Only events the applicant sees (public) are reported, each once (its delivery is keyed by the event).
    """
    case_id, event_id = event.payload.get("case_id"), event.payload.get("event_id")
    if not isinstance(case_id, int) or not isinstance(event_id, int) or event.payload.get("action") in _NOT_REPORTED:
        return
    incoming = IncomingApplication.objects.filter(case_id=case_id).first()
    if incoming is None:
        return
    case = cases_selectors.case_by_id(case_id)
    if case is None:
        return
    found = next((e for e in cases_selectors.timeline(case, for_staff=False) if e.pk == event_id), None)
    if found is None:
        return
    state = found.to_state or case.state
    with translation.override("zh-hans"):
        body = {
            "origin_number": incoming.origin_number,
            "case_number": case.number,
            "department": case.department.name,
            "event": event_id,
            "action": found.action,
            "action_label": cases_selectors.action_name(found.action),
            "state": state,
            "state_label": str(CaseState(state).label) if state in CaseState.values else "",
            "reason": found.reason[:_TEXT_MAX],
            "occurred_at": found.created_at.isoformat(),
        }
    _queue(f"status:{event_id}", incoming.origin_node, CASE_STATUS, body)


# --- A: a status from the handling node ------------------------------------------------------------------------


def receive_case_status(peer: nodes.PeerInfo, body: dict[str, Any]) -> dict[str, Any]:
    """``case_status``: record the handling node's status on the application forwarded to it (once per event)."""
    number = _text(body.get("origin_number"), 64)
    sequence = body.get("event")
    state = _text(body.get("state"), 32)
    occurred_at = parse_datetime(str(body.get("occurred_at") or ""))
    if not number or not isinstance(sequence, int) or sequence < 1 or not state or occurred_at is None:
        raise CrossRegionError("bad_status", _("状态消息缺少编号、序号、状态或时间"))
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at, dt.UTC)
    with transaction.atomic():
        application = (
            ForwardedApplication.objects.select_for_update().filter(number=number, peer_code=peer.code).first()
        )
        if application is None:
            raise CrossRegionError("not_found", _("本节点没有转送给贵节点的该申请：%(number)s") % {"number": number})
        key = f"{peer.code}:{sequence}"
        if StatusUpdate.objects.filter(event_key=key).exists():
            return {"recorded": False, "number": number}
        update = StatusUpdate.objects.create(
            application=application,
            event_key=key,
            sequence=sequence,
            action=_text(body.get("action"), 32),
            action_label=_text(body.get("action_label"), 64),
            state=state,
            state_label=_text(body.get("state_label"), 64),
            reason=_text(body.get("reason"), _TEXT_MAX),
            occurred_at=occurred_at,
        )
        if sequence > application.remote_sequence:
            application.remote_sequence = sequence
            application.remote_state = update.state
            application.remote_state_label = update.state_label
            application.remote_number = _text(body.get("case_number"), 64) or application.remote_number
            application.remote_department = _text(body.get("department"), 200) or application.remote_department
            if application.state == ForwardState.FORWARDING:
                application.state = ForwardState.FORWARDED
                application.forwarded_at = timezone.now()
            application.save()
            _notify_status(application, update)
        record_event(
            "crossregion.status",
            target=f"exchange_crossregion.ForwardedApplication:{number}",
            detail={"peer": peer.code, "event": sequence, "state": state},
        )
    return {"recorded": True, "number": number}


def _notify_status(application: ForwardedApplication, update: StatusUpdate) -> None:
    """Tell the applicant what the handling node did (once per status: the key is the status's)."""
    with translation.override("zh-hans"):
        subject = _("跨省通办 %(number)s：%(state)s") % {
            "number": application.number,
            "state": update.state_label or update.state,
        }
        body = _("您在本平台申请的“%(item)s”由%(place)s办理，办理地%(action)s，当前状态：%(state)s。") % {
            "item": application.item_name,
            "place": application.peer_name or application.peer_code,
            "action": update.action_label or update.action,
            "state": update.state_label or update.state,
        }
        if update.reason:
            body += _("说明：%(reason)s") % {"reason": update.reason}
    # The account that applied, in its message centre (and by e-mail); the person by SMS, as case events do.
    key = f"crossregion:{update.event_key}"
    link = reverse("crossregion:application", args=[application.number])
    notifications.notify(
        dedupe_key=f"{key}:user",
        template="crossregion.status",
        subject=subject[:200],
        body=body,
        link=link,
        user_id=application.created_by_id,
        channels=("in_app", "email"),
    )
    notifications.notify(
        dedupe_key=f"{key}:person",
        template="crossregion.status",
        subject=subject[:200],
        body=body,
        person_id=application.applicant_person_id,
        channels=("sms",),
    )


# --- search ----------------------------------------------------------------------------------------------------


def search_hits(query: str, limit: int) -> list[SourceHit]:
    """The portal search's source of peers' items: by name, code or department."""
    from .selectors import remote_items

    query = (query or "").strip()
    if not query:
        return []
    hits = []
    for item in remote_items(query)[:limit]:
        hits.append(
            SourceHit(
                kind="cross_region",
                title=item.name,
                url=reverse("crossregion:apply", args=[item.pk]),
                snippet=_("由%(place)s%(department)s办理（跨省通办）")
                % {"place": item.peer_name or item.peer_code, "department": item.department_name},
                score=0.6,
            )
        )
    return hits


# --- small helpers ---------------------------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    return " ".join(str(value).split())[:limit] if isinstance(value, str | int) and not isinstance(value, bool) else ""
