"""Production mode refuses insecure settings; development needs none."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# A fixed key shaped like secrets.token_urlsafe(50) (never used outside tests).
GOOD_KEY = "vN3qX8rT1mZ4wK6pL0yB7cD2hF5jG9sA-eU_iO3nR8tY1xC4vB6mQ0zW7kE2aS5dH9"
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
    "YIWANG_KEY_STORE_KEY": "q7Lw2Zx9Vb1Nc4Md8Fg3Hj==",
    "OIDC_ISSUER": "https://gov.example",
    # A deployment's own provider, registered by the deployment (the sandbox moves no money).
    "YIWANG_PAYMENT_PROVIDER": "unionpay",
    # The OpenID Connect provider's signing key (accounts' block of settings).
    "OIDC_RSA_PRIVATE_KEY": rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode(),
}


def _clean_environ() -> dict[str, str]:
    ours = {
        "DEBUG",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "YIWANG_TLS_TERMINATED_BY_PROXY",
        *SECURE,
    }
    return {k: v for k, v in os.environ.items() if k not in ours}


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import yiwang.settings"],
        env={**_clean_environ(), **env},
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


@pytest.mark.parametrize(("raw", "complaint"), [("two", "a whole number"), ("0", "between 1 and 64")])
def test_the_worker_compute_threads_are_validated(raw: str, complaint: str, tmp_path) -> None:
    result = run_settings({"YIWANG_WORKER_COMPUTE_THREADS": raw, "YIWANG_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert f"YIWANG_WORKER_COMPUTE_THREADS must be {complaint}" in result.stderr


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
        ({"YIWANG_KEY_STORE_KEY": ""}, "YIWANG_KEY_STORE_KEY must be set"),
        ({"YIWANG_KEY_STORE_KEY": "A" * 22 + "=="}, "is weak"),
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


# --- issue 12 item 5: more that production refuses ---------------------------------------------


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"SECRET_KEY": "abcde" * 10}, "SECRET_KEY is not random enough"),
        ({"SECRET_KEY": "k" * 20 + "Zq9#x" * 8}, "SECRET_KEY is not random enough"),
        ({"SECRET_KEY": "0123456789abcdef" * 4}, "repeated runs"),
        ({"SECURE_HSTS_SECONDS": "0"}, "SECURE_HSTS_SECONDS must be positive"),
        ({"SECURE_SSL_REDIRECT": "false"}, "YIWANG_TLS_TERMINATED_BY_PROXY"),
        ({"OIDC_ISSUER": ""}, "OIDC_ISSUER must be set"),
        ({"YIWANG_PAYMENT_PROVIDER": "sandbox"}, "not the sandbox"),
        ({"YIWANG_PAYMENT_PROVIDER": ""}, "not the sandbox"),  # the default
    ],
)
def test_production_refuses_weak_keys_plain_http_a_guessed_issuer_and_the_sandbox(
    changes: dict[str, str], complaint: str, tmp_path
) -> None:
    result = run_settings({**SECURE, "YIWANG_VAR_DIR": str(tmp_path), **changes})
    assert result.returncode != 0
    assert "Refusing to start in production mode" in result.stderr
    assert complaint in result.stderr


def test_production_allows_no_ssl_redirect_when_the_proxy_ends_tls(tmp_path) -> None:
    env = {**SECURE, "YIWANG_VAR_DIR": str(tmp_path), "SECURE_SSL_REDIRECT": "false"}
    result = run_settings({**env, "YIWANG_TLS_TERMINATED_BY_PROXY": "true"})
    assert result.returncode == 0, result.stderr


def test_random_keys_of_every_usual_alphabet_are_strong_enough() -> None:
    from django.core.management.utils import get_random_secret_key

    from yiwang.settings import secret_key_problem

    for _ in range(200):
        assert secret_key_problem(secrets.token_hex(25)) is None  # openssl rand -hex 25
        assert secret_key_problem(secrets.token_urlsafe(38)) is None
        assert secret_key_problem(get_random_secret_key()) is None
    assert secret_key_problem(GOOD_KEY) is None
    assert "at least 50 characters" in (secret_key_problem(secrets.token_urlsafe(30)) or "")
    assert secret_key_problem("django-insecure-" + secrets.token_urlsafe(50)) is not None


def test_production_serve_refuses_to_start_without_collected_static_files(tmp_path) -> None:
    """Without them every page answered 500 (the manifest has no entry for its CSS)."""
    yiwang = Path(sys.executable).with_name("yiwang")
    result = subprocess.run(
        [str(yiwang), "serve", "--port", "1"],  # never bound: the checks stop it first
        env={**_clean_environ(), **SECURE, "YIWANG_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "yiwang.E001" in result.stderr and "collectstatic" in result.stderr
    assert "serving on" not in result.stdout


# --- issue 12 item 11: the demo answers like a real deployment ------------------------------------

UNKNOWN_PAGE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(raise_request_exception=False)
page = client.get("/no-such-page/")
css = client.get("/static/yiwang/portal.css")
print(settings.DEBUG, page.status_code, css.status_code)
print(page.content.decode())
"""


def _unknown_page(tmp_path: Path, **env: str) -> tuple[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", UNKNOWN_PAGE],
        env={**_clean_environ(), "YIWANG_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "yiwang.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    first, _, page = result.stdout.partition("\n")
    return first, page


def test_by_default_a_mistyped_address_gets_the_friendly_404_page_and_static_files_are_served(tmp_path) -> None:
    """`make run` used to show every route and the settings to anyone who mistyped a URL."""
    status, page = _unknown_page(tmp_path)
    assert status == "False 404 200"  # DEBUG off; whitenoise still serves the static files without collecting
    assert "抱歉，您要找的页面不存在" in page
    assert "URLconf" not in page and "Traceback" not in page and "DEBUG" not in page and "SECRET_KEY" not in page
    assert "catalog:" not in page and "api/v1/" not in page


def test_a_developer_asks_for_the_debug_pages(tmp_path) -> None:
    status, page = _unknown_page(tmp_path, DEBUG="1")
    assert status == "True 404 200"
    assert "URLconf" in page
