"""Three platform nodes on this machine, each a real ``yiwang serve`` with its own database, key store and port,
exchanging signed messages over real HTTP: A↔B and B↔C are peers, A and C are not. A→B and B→C pings are
answered; a tampered message and a replayed one are refused; C's message to A is refused (unknown key);
every node's log verifies afterwards and records the refusals.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import on_postgresql
from tests.db_template import migrated_sqlite_var_dir
from tests.e2e.conftest import YIWANG, _free_port, _wait_until_up

# The nodes run on SQLite files of their own whatever DATABASE_URL says: the PostgreSQL pass of the suite
# would only repeat the SQLite pass's run, so it skips them (about a minute of CI each).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(on_postgresql(), reason="runs its nodes on SQLite of their own; the SQLite pass covers it"),
]

# Run inside node A (``yiwang shell -c``): A's own key signs, then the message is replayed or tampered with
# on its way to B. Prints one JSON line: the status and refusal code of each attempt.
ATTACKS = """
import http.client, json, urllib.parse, uuid
from yiwang.exchange.nodes import httpsig, keys, messages
from yiwang.exchange.nodes.constants import REQUEST_COMPONENTS, REQUEST_TAG
from yiwang.exchange.nodes.httpsig import Component
from yiwang.exchange.nodes.services import canonical_body

URL = "{url}"

def signed(body):
    payload = canonical_body(body)
    headers = {{"content-type": "application/json", "content-digest": httpsig.content_digest(payload),
               "exchange-from": "node-a", "exchange-to": "node-b", "exchange-kind": "ping",
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
    return [response.status, answer.get("code", "ok")]

results = {{}}
headers, payload = signed({{"echo": "first"}})
results["original"] = post(headers, payload)
results["replayed"] = post(headers, payload)
headers, payload = signed({{"amount": 100}})
results["tampered_body"] = post(headers, payload.replace(b"100", b"999"))
forged = payload.replace(b"100", b"999")
results["tampered_with_new_digest"] = post({{**headers, "content-digest": httpsig.content_digest(forged)}}, forged)
headers, payload = signed({{"echo": "x"}})
results["redirected_kind"] = post({{**headers, "exchange-kind": "other"}}, payload)
print(json.dumps(results))
"""

COUNT_OUTCOMES = """
import json
from django.db.models import Count
from yiwang.exchange.nodes.models import LogEntry
rows = LogEntry.objects.values_list("direction", "message_type", "peer_code", "outcome").annotate(n=Count("id"))
print(json.dumps(sorted([list(row) for row in rows])))
"""


@dataclass
class Node:
    code: str
    var_dir: Path
    env: dict[str, str]
    public_key: str = ""
    base: str = ""


def _env(var_dir: Path, code: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YIWANG_KEY_STORE_DIR"}}
    env.pop("YIWANG_KEY_STORE_KEY", None)
    # Each node: its own SQLite file, key store, key and code; no background worker is needed here.
    env.update(YIWANG_VAR_DIR=str(var_dir), YIWANG_EXCHANGE_NODE_CODE=code, YIWANG_EMBEDDED_WORKER="0")
    return env


def _yiwang(node: Node, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(YIWANG), *args], env=node.env, capture_output=True, text=True, timeout=600, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"`yiwang {' '.join(args[:3])}` on {node.code} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def migrated() -> Path:
    """One migrated empty database (SQLite) that every instance copies: the suite's ``yiwang migrate`` from empty."""
    return migrated_sqlite_var_dir()


@contextmanager
def _node(migrated: Path, code: str) -> Iterator[Node]:
    var_dir = Path(tempfile.mkdtemp(prefix=f"yiwang-{code}-"))
    try:
        shutil.copytree(migrated, var_dir, dirs_exist_ok=True)
        node = Node(code, var_dir, _env(var_dir, code))
        identity = dict(line.split(" ", 1) for line in _yiwang(node, "exchange", "identity").stdout.splitlines())
        assert identity["code"] == code
        node.public_key = identity["public_key"]
        yield node
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


@contextmanager
def _served(node: Node) -> Iterator[None]:
    port = _free_port()
    log_path = node.var_dir / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(YIWANG), "serve", "--port", str(port), "--workers", "1"],
            env=node.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        node.base = f"http://127.0.0.1:{port}"
        _wait_until_up(node.base + "/healthz", server, log_path)
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _peer(node: Node, other: Node) -> None:
    _yiwang(node, "exchange", "add-peer", other.code, other.base, other.public_key)


def _outcomes(node: Node) -> list[list[object]]:
    return list(json.loads(_yiwang(node, "shell", "-c", COUNT_OUTCOMES).stdout.strip().splitlines()[-1]))


def test_three_nodes_exchange_signed_messages_over_http(migrated: Path) -> None:
    with ExitStack() as stack:
        a, b, c = (stack.enter_context(_node(migrated, code)) for code in ("node-a", "node-b", "node-c"))
        for node in (a, b, c):
            stack.enter_context(_served(node))
        _peer(a, b)
        _peer(b, a)
        _peer(b, c)
        _peer(c, b)
        _peer(c, a)  # C knows A, but A has not registered C

        pong = json.loads(_yiwang(a, "exchange", "ping", "node-b").stdout)
        assert pong == {"echo": "ping", "from": "node-a", "node": "node-b", "pong": True}
        pong = json.loads(_yiwang(b, "exchange", "ping", "node-c").stdout)
        assert pong["node"] == "node-c" and pong["from"] == "node-b"

        # A's messages to B, signed with A's key from A's key store, replayed and tampered with on the way.
        attacks = _yiwang(a, "shell", "-c", ATTACKS.format(url=b.base + "/exchange/v1/messages")).stdout
        results = json.loads(attacks.strip().splitlines()[-1])
        assert results == {
            "original": [200, "ok"],
            "replayed": [409, "replayed"],
            "tampered_body": [400, "digest_mismatch"],
            "tampered_with_new_digest": [401, "bad_signature"],
            "redirected_kind": [401, "bad_signature"],
        }

        # C is not A's peer: A refuses, signed, and C (which knows A's key) reports the refusal.
        refused = _yiwang(c, "exchange", "ping", "node-a", check=False)
        assert refused.returncode != 0 and "peer_refused" in refused.stderr and "node-a" in refused.stderr
        # B stops trusting C: C's next message is refused too.
        _yiwang(b, "exchange", "remove-peer", "node-c")
        assert "peer_refused" in _yiwang(c, "exchange", "ping", "node-b", check=False).stderr

        for node in (a, b, c):
            _yiwang(node, "exchange", "checkpoint")
            verified = _yiwang(node, "exchange", "verify-log").stdout.strip()
            assert verified.startswith("ok: ") and verified.endswith(" entries, 1 signed checkpoints"), verified

        on_b = _outcomes(b)
        assert ["received", "request", "node-a", "replayed", 1] in on_b
        assert ["received", "request", "node-a", "digest_mismatch", 1] in on_b
        assert ["received", "request", "node-a", "bad_signature", 2] in on_b
        assert ["received", "request", "node-c", "unknown_key", 1] in on_b
        assert ["received", "request", "node-c", "unknown_key", 1] in _outcomes(a)
        on_c = _outcomes(c)
        assert ["sent", "request", "node-a", "unknown_key", 1] in on_c
        assert ["received", "response", "node-a", "ok", 1] in on_c

        # A's log, edited behind its back, names the edited entry.
        _yiwang(a, "shell", "-c", "from yiwang.exchange.nodes.models import LogEntry; "
                "LogEntry.objects.filter(sequence=2).update(outcome='forged')")  # fmt: skip
        broken = _yiwang(a, "exchange", "verify-log", check=False)
        assert broken.returncode != 0 and "log broken at entry 2" in broken.stderr
