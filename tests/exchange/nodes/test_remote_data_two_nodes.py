"""Two platform nodes, each a real ``yiwang serve`` with its own database and key, over real HTTP: node A
registers node B's household-register service (``yiwang exchange add-remote-service``) and fetches 张三's
fields from it with his consent; more fields than B's policy allows are refused by B, and recorded as refused
on both nodes; with B down, A's request is provider_unavailable.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import on_postgresql

from .test_three_nodes import Node, _node, _peer, _served, _yiwang, migrated  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(on_postgresql(), reason="runs its nodes on SQLite of their own; the SQLite pass covers it"),
]

DEPARTMENTS = """
from yiwang.directory import services
for code, name in (("police", "示范市公安局"), ("education", "乙市教育局")):
    services.create_department_if_missing(
        code=code, division_code="990100", division_name="示范市", division_level="city", name=name
    )
"""

# On B: its catalogue and the household register (张三 among others).
PROVIDER = """
from yiwang.exchange import demo
demo.create_catalogue()
demo.create_demo_records()
"""

# On A: 张三 has an account here and consents that 乙市教育局 gets his household data from B's service.
CONSENT = """
from yiwang.accounts import services as accounts
from yiwang.accounts.models import User
from yiwang.core.identifiers import DocumentType
from yiwang.exchange import services
from yiwang.exchange.demo import ZHANG_SAN
person = accounts.create_person(name="张三", document_type=DocumentType.RESIDENT_ID, document_number=ZHANG_SAN)
user = User.objects.create(username="zhangsan", display_name="张三", person=person)
services.give_consent(actor=user, service_code="b-household", days=30, purpose="入学", consumer_code="education")
"""

# On A: ask B's service for the fields given; prints the outcome as one JSON line.
ASK = """
import json
from yiwang.accounts.models import Person
from yiwang.exchange import services
from yiwang.exchange.models import ExchangeRecord
subject = services.subject_for_person(Person.objects.get(name="张三"))
try:
    result = services.request_data(actor=None, consumer_code="education", service_code="b-household",
        subject=subject, fields={fields!r}, purpose="办理义务教育入学", case_reference="申请1", for_applicant=True)
except services.ExchangeError as error:
    record = ExchangeRecord.objects.filter(exchange_id=error.extra.get("exchange_id", "")).first()
    print(json.dumps({{"code": error.code, "rule": error.extra.get("rule", ""),
                      "outcome": record.outcome if record else "", "peer": record.peer_node if record else ""}}))
else:
    record = ExchangeRecord.objects.get(exchange_id=result.exchange_id)
    print(json.dumps({{"data": result.data, "outcome": record.outcome, "peer": record.peer_node,
                      "peer_exchange_id": record.peer_exchange_id}}, ensure_ascii=False))
"""

RECORDS = """
import json
from yiwang.exchange.models import ExchangeRecord
rows = ExchangeRecord.objects.order_by("id").values_list(
    "exchange_id", "service__code", "peer_node", "peer_exchange_id", "remote_consumer", "fields", "outcome",
    "refusal_code")
print(json.dumps([list(row) for row in rows], ensure_ascii=False))
"""

TIGHTEN = """
from yiwang.exchange.models import ResourceField
ResourceField.objects.filter(resource__code="RES-POLICE-0001", key="birth_date").update(share_type="not_shared")
"""


def _last_json(node: Node, script: str) -> object:
    return json.loads(_yiwang(node, "shell", "-c", script).stdout.strip().splitlines()[-1])


def test_node_a_fetches_a_household_field_from_node_b(migrated: Path) -> None:  # noqa: F811  (the fixture)
    with ExitStack() as stack:
        a, b = (stack.enter_context(_node(migrated, code)) for code in ("node-a", "node-b"))
        for node in (a, b):
            _yiwang(node, "shell", "-c", DEPARTMENTS)
        _yiwang(b, "shell", "-c", PROVIDER)
        with ExitStack() as serving:
            for node in (a, b):
                serving.enter_context(_served(node))
            _peer(a, b)
            _peer(b, a)
            added = _yiwang(a, "exchange", "add-remote-service", "node-b", "household", "--code", "b-household")
            assert added.stdout.startswith("service b-household node:node-b household ")
            assert "household_number:not_shared" in added.stdout
            _yiwang(a, "shell", "-c", CONSENT)

            fetched = _last_json(a, ASK.format(fields=["name", "address"]))
            assert isinstance(fetched, dict) and fetched["outcome"] == "answered" and fetched["peer"] == "node-b"
            assert fetched["data"] == {"name": "张三", "address": fetched["data"]["address"]}
            assert fetched["data"]["address"]

            # B no longer shares the birth date; A's copy of B's terms still says it may ask. B refuses.
            _yiwang(b, "shell", "-c", TIGHTEN)
            too_many = _last_json(a, ASK.format(fields=["name", "birth_date"]))
            assert too_many == {
                "code": "field_not_shared",
                "rule": "field_share_type:not_shared",
                "outcome": "refused",
                "peer": "node-b",
            }

            on_b = _last_json(b, RECORDS)
            assert isinstance(on_b, list) and len(on_b) == 2
            answered, refused = on_b
            assert answered[1:] == [
                "household",
                "node-a",
                answered[3],
                "乙市教育局",
                ["name", "address"],
                "answered",
                "",
            ]
            assert answered[0] == fetched["peer_exchange_id"] and answered[3]
            assert refused[1:3] == ["household", "node-a"] and refused[6:] == ["refused", "field_not_shared"]
            for node in (a, b):
                assert _yiwang(node, "exchange", "verify-log").stdout.startswith("ok: ")

        # B is down: A's request cannot be answered, and says so (the material is uploaded instead).
        down = _last_json(a, ASK.format(fields=["name"]))
        assert down == {"code": "provider_unavailable", "rule": "", "outcome": "failed", "peer": "node-b"}
