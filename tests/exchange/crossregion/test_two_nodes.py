"""跨省通办 between two real nodes: each a ``yiwang serve`` with its own SQLite database, key and port, talking over
real HTTP. A citizen applies at A for an item of B; A's worker forwards it; B's staff accept it; B's worker sends the
status back and A's case page shows it. B down at submission: A keeps the application 正在转送 and its retry,
once B is back, forwards it. A tampered and a replayed status message are refused, and both logs verify.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import on_postgresql
from tests.db_template import migrated_sqlite_var_dir
from tests.exchange.nodes.test_three_nodes import Node, _env, _node, _peer, _served, _yiwang

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(on_postgresql(), reason="runs its nodes on SQLite of their own; the SQLite pass covers it"),
]

# On A: a verified citizen applies for B's first imported item with every required field and material.
APPLY = """
import io, json
from pypdf import PdfWriter
from django.contrib.auth import get_user_model
from yiwang.accounts import services as accounts
from yiwang.exchange.crossregion import services
from yiwang.exchange.crossregion.models import RemoteItem

def pdf():
    writer = PdfWriter(); writer.add_blank_page(width=200, height=200); buffer = io.BytesIO(); writer.write(buffer)
    return buffer.getvalue()

person = accounts.find_person("resident_id", "11010519491231002X") or accounts.create_person(
    name="孙三", document_type="resident_id", document_number="11010519491231002X", assurance_level=3,
    assurance_method="online_identity")
user = get_user_model().objects.filter(username="sunsan").first() or get_user_model().objects.create(
    username="sunsan", person=person)
item = RemoteItem.objects.filter(active=True).order_by("id").first()
values = {{"applicant_name": "孙三", "contact_mobile": "13800138000", "applicant_kind": "person"}}
form = {{f["key"]: values.get(f["key"], f["label"] + "示例") for f in item.fields if f["required"]}}
files = [services.Upload(m["key"], m["key"] + ".pdf", io.BytesIO(pdf())) for m in item.materials if m["required"]]
application = services.apply(actor=user, item_id=item.pk, form_data=form, files=files)
print(json.dumps({{"number": application.number, "item": item.code}}))
"""

# On A: what A's citizen sees of an application, and the delivery behind it.
SHOW = """
import json
from yiwang.exchange.crossregion.models import Delivery, ForwardedApplication
a = ForwardedApplication.objects.get(number="{number}")
d = Delivery.objects.get(key="application:{number}")
print(json.dumps({{"state": a.state, "remote_number": a.remote_number, "remote_state": a.remote_state,
    "updates": [[u.sequence, u.action, u.state] for u in a.updates.order_by("sequence")],
    "delivery": [d.state, d.attempts, d.last_error.split(":")[0]]}}))
"""

# On A: make every waiting delivery retry due now (instead of waiting out the backoff).
DUE_NOW = """
from django.utils import timezone
from yiwang.core.models import OutboxEvent
print(OutboxEvent.objects.filter(topic="crossregion.deliver", processed_at__isnull=True).update(
    available_at=timezone.now()))
"""

# On B: a counter clerk of the case's department accepts the case made from A's application.
ACCEPT = """
import json
from django.contrib.auth import get_user_model
from yiwang.accounts.models import RoleAssignment
from yiwang.cases import selectors, services
from yiwang.exchange.crossregion.models import IncomingApplication
incoming = IncomingApplication.objects.get(origin_node="node-a", origin_number="{number}")
case = selectors.case_by_number(incoming.case_number)
clerk, made = get_user_model().objects.get_or_create(username="clerk-b")
if made:
    RoleAssignment.objects.create(user=clerk, role="counter_clerk", department=case.department)
case = services.perform(case.number, "accept", actor=clerk)
print(json.dumps({{"case": case.number, "state": case.state, "channel": case.channel,
    "incoming": IncomingApplication.objects.filter(origin_node="node-a").count()}}))
"""

# On B: B's own key signs a case_status for A; it is then replayed, and tampered with on its way.
ATTACKS = """
import http.client, json, urllib.parse, uuid
from yiwang.exchange.crossregion.models import IncomingApplication
from yiwang.exchange.nodes import httpsig, keys, messages
from yiwang.exchange.nodes.constants import REQUEST_COMPONENTS, REQUEST_TAG
from yiwang.exchange.nodes.httpsig import Component
from yiwang.exchange.nodes.services import canonical_body

URL = "{url}"
incoming = IncomingApplication.objects.get(origin_number="{number}")

def signed(body):
    payload = canonical_body(body)
    headers = {{"content-type": "application/json", "content-digest": httpsig.content_digest(payload),
               "exchange-from": "node-b", "exchange-to": "node-a", "exchange-kind": "case_status",
               "exchange-message-id": uuid.uuid4().hex}}
    values = {{"@method": "POST", "@target-uri": messages.target_uri(URL), **headers}}
    s = messages.sign(keys.signer(), tuple(Component(n) for n in REQUEST_COMPONENTS), values, tag=REQUEST_TAG)
    return {{**headers, "signature-input": s.signature_input, "signature": s.signature}}, payload

def post(headers, payload):
    parts = urllib.parse.urlsplit(URL)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("POST", parts.path, payload, headers)
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return [response.status, answer.get("code", "ok"), answer.get("result", {{}}).get("recorded")]

status = {{"origin_number": incoming.origin_number, "case_number": incoming.case_number, "department": "x",
          "event": 900000, "action": "refuse", "action_label": "不予许可", "state": "refused",
          "state_label": "不予许可", "reason": "", "occurred_at": "2026-12-07T03:00:00+00:00"}}
results = {{}}
headers, payload = signed(status)
tampered = payload.replace(b'"refused"', b'"closed"')
results["tampered_body"] = post(headers, tampered)
results["tampered_with_new_digest"] = post({{**headers, "content-digest": httpsig.content_digest(tampered)}}, tampered)
headers, payload = signed({{**status, "event": {event}, "state": "in_review", "state_label": "审查中"}})
results["original"] = post(headers, payload)
results["replayed"] = post(headers, payload)
print(json.dumps(results))
"""


def _json(node: Node, script: str) -> dict[str, object]:
    return dict(json.loads(_yiwang(node, "shell", "-c", script).stdout.strip().splitlines()[-1]))


def _worker(node: Node) -> None:
    _yiwang(node, "worker", "--once", "--id", f"test-{node.code}")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the seed catalogue (no demo accounts), copied for each node."""
    var_dir = tmp_path_factory.mktemp("seeded")
    # The suite's one migration from empty, copied; then the seed catalogue on top.
    shutil.copytree(migrated_sqlite_var_dir(), var_dir, dirs_exist_ok=True)
    template = Node("template", var_dir, _env(var_dir, "template"))
    _yiwang(template, "seed", "--no-accounts")
    return var_dir


@pytest.fixture
def nodes(seeded: Path) -> Iterator[tuple[Node, Node, ExitStack]]:
    with ExitStack() as stack:
        a = stack.enter_context(_node(seeded, "node-a"))
        b = stack.enter_context(_node(seeded, "node-b"))
        for node in (a, b):
            # B's first answer (its whole offered catalogue, on a server that has just started) can take more than
            # the default 10 s on a loaded CI machine; a node that is down is refused at once whatever this says.
            node.env["YIWANG_EXCHANGE_TIMEOUT_SECONDS"] = "60"
        yield a, b, stack


def test_cross_region_application_between_two_nodes_over_http(nodes: tuple[Node, Node, ExitStack]) -> None:
    a, b, stack = nodes
    stack.enter_context(_served(a))
    b_server = ExitStack()
    b_server.enter_context(_served(b))
    _peer(a, b)
    _peer(b, a)

    imported = _yiwang(a, "cross-region", "import-items", "node-b").stdout
    assert imported.startswith("node-b (") and " new, 0 updated, 0 withdrawn" in imported
    applied = _json(a, APPLY.format())
    number = str(applied["number"])
    assert _json(a, SHOW.format(number=number))["state"] == "forwarding"

    # A's worker forwards the application; B makes its case (channel 跨域通办) and answers its number.
    _worker(a)
    shown = _json(a, SHOW.format(number=number))
    assert shown["state"] == "forwarded" and shown["remote_state"] == "submitted"
    assert shown["delivery"] == ["delivered", 1, ""]
    accepted = _json(b, ACCEPT.format(number=number))
    assert accepted["case"] == shown["remote_number"] and accepted["state"] == "in_review"
    assert accepted["channel"] == "cross_region" and accepted["incoming"] == 1

    # B's worker reports the acceptance (one pass queues the status from the case event, the next sends it); A's
    # case page has B's status.
    _worker(b)
    _worker(b)
    shown = _json(a, SHOW.format(number=number))
    assert shown["remote_state"] == "in_review" and [u[1:] for u in shown["updates"]] == [["accept", "in_review"]]

    # Status messages signed by B, tampered with or replayed on their way to A, are refused; the original of the
    # replayed one repeats B's acceptance, which A already has, so it records nothing new.
    event = shown["updates"][0][0]
    attacks = _json(b, ATTACKS.format(url=a.base + "/exchange/v1/messages", number=number, event=event))
    assert attacks == {
        "tampered_body": [400, "digest_mismatch", None],
        "tampered_with_new_digest": [401, "bad_signature", None],
        "original": [200, "ok", False],
        "replayed": [409, "replayed", None],
    }
    assert _json(a, SHOW.format(number=number))["remote_state"] == "in_review"

    # B is down when the next application is made: A keeps it 正在转送 and retries once B is back.
    b_server.close()
    second = str(_json(a, APPLY.format())["number"])
    _worker(a)
    shown = _json(a, SHOW.format(number=second))
    assert shown["state"] == "forwarding" and shown["delivery"] == ["pending", 1, "peer_unreachable"]
    b_server.enter_context(_served(b))
    _peer(a, b)  # B came back on another port
    _yiwang(a, "shell", "-c", DUE_NOW)
    _worker(a)
    shown = _json(a, SHOW.format(number=second))
    assert shown["state"] == "forwarded" and shown["delivery"] == ["delivered", 2, ""]
    assert shown["remote_number"] and shown["remote_number"] != accepted["case"]

    for node in (a, b):
        _yiwang(node, "exchange", "checkpoint")
        verified = _yiwang(node, "exchange", "verify-log").stdout.strip()
        assert verified.startswith("ok: ") and verified.endswith(" 1 signed checkpoints"), verified
    b_server.close()
