"""Archive pages: who sees a case's entries and proofs, the public proof check, the published tree head.

The proof file a citizen downloads is checked here with gmssl (pure Python, an
independent SM2/SM3 implementation) and the RFC 9162 verifier, as an outside
party would: nothing of the platform's own checking is trusted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen, make_staff
from tests.cases.conftest import Staff
from tests.licences.archive_fixtures import closed_case, run_worker
from tests.licences.gmssl_support import gmssl_sm2
from yiwang.accounts.constants import Role
from yiwang.core import sm2
from yiwang.licences import merkle
from yiwang.licences.models import ArchiveEntry
from yiwang.licences.services import archive as archive_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed(archive_env: Path, citizen: Any, market: Staff) -> Any:
    case = closed_case(citizen, market)
    run_worker()
    return case


def _client(user: Any = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _bundle(citizen: Any, number: str) -> dict[str, Any]:
    response = _client(citizen).get(f"/archive/cases/{number}/proofs.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    (bundle,) = response.json()["proofs"]
    return dict(bundle)


def test_the_applicant_sees_the_entry_with_its_checked_proof(sealed: Any, citizen: Any) -> None:
    entry = ArchiveEntry.objects.get(ref=sealed.number)
    response = _client(citizen).get(f"/archive/cases/{sealed.number}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert entry.package_digest in page
    assert "包含证明与签名树头核验通过" in page


def test_the_downloaded_proof_verifies_independently(sealed: Any, citizen: Any) -> None:
    bundle = _bundle(citizen, sealed.number)
    head = bundle["tree_head"]
    proof = [bytes.fromhex(node) for node in bundle["inclusion_proof"]]
    assert merkle.verify_inclusion(
        bundle["entry"].encode(), bundle["leaf_index"], head["tree_size"], proof, bytes.fromhex(head["root_hash"])
    )
    assert len(proof) * 32 <= 1024
    message = archive_services.tree_head_message(head["tree_size"], head["root_hash"], head["timestamp_ms"])
    public = bytes.fromhex(head["public_key"])
    gm = gmssl_sm2(sm2.public_key_point(public), asn1=True)
    assert gm.verify_with_sm3(head["signature"], message)
    assert not gm.verify_with_sm3(head["signature"], message.replace(b"\n1\n", b"\n2\n"))
    # The package the entry names is the one on disk.
    entry = json.loads(bundle["entry"])
    stored = ArchiveEntry.objects.get(leaf_index=bundle["leaf_index"])
    assert entry["sm3"] == merkle.sm3(archive_services.package_file(stored).read_bytes()).hex()


def test_case_staff_see_it_and_others_get_404(sealed: Any, market: Staff) -> None:
    assert _client(market.reviewer).get(f"/archive/cases/{sealed.number}/").status_code == 200
    assert _client(make_staff(Role.SUPERVISOR, "market")).get(f"/archive/cases/{sealed.number}/").status_code == 200
    for outsider in (make_citizen("孙三"), make_staff(Role.REVIEWER, "police")):
        assert _client(outsider).get(f"/archive/cases/{sealed.number}/").status_code == 404
        assert _client(outsider).get(f"/archive/cases/{sealed.number}/proofs.json").status_code == 404
    assert _client(make_citizen("李四")).get("/archive/cases/NO-SUCH-CASE/").status_code == 404
    anonymous = _client().get(f"/archive/cases/{sealed.number}/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_a_case_not_yet_archived_says_so(archive_env: Path, citizen: Any) -> None:
    from tests.cases import builders
    from tests.cases.conftest import FOOD_LICENCE, item_code

    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    response = _client(citizen).get(f"/archive/cases/{case.number}/")
    assert response.status_code == 200 and "尚未归档" in response.content.decode()
    assert _client(citizen).get(f"/archive/cases/{case.number}/proofs.json").json()["proofs"] == []


def _check(text: str) -> Any:
    return _client().post("/archive/verify/", {"bundle": text})


def test_anyone_can_check_a_proof_and_any_alteration_fails(sealed: Any, citizen: Any) -> None:
    assert _client().get("/archive/verify/").status_code == 200
    bundle = _bundle(citizen, sealed.number)
    good = _check(json.dumps(bundle))
    assert good.status_code == 200 and "核验通过" in good.content.decode()
    assert sealed.number in good.content.decode()

    altered_entry = {**bundle, "entry": bundle["entry"].replace(bundle["entry"][-10:-5], "00000")}
    assert "包含证明不成立" in _check(json.dumps(altered_entry)).content.decode()
    head = dict(bundle["tree_head"])
    head["root_hash"] = "ab" * 32
    answer = _check(json.dumps({**bundle, "tree_head": head})).content.decode()
    assert "SM2 签名无效" in answer and "包含证明不成立" in answer
    foreign = dict(bundle["tree_head"], key_id="f" * 32)
    assert "不是本平台登记的档案日志密钥" in _check(json.dumps({**bundle, "tree_head": foreign})).content.decode()
    if bundle["inclusion_proof"]:
        nodes = list(bundle["inclusion_proof"])
        nodes[0] = ("0" if nodes[0][0] != "0" else "1") + nodes[0][1:]
        assert "包含证明不成立" in _check(json.dumps({**bundle, "inclusion_proof": nodes})).content.decode()


def test_bad_input_gets_a_clear_message_not_an_error(sealed: Any) -> None:
    not_json = _check("{not json")
    assert not_json.status_code == 400 and "不是有效的 JSON" in not_json.content.decode()
    assert "format 字段不符" in _check("[1, 2]").content.decode()
    assert "缺少必要字段" in _check(json.dumps({"format": "yiwang-archive-proof/1"})).content.decode()
    garbage = {
        "format": "yiwang-archive-proof/1",
        "entry": "x",
        "leaf_index": 0,
        "inclusion_proof": ["zz"],
        "tree_head": {"root_hash": "00", "signature": "00", "tree_size": 1, "timestamp_ms": 1},
    }
    assert "格式错误" in _check(json.dumps(garbage)).content.decode()
    assert _check("").status_code == 400
    assert _check("x" * 20_001).status_code == 400


def test_the_tree_head_is_published(sealed: Any) -> None:
    document = _client().get("/archive/tree-head.json").json()
    assert document["tree_head"]["tree_size"] == 1
    assert document["log_keys"][0]["key_id"] == document["tree_head"]["key_id"]
