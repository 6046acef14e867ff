"""``yiwang seals``: the command-line door to the same services."""

from __future__ import annotations

import base64
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.licences.qr_support import claims
from yiwang.core import sm2
from yiwang.licences.models import Seal, SigningKey
from yiwang.licences.services import qr, trust

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("seals", *args, stdout=out)
    return out.getvalue().strip()


def test_create_rotate_revoke_export_and_verify(tmp_path: Path) -> None:
    code, key_id = _run("create", "market", "--bottom-text", "行政审批专用章").split()
    seal = Seal.objects.get(code=code)
    assert seal.current_key is not None and seal.current_key.key_id == key_id
    new_key = _run("rotate", code)
    assert new_key != key_id and SigningKey.objects.get(key_id=key_id).retired_at is not None
    _run("export", str(tmp_path))
    document = (tmp_path / "trust-list.json").read_bytes()
    signature = base64.b64decode((tmp_path / "trust-list.sig").read_text())
    root = base64.b64decode(_run("root-key"))
    assert trust.parse_trust_list(document, signature, root).platform_id == trust.platform_id()
    payload = qr.encode_qr_payload(claims(), department_code="market")
    assert json.loads(_run("verify", payload))["ok"] is True
    _run("revoke", new_key, "--reason", "测试吊销")
    assert json.loads(_run("verify", payload))["code"] == "key_revoked"


def test_refusals_are_command_errors(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no seal"):
        _run("rotate", "nope-01")
    with pytest.raises(CommandError, match="no key"):
        _run("revoke", "0" * 32, "--reason", "x")
    with pytest.raises(CommandError, match="invalid"):
        _run("pin", "bad id!", "x", "key")
    with pytest.raises(CommandError, match="bad_root_key"):
        _run("pin", "gd-yiwang", "广东", "not-a-key")
    public = base64.b64encode(sm2.public_key_der(sm2.generate_private_key())).decode()
    _run("pin", "gd-yiwang", "广东", public)
    (tmp_path / "list.json").write_bytes(b"{}")
    (tmp_path / "list.sig").write_text("MEUCIQ==")
    with pytest.raises(CommandError, match="bad_signature"):
        _run("import", "gd-yiwang", str(tmp_path / "list.json"), str(tmp_path / "list.sig"))
    with pytest.raises(CommandError, match="fetch_failed"):
        _run("fetch", "gd-yiwang")
