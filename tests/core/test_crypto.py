"""Personal-data protection: SM4-GCM tokens, key rotation, blind indexes, masks."""

from __future__ import annotations

import base64
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.test.utils import isolate_apps

from yiwang.core import crypto
from yiwang.core.crypto import DecryptionError, KeyConfigurationError, decrypt, encrypt, needs_rotation
from yiwang.core.identifiers import DocumentType

from .conftest import BLIND_INDEX_KEY, KEY_1, KEY_2, KeyEnvironment

pytestmark = pytest.mark.usefixtures("pii_keys")


def _flip(token: str, index: int) -> str:
    """Return the token with one byte of its binary part changed."""
    version, kid, blob = token.split(":")
    raw = bytearray(base64.b64decode(blob))
    raw[index] ^= 0x01
    return f"{version}:{kid}:{base64.b64encode(bytes(raw)).decode()}"


# --- encryption --------------------------------------------------------------


@pytest.mark.parametrize("text", ["张三", "欧阳娜娜·买买提", "11010519491231002X", "", "𠀀𪚥 emoji 🙂", "长" * 10_000])
def test_round_trip(text: str) -> None:
    token = encrypt(text)
    assert token.startswith("v1:k1:")
    assert text not in token or text == ""
    assert decrypt(token) == text


def test_equal_values_give_different_tokens() -> None:
    tokens = {encrypt("13812345678") for _ in range(20)}
    assert len(tokens) == 20


def test_token_layout_is_nonce_ciphertext_tag() -> None:
    token = encrypt("abc")
    raw = base64.b64decode(token.split(":")[2])
    assert len(raw) == crypto.NONCE_BYTES + 3 + crypto.TAG_BYTES


@pytest.mark.parametrize("index", [0, 11, 12, -1, -16])  # nonce, first/last of ciphertext, tag
def test_tampering_is_detected(index: int) -> None:
    token = encrypt("张三的身份证号")
    with pytest.raises(DecryptionError, match="篡改"):
        decrypt(_flip(token, index))


def test_changing_the_key_id_is_detected(pii_keys: KeyEnvironment) -> None:
    pii_keys.use(f"{KEY_1},{KEY_2}")
    token = encrypt("张三")
    # The kid is associated data: relabelling a token as another known key fails.
    with pytest.raises(DecryptionError, match="篡改"):
        decrypt(token.replace("v1:k1:", "v1:k2:"))


@pytest.mark.parametrize(
    "token",
    ["", "张三", "v1", "v1:k1", "v1:k1:", "v2:k1:AAAA", "v1:k 1:AAAA", "v1:k1:!!!not base64!!!", "v1:k1:AAAA"],
)
def test_malformed_tokens_raise_decryption_error(token: str) -> None:
    with pytest.raises(DecryptionError):
        decrypt(token)


def test_unknown_key_id(pii_keys: KeyEnvironment) -> None:
    pii_keys.use(KEY_2)
    token = encrypt("张三")
    pii_keys.use(KEY_1)
    with pytest.raises(DecryptionError, match="'k2' 不在密钥环中"):
        decrypt(token)


def test_rotation_keeps_old_tokens_readable(pii_keys: KeyEnvironment) -> None:
    old = encrypt("李四")
    assert not needs_rotation(old)
    pii_keys.use(f"{KEY_2},{KEY_1}")  # k2 put first: new active key
    assert crypto.key_ring().active_kid == "k2"
    assert decrypt(old) == "李四"
    assert needs_rotation(old)
    new = encrypt("李四")
    assert new.startswith("v1:k2:") and not needs_rotation(new)
    rotated = crypto.reencrypt(old)
    assert rotated.startswith("v1:k2:") and decrypt(rotated) == "李四"
    assert crypto.reencrypt(new) == new
    pii_keys.use(KEY_2)  # k1 retired after rotation
    assert decrypt(rotated) == "李四"
    with pytest.raises(DecryptionError):
        decrypt(old)


def test_needs_rotation_refuses_non_tokens() -> None:
    with pytest.raises(DecryptionError):
        needs_rotation("11010519491231002X")


# --- blind index -------------------------------------------------------------


def test_blind_index_is_stable_keyed_and_purpose_separated(pii_keys: KeyEnvironment) -> None:
    first = crypto.blind_index("11010519491231002X", "id_number")
    assert first == crypto.blind_index("11010519491231002X", "id_number")
    assert len(first) == 64 and int(first, 16) >= 0
    assert first != crypto.blind_index("11010519491231002X", "mobile")
    assert first != crypto.blind_index("11010519491231002x", "id_number")
    # purpose and value cannot be shifted into each other across the separator
    assert crypto.blind_index("x", "ab") != crypto.blind_index("bx", "a")
    # the PII key ring does not affect it; the blind-index key does
    pii_keys.use(KEY_2)
    assert crypto.blind_index("11010519491231002X", "id_number") == first
    pii_keys.use(KEY_1, blind_index_key=base64.b64encode(bytes(range(32, 64))).decode())
    assert crypto.blind_index("11010519491231002X", "id_number") != first


def test_blind_index_is_hmac_sm3_over_purpose_nul_value() -> None:
    import hmac

    expected = hmac.new(base64.b64decode(BLIND_INDEX_KEY), b"mobile\x0013812345678", "sm3").hexdigest()
    assert crypto.blind_index("13812345678", "mobile") == expected


@pytest.mark.parametrize("purpose", ["", "id\x00number"])
def test_blind_index_purpose_must_be_a_plain_name(purpose: str) -> None:
    with pytest.raises(ValueError, match="purpose"):
        crypto.blind_index("x", purpose)


# --- masks -------------------------------------------------------------------


def test_masks() -> None:
    assert crypto.mask_id_number("11010519491231123X") == "110***********123X"
    assert crypto.mask_mobile("13812345678") == "138****5678"
    assert crypto.mask_name("张三") == "张*"
    assert crypto.mask_name("欧阳娜娜") == "欧***"
    assert crypto.mask_name(" 王 ") == "*"
    assert crypto.mask_name("") == ""
    assert crypto.mask_document(DocumentType.RESIDENT_ID, "11010519491231002X") == "110***********002X"
    assert crypto.mask_document(DocumentType.FOREIGN_PERMANENT_RESIDENCE, "911840198001010013") == (
        "911***********0013"
    )
    assert crypto.mask_document(DocumentType.HK_MACAU_PERMIT, "H12345678") == "H*****678"
    assert crypto.mask_document(DocumentType.TAIWAN_PERMIT, "07257456") == "0****456"
    assert crypto.mask_document(DocumentType.PASSPORT, "E12345678") == "E*****678"
    # too short to keep both ends: nothing is shown
    assert crypto.mask_id_number("1234567") == "*******"
    assert crypto.mask_document(DocumentType.PASSPORT, "X123") == "****"


# --- key configuration -------------------------------------------------------


def test_key_configuration_problems() -> None:
    assert crypto.key_configuration_problems(f"{KEY_2},{KEY_1}", BLIND_INDEX_KEY) == []
    assert len(crypto.key_configuration_problems(None, None)) == 2
    problems = crypto.key_configuration_problems(f"{KEY_1},{KEY_1}", "c2hvcnQ=")
    assert any("twice" in p for p in problems) and any("32 bytes" in p for p in problems)
    weak = "k1:" + base64.b64encode(b"1234567812345678").decode()
    assert any("weak" in p for p in crypto.key_configuration_problems(weak, BLIND_INDEX_KEY))


def test_invalid_keys_in_the_environment_fail_on_first_use(pii_keys: KeyEnvironment) -> None:
    pii_keys.use("k1:not-base64")
    with pytest.raises(KeyConfigurationError, match="base64"):
        encrypt("x")


@pytest.fixture
def no_key_environment(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.delenv(crypto.PII_KEYS_ENV, raising=False)
    monkeypatch.delenv(crypto.BLIND_INDEX_KEY_ENV, raising=False)
    settings.VAR_DIR = tmp_path
    crypto.reset_keys()
    yield tmp_path
    crypto.reset_keys()


def test_development_generates_keys_once_into_var_dir(no_key_environment: Path) -> None:
    token = encrypt("张三")
    index = crypto.blind_index("张三", "name")
    for name in (crypto.PII_KEYS_FILE, crypto.BLIND_INDEX_KEY_FILE):
        path = no_key_environment / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (no_key_environment / crypto.PII_KEYS_FILE).read_text().startswith("dev1:")
    crypto.reset_keys()  # a restart: the same keys are read back
    assert decrypt(token) == "张三"
    assert crypto.blind_index("张三", "name") == index
    assert sorted(p.name for p in no_key_environment.iterdir()) == ["blind_index_key", "pii_keys"]


def test_processes_racing_to_create_development_keys_agree(tmp_path: Path) -> None:
    path = tmp_path / "pii_keys"
    results: list[str] = []
    barrier = threading.Barrier(8)

    def create(n: int) -> None:
        barrier.wait()
        results.append(crypto._development_key_file(path, crypto.new_pii_key_entry(f"dev{n}")))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and results[0] == path.read_text().strip()


def test_production_never_generates_keys(no_key_environment: Path, settings: Any) -> None:
    settings.PRODUCTION = True
    with pytest.raises(KeyConfigurationError, match="must be set in production"):
        encrypt("x")
    assert not (no_key_environment / crypto.PII_KEYS_FILE).exists()


# --- encrypted columns and rotation ------------------------------------------


@pytest.fixture
def probe_model(db: None) -> Iterator[type[models.Model]]:
    """A throw-away model with an encrypted column, its table created inside the test's transaction."""
    with isolate_apps("yiwang.core"):

        class RotationProbe(models.Model):
            id = models.IntegerField(primary_key=True)
            secret = models.TextField(null=True, blank=True)  # noqa: DJ001  (NULL must be skipped)

            class Meta:
                app_label = "core"
                db_table = "core_test_rotation_probe"

            def __str__(self) -> str:
                return str(self.pk)

        with connection.cursor() as cursor:
            # Plain SQL: SQLite's schema editor refuses to run inside the test transaction.
            cursor.execute(f"CREATE TABLE {RotationProbe._meta.db_table} (id integer PRIMARY KEY, secret text NULL)")
        yield RotationProbe


def _fill(model: Any, count: int) -> None:
    model.objects.bulk_create([model(id=i, secret=encrypt(f"秘密{i}")) for i in range(1, count + 1)])
    model.objects.bulk_create([model(id=count + 1, secret=None), model(id=count + 2, secret="")])


def test_rotate_model_field(pii_keys: KeyEnvironment, probe_model: Any) -> None:
    _fill(probe_model, 25)
    pii_keys.use(f"{KEY_2},{KEY_1}")
    assert crypto.count_needing_rotation(probe_model, "secret") == 25
    assert crypto.rotate_model_field(probe_model, "secret", batch_size=7) == 25
    assert crypto.count_needing_rotation(probe_model, "secret") == 0
    assert crypto.rotate_model_field(probe_model, "secret") == 0  # a second run has nothing to do
    rows = dict(probe_model.objects.values_list("id", "secret"))
    assert rows[26] is None and rows[27] == ""
    for i in range(1, 26):
        assert rows[i].startswith("v1:k2:") and decrypt(rows[i]) == f"秘密{i}"


def test_encrypted_field_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_encrypted_fields", set())
    crypto.register_encrypted_field("accounts.Person", "id_number")
    crypto.register_encrypted_field("accounts.Person", "id_number")
    crypto.register_encrypted_field("accounts.Person", "mobile")
    assert [str(f) for f in crypto.encrypted_fields()] == ["accounts.Person.id_number", "accounts.Person.mobile"]
    for label, field in [("Person", "x"), ("accounts.Person", "no-dash"), ("accounts.Person.x", "y")]:
        with pytest.raises(ValueError, match="not a model label"):
            crypto.register_encrypted_field(label, field)


@pytest.fixture
def registered_probe(monkeypatch: pytest.MonkeyPatch, probe_model: Any) -> Any:
    monkeypatch.setattr(crypto, "_encrypted_fields", set())
    crypto.register_encrypted_field("core.RotationProbe", "secret")
    real_resolve = crypto.resolve_model
    monkeypatch.setattr(
        crypto, "resolve_model", lambda label: probe_model if label == "core.RotationProbe" else real_resolve(label)
    )
    return probe_model


def test_pii_rotate_command(pii_keys: KeyEnvironment, registered_probe: Any, capsys: pytest.CaptureFixture) -> None:
    _fill(registered_probe, 12)
    pii_keys.use(f"{KEY_2},{KEY_1}")
    call_command("pii_rotate", "--dry-run")
    out = capsys.readouterr().out
    assert "core.RotationProbe.secret: 待重新加密 12 条" in out
    assert registered_probe.objects.filter(secret__startswith="v1:k1:").count() == 12

    call_command("pii_rotate", "--batch-size", "5")
    out = capsys.readouterr().out
    assert "当前加密密钥：k2" in out and "core.RotationProbe.secret: 已重新加密 12 条" in out
    assert "合计已重新加密 12 条" in out
    assert registered_probe.objects.filter(secret__startswith="v1:k2:").count() == 12

    call_command("pii_rotate")
    assert "合计已重新加密 0 条" in capsys.readouterr().out


def test_pii_rotate_stops_on_a_value_it_cannot_decrypt(pii_keys: KeyEnvironment, registered_probe: Any) -> None:
    registered_probe.objects.create(id=1, secret="v1:k1:" + base64.b64encode(b"\x00" * 40).decode())
    pii_keys.use(f"{KEY_2},{KEY_1}")
    with pytest.raises(CommandError, match="pk=1"):
        call_command("pii_rotate")


def test_pii_rotate_names_a_registered_field_that_does_not_exist(
    monkeypatch: pytest.MonkeyPatch, pii_keys: KeyEnvironment, db: None
) -> None:
    monkeypatch.setattr(crypto, "_encrypted_fields", set())
    crypto.register_encrypted_field("core.AuditEvent", "no_such_field")
    with pytest.raises(CommandError, match=r"core\.AuditEvent\.no_such_field"):
        call_command("pii_rotate")
