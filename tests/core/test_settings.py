"""Production mode refuses insecure settings; development needs none."""

import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GOOD_KEY = "k" * 20 + "Zq9#x" * 8
# Fixed random-looking keys (never used outside tests).
GOOD_PII_KEYS = "k2:sHVWkb4fqKu6RZYfc4Rc5g==,k1:V7raBkCCW1RvtzAq2Ik9Gw=="
GOOD_BLIND_INDEX_KEY = "LUKIhycx0bXPIEac9r5MM+dn5pBRIcuphKw1KGg4wgM="
SECURE = {
    "YIWANG_MODE": "production",
    "SECRET_KEY": GOOD_KEY,
    "ALLOWED_HOSTS": "gov.example",
    "DATABASE_URL": "postgresql://yiwang@db.example/yiwang",
    "YIWANG_PII_KEYS": GOOD_PII_KEYS,
    "YIWANG_BLIND_INDEX_KEY": GOOD_BLIND_INDEX_KEY,
    # The OpenID Connect provider's signing key (accounts' block of settings).
    "OIDC_RSA_PRIVATE_KEY": rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode(),
}


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    ours = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", *SECURE}
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    return subprocess.run(
        [sys.executable, "-c", "import yiwang.settings"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "gov.example", "DEBUG": "true"}, "DEBUG must be false"),
        ({"SECRET_KEY": "short", "ALLOWED_HOSTS": "gov.example"}, "SECRET_KEY"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "gov.example"}, "DATABASE_URL must point to PostgreSQL"),
    ],
)
def test_production_refuses_insecure_settings(env: dict[str, str], complaint: str, tmp_path) -> None:
    result = run_settings({"YIWANG_MODE": "production", "YIWANG_VAR_DIR": str(tmp_path), **env})
    assert result.returncode != 0
    assert "Refusing to start in production mode" in result.stderr
    assert complaint in result.stderr


def test_production_refuses_a_short_sms_resend_interval(tmp_path) -> None:
    result = run_settings({**SECURE, "YIWANG_SMS_RESEND_SECONDS": "5", "YIWANG_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "YIWANG_SMS_RESEND_SECONDS must be at least 60" in result.stderr


@pytest.mark.parametrize(("raw", "complaint"), [("soon", "a whole number"), ("0", "between 1 and 3600")])
def test_the_sms_resend_interval_is_validated(raw: str, complaint: str, tmp_path) -> None:
    result = run_settings({"YIWANG_SMS_RESEND_SECONDS": raw, "YIWANG_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert f"YIWANG_SMS_RESEND_SECONDS must be {complaint}" in result.stderr


def test_development_may_shorten_the_sms_resend_interval(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import yiwang.settings as s; print(s.SMS_CODE_RESEND_SECONDS)"],
        env={**os.environ, "YIWANG_SMS_RESEND_SECONDS": "2", "YIWANG_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_production_starts_with_secure_settings(tmp_path) -> None:
    result = run_settings({**SECURE, "YIWANG_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"YIWANG_PII_KEYS": ""}, "YIWANG_PII_KEYS must be set"),
        ({"YIWANG_BLIND_INDEX_KEY": ""}, "YIWANG_BLIND_INDEX_KEY must be set"),
        ({"YIWANG_PII_KEYS": "k1:" + "A" * 22 + "=="}, "is weak"),  # sixteen zero bytes
        ({"YIWANG_PII_KEYS": "k1:c2hvcnQ="}, "must be 16 bytes"),
        ({"YIWANG_PII_KEYS": "no-colon-here"}, "kid:base64"),
        ({"YIWANG_BLIND_INDEX_KEY": "V7raBkCCW1RvtzAq2Ik9Gw=="}, "must be 32 bytes"),
    ],
)
def test_production_refuses_missing_or_weak_personal_data_keys(
    changes: dict[str, str], complaint: str, tmp_path
) -> None:
    result = run_settings({**SECURE, "YIWANG_VAR_DIR": str(tmp_path), **changes})
    assert result.returncode != 0
    assert "Refusing to start in production mode" in result.stderr
    assert complaint in result.stderr
    # Production never falls back to generated development keys.
    assert not (tmp_path / "pii_keys").exists()


def test_development_needs_no_settings(tmp_path) -> None:
    result = run_settings({"YIWANG_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").exists()


def test_bad_boolean_is_refused(tmp_path) -> None:
    result = run_settings({"YIWANG_VAR_DIR": str(tmp_path), "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr
