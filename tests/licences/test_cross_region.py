"""Cross-region trust (互认): two platform instances, each with its own database and keys, served by real
``yiwang serve`` processes, import each other's trust lists over HTTP and verify each other's licences;
a third platform that neither trusts is refused, and a revocation reaches the other platform with its next list.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import on_postgresql
from tests.db_template import migrated_sqlite_var_dir
from tests.e2e.conftest import YIWANG, _free_port, _wait_until_up

# The platforms run on SQLite files of their own whatever DATABASE_URL says: the PostgreSQL pass of the suite
# would only repeat the SQLite pass's run, so it skips them (about a minute of CI each).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(on_postgresql(), reason="runs its platforms on SQLite of their own; the SQLite pass covers it"),
]

MAKE_DEPARTMENT_AND_SEAL = """
from yiwang.directory.services import create_department_if_missing
from yiwang.licences.services import seals
create_department_if_missing(code="market", division_code="{division}", division_name="{city}",
                             division_level="city", name="{city}市场监督管理局")
seal = seals.create_seal("market")
"""
ISSUE_PAYLOAD = """
import datetime as dt
from yiwang.core import sm2
from yiwang.licences.services import qr
from yiwang.licences.services.seal_types import QrClaims
claims = QrClaims(licence_id="{licence_id}", licence_type="食品经营许可证", holder_name="李*",
                  holder_id_digest=qr.holder_digest("440305199001011234", "{licence_id}"),
                  issued_on=dt.date(2026, 12, 1), expires_on=None, document_digest=sm2.sm3(b"record"),
                  fields=(("经营者名称", "{city}小吃店"),))
print(qr.encode_qr_payload(claims, department_code="market"))
"""


def _env(var_dir: Path, platform_id: str, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YIWANG_KEY_STORE_DIR"}}
    # Each instance: its own SQLite file, key store and keys, platform id.
    env.update(YIWANG_VAR_DIR=str(var_dir), YIWANG_PLATFORM_ID=platform_id, YIWANG_PLATFORM_NAME=name)
    env.pop("YIWANG_KEY_STORE_KEY", None)
    return env


def _yiwang(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(YIWANG), *args], env=env, capture_output=True, text=True, timeout=600, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"`yiwang {' '.join(args[:2])}` failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def migrated() -> Path:
    """One migrated empty database (SQLite) that every instance copies: the suite's ``yiwang migrate`` from empty."""
    return migrated_sqlite_var_dir()


@contextmanager
def _instance(migrated: Path, platform_id: str, city: str, division: str) -> Iterator[dict[str, Any]]:
    var_dir = Path(tempfile.mkdtemp(prefix=f"yiwang-{platform_id}-"))
    try:
        shutil.copytree(migrated, var_dir, dirs_exist_ok=True)
        env = _env(var_dir, platform_id, f"{city}政务服务平台")
        _yiwang(env, "shell", "-c", MAKE_DEPARTMENT_AND_SEAL.format(city=city, division=division))
        yield {"env": env, "var_dir": var_dir, "id": platform_id, "city": city}
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


@contextmanager
def _served(instance: dict[str, Any]) -> Iterator[str]:
    port = _free_port()
    log_path = instance["var_dir"] / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(YIWANG), "serve", "--port", str(port), "--workers", "1"],
            env=instance["env"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base + "/licences/verify/", server, log_path)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _issue(instance: dict[str, Any], licence_id: str) -> str:
    code = ISSUE_PAYLOAD.format(licence_id=licence_id, city=instance["city"])
    return _yiwang(instance["env"], "shell", "-c", code).stdout.strip().splitlines()[-1]


def _verify(base: str, payload: str) -> dict[str, Any]:
    url = f"{base}/api/v1/licences/verify?" + urllib.parse.urlencode({"p": payload})
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310  (http://127.0.0.1 only)
        return dict(json.loads(response.read()))


def _trust(verifier: dict[str, Any], issuer: dict[str, Any], issuer_base: str) -> None:
    """An administrator of ``verifier`` pins ``issuer``'s root key (got out of band) and fetches its list."""
    root = _yiwang(issuer["env"], "seals", "root-key").stdout.strip()
    url = f"{issuer_base}/licences/trust-list.json"
    _yiwang(verifier["env"], "seals", "pin", issuer["id"], f"{issuer['city']}平台", root, "--url", url)
    _yiwang(verifier["env"], "seals", "fetch", issuer["id"])


def test_two_platforms_verify_each_other_and_refuse_a_third(migrated: Path) -> None:
    with ExitStack() as stack:
        gd = stack.enter_context(_instance(migrated, "gd-yiwang", "广州", "440100"))
        zj = stack.enter_context(_instance(migrated, "zj-yiwang", "杭州", "330100"))
        rogue = stack.enter_context(_instance(migrated, "rogue-platform", "某地", "999900"))
        gd_payload, zj_payload = _issue(gd, "GD-0001"), _issue(zj, "ZJ-0001")
        rogue_payload = _issue(rogue, "RG-0001")
        gd_base = stack.enter_context(_served(gd))
        zj_base = stack.enter_context(_served(zj))

        # Before any import, each trusts only itself.
        assert _verify(gd_base, gd_payload)["ok"] is True
        assert _verify(gd_base, zj_payload)["code"] == "untrusted_platform"

        _trust(gd, zj, zj_base)
        _trust(zj, gd, gd_base)

        from_zj = _verify(gd_base, zj_payload)
        assert from_zj["ok"] is True, from_zj
        assert from_zj["platform_id"] == "zj-yiwang" and from_zj["claims"]["licence_id"] == "ZJ-0001"
        assert from_zj["signer"] == "杭州市场监督管理局"
        from_gd = _verify(zj_base, gd_payload)
        assert from_gd["ok"] is True and from_gd["platform_id"] == "gd-yiwang"
        assert from_gd["claims"]["fields"] == [["经营者名称", "广州小吃店"]]

        # The third platform is trusted by neither; its payload is refused with a clear message.
        for base in (gd_base, zj_base):
            refused = _verify(base, rogue_payload)
            assert refused["ok"] is False and refused["code"] == "untrusted_platform"
            assert "rogue-platform" in refused["message"]

        # A platform pinned with the wrong root key gets no list imported: the list's signature is refused.
        wrong_root = _yiwang(rogue["env"], "seals", "root-key").stdout.strip()
        _yiwang(gd["env"], "seals", "pin", "zj-yiwang", "杭州平台", wrong_root, "--url",
                f"{zj_base}/licences/trust-list.json")  # fmt: skip
        failed = _yiwang(gd["env"], "seals", "fetch", "zj-yiwang", check=False)
        assert failed.returncode != 0 and "bad_signature" in failed.stderr
        _trust(gd, zj, zj_base)  # pinned right again

        # A revocation on one platform reaches the other with its next trust list.
        key_id = from_zj["key_id"]
        _yiwang(zj["env"], "seals", "revoke", key_id, "--reason", "私钥泄露")
        assert _verify(zj_base, zj_payload)["code"] == "key_revoked"
        _yiwang(gd["env"], "seals", "fetch", "zj-yiwang")
        revoked = _verify(gd_base, zj_payload)
        assert revoked["ok"] is False and revoked["code"] == "key_revoked" and "私钥泄露" in revoked["message"]
