"""Django settings for Yiwang, read from environment variables.

Every variable is listed in docs/configuration.md. Local use needs none of
them: the defaults give a development server on an embedded SQLite database
under ``var/``. With ``YIWANG_MODE=production`` the process refuses to start
while any setting is insecure.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = PACKAGE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("YIWANG_VAR_DIR", BASE_DIR / "var"))

MODE = os.environ.get("YIWANG_MODE", "development").strip().lower()
if MODE not in {"development", "production"}:
    raise ImproperlyConfigured("YIWANG_MODE must be 'development' or 'production'")
PRODUCTION = MODE == "production"


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def _development_secret_key() -> str:
    # A random key kept under var/ so sessions survive restarts on a laptop
    # without anyone having to invent a secret.
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


# Off unless a developer asks (DEBUG=1): the demo city of `make run` answers a mistyped address with
# the friendly 404 page, never with Django's list of every route and its settings. DEBUG is only about
# error pages and diagnostics; what the demo adds (accounts, SMS outbox, demo scanner) follows PRODUCTION.
DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY") or ("" if PRODUCTION else _development_secret_key())
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "yiwang.core",
    "yiwang.directory",
    "yiwang.accounts",
    "yiwang.catalog",
    "yiwang.knowledge",
    "yiwang.cases",
    "yiwang.licences",
    "yiwang.exchange",
    "yiwang.exchange.nodes",
    "yiwang.exchange.crossregion",
    "yiwang.hotline",
    "yiwang.feedback",
    "yiwang.assistant",
    "yiwang.demo",
]

MIDDLEWARE = [
    # Outermost: every response, redirects and refusals included, gets a request id and an access log line.
    "yiwang.core.observability.RequestIdMiddleware",
    # /healthz and /readyz are answered here, before the host check and the HTTPS redirect (core/health.py).
    "yiwang.core.health.ProbeMiddleware",
    # Before anything reads request.POST: uploaded files keep the name the browser sent, to be checked (uploads.md).
    "yiwang.core.uploads.multipart.ClientFileNameMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Peers' signed messages (/exchange/v1/) are answered here: they need nothing below (ADR 0026).
    "yiwang.exchange.nodes.middleware.ExchangeEndpointMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Unknown /api/v1/ paths, 405s and over-long URIs answer as problem documents.
    "yiwang.core.problems.ApiProblemMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "yiwang.core.middleware.SecurityHeadersMiddleware",
    "yiwang.core.middleware.ElderlyModeMiddleware",
]

ROOT_URLCONF = "yiwang.urls"
WSGI_APPLICATION = "yiwang.wsgi.application"
ASGI_APPLICATION = "yiwang.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "yiwang.core.context_processors.portal",
            ],
        },
    }
]

_default_database_url = f"sqlite:///{VAR_DIR / 'yiwang.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL") or _default_database_url
if DATABASE_URL.startswith("sqlite"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    # Persistent connections: with CONN_MAX_AGE=0 a one-insert endpoint lost
    # two thirds of its throughput on this hardware (STACK-NOTES.md).
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has one writer at a time: two web workers and the embedded outbox worker queue for it.
    # At 5 s a few submissions under 32 concurrent clients gave up ("database is locked"); wait longer.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/accounts/"
# Argon2id first: new and changed passwords are hashed with it; older hashes upgrade at next login.
PASSWORD_HASHERS = [
    "yiwang.accounts.passwords.Argon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SMS_BACKEND = os.environ.get("YIWANG_SMS_BACKEND", "yiwang.accounts.sms.outbox_backend")
# One SMS code per mobile number per this many seconds. Production keeps at least the default;
# shorter is for development and the browser tests, which would otherwise wait a minute.
SMS_CODE_RESEND_SECONDS = env_int("YIWANG_SMS_RESEND_SECONDS", 60, minimum=1, maximum=3600)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "yiwang.accounts.passwords.CharacterClassValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    # whitenoise expects the directory even when it serves from the apps' static folders.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Security: sensible everywhere, strict in production.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if PRODUCTION else "0"))
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None


def _trusted_proxies() -> int:
    raw = os.environ.get("YIWANG_TRUSTED_PROXIES", "").strip() or "0"
    if not raw.isdigit() or int(raw) > 10:
        raise ImproperlyConfigured(f"YIWANG_TRUSTED_PROXIES must be a whole number from 0 to 10, not {raw!r}")
    return int(raw)


# How many proxies in front of the site append to X-Forwarded-For; 0 ignores the
# header, so nobody can choose the address that throttles and audit records see.
YIWANG_TRUSTED_PROXIES = _trusted_proxies()
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Logs: one JSON object per line on stderr (time in UTC, level, logger, request_id, message and
# extra fields), one access line per request from yiwang.access; format in docs/configuration.md.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "yiwang.core.observability.RequestIdFilter"}},
    "formatters": {"json": {"()": "yiwang.core.observability.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "jieba": {"level": "WARNING"},
        # Replaces Django's own handlers (a plain-text console under DEBUG), which printed each line twice.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # runserver's own request lines carry the query string; yiwang.access replaces them.
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# Readiness (/readyz): the worker's message broker, when there is one, must accept a TCP
# connection. Unset: no broker check. Only host and port are used; credentials in the URL are
# never shown or logged.
YIWANG_BROKER_URL = os.environ.get("YIWANG_BROKER_URL", "").strip()
YIWANG_READYZ_TIMEOUT = float(os.environ.get("YIWANG_READYZ_TIMEOUT", "2"))

# Metrics (/metrics, yiwang.core.metrics; docs/configuration.md, "Metrics"): the bearer token a Prometheus
# scraper sends. Unset: no token is accepted (staff with the core.view_metrics permission can still look).
METRICS_TOKEN = os.environ.get("YIWANG_METRICS_TOKEN", "").strip()
METRICS_TOKEN_MIN_LENGTH = 32
# Where the processes of one server (gunicorn's workers, the embedded worker) write their counters for a
# scrape to add up: $PROMETHEUS_MULTIPROC_DIR when set, else this; emptied when the server starts.
METRICS_DIR = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or VAR_DIR / "metrics")

# Search: the longest query accepted, in characters, after normalisation.
SEARCH_MAX_QUERY_LENGTH = int(os.environ.get("SEARCH_MAX_QUERY_LENGTH", "100"))
# A search result counts as "what people chose after this query" only from this many choices up.
SEARCH_CHOICE_MIN_COUNT = int(os.environ.get("SEARCH_CHOICE_MIN_COUNT", "5"))


# The front proxy (load balancer) ends TLS and itself redirects plain HTTP to HTTPS: only then may
# SECURE_SSL_REDIRECT be off in production (with it on, such a proxy often meets a redirect loop).
TLS_TERMINATED_BY_PROXY = env_bool("YIWANG_TLS_TERMINATED_BY_PROXY", False)

# What a production SECRET_KEY must at least have. A random key of 50 characters from any usual
# alphabet (hex, base64, Django's own) clears these by far; typed or patterned keys do not.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 12
SECRET_KEY_MIN_BITS = 128
# A run this long found twice in a key is a pattern (abcdeabcde…), not chance.
SECRET_KEY_REPEAT_RUN = 8


def secret_key_problem(key: str) -> str | None:
    """Say why ``key`` cannot sign a production site's sessions and tokens, or None when it can.

    The estimate is the key's length times the Shannon entropy of its
    character frequencies; it can only overrate a key, so the other rules
    catch what it misses: few distinct characters and repeated runs.
    """
    import math
    from collections import Counter

    advice = "; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    if len(key) < SECRET_KEY_MIN_LENGTH or key.startswith("django-insecure"):
        return f"SECRET_KEY must be set to a random value of at least {SECRET_KEY_MIN_LENGTH} characters" + advice
    counts = Counter(key)
    bits = -sum(n * math.log2(n / len(key)) for n in counts.values())
    run = SECRET_KEY_REPEAT_RUN
    repeated = len({key[i : i + run] for i in range(len(key) - run + 1)}) < len(key) - run + 1
    if len(counts) < SECRET_KEY_MIN_DISTINCT or bits < SECRET_KEY_MIN_BITS or repeated:
        return (
            f"SECRET_KEY is not random enough (about {bits:.0f} bits, {len(counts)} distinct characters"
            f"{', repeated runs' if repeated else ''}; at least {SECRET_KEY_MIN_BITS} bits and"
            f" {SECRET_KEY_MIN_DISTINCT} distinct characters without repeated runs are needed)" + advice
        )
    return None


def insecure_settings() -> list[str]:
    """Name every setting that makes a production deployment unsafe."""
    problems = []
    if DEBUG:
        problems.append("DEBUG must be false")
    if problem := secret_key_problem(SECRET_KEY):
        problems.append(problem)
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the site's host names (no '*')")
    if not SESSION_COOKIE_SECURE or not CSRF_COOKIE_SECURE:
        problems.append("SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE must be true")
    if SECURE_HSTS_SECONDS <= 0:
        problems.append("SECURE_HSTS_SECONDS must be positive (browsers must keep to HTTPS)")
    if not SECURE_SSL_REDIRECT and not TLS_TERMINATED_BY_PROXY:
        problems.append(
            "SECURE_SSL_REDIRECT must be true, unless the proxy in front ends TLS and redirects HTTP itself:"
            " then say so with YIWANG_TLS_TERMINATED_BY_PROXY=true"
        )
    if not OIDC_ISSUER:
        problems.append("OIDC_ISSUER must be set to the site's https:// origin (never taken from the Host header)")
    if YIWANG_PAYMENT_PROVIDER == "sandbox":
        problems.append("YIWANG_PAYMENT_PROVIDER must name a real payment provider, not the sandbox")
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        problems.append("DATABASE_URL must point to PostgreSQL")
    if SMS_CODE_RESEND_SECONDS < 60:
        problems.append("YIWANG_SMS_RESEND_SECONDS must be at least 60")
    if METRICS_TOKEN and len(METRICS_TOKEN) < METRICS_TOKEN_MIN_LENGTH:
        problems.append(
            f"YIWANG_METRICS_TOKEN must be a random value of at least {METRICS_TOKEN_MIN_LENGTH} characters"
        )
    problems.extend(personal_data_key_problems())  # defined in the core security kernel block below
    problems.extend(signing_key_store_problems())  # defined in the core security kernel block below
    problems.extend(oidc_problems())  # defined in the OpenID Connect provider block below
    problems.extend(materials_problems())  # defined in the application materials block below
    problems.extend(worker_engine_problems())  # defined in the worker engine block above
    # OIDC_ISSUER and YIWANG_PAYMENT_PROVIDER are set in their blocks below, before this runs.
    return problems


# --- core security kernel ---
# Personal-data keys (docs/adr/0004-personal-data-and-audit.md):
# YIWANG_PII_KEYS = "kid:base64(16 bytes),…" (SM4; the first one encrypts) and
# YIWANG_BLIND_INDEX_KEY = base64(32 bytes) (HMAC-SM3). yiwang.core.crypto reads
# them on first use; in development, when unset, it generates them once into
# VAR_DIR/pii_keys and VAR_DIR/blind_index_key. Production needs both, strong.


def personal_data_key_problems() -> list[str]:
    """Name every problem with the personal-data keys in the environment (production checks)."""
    from yiwang.core.crypto import key_configuration_problems

    return key_configuration_problems(os.environ.get("YIWANG_PII_KEYS"), os.environ.get("YIWANG_BLIND_INDEX_KEY"))


# Private signing keys (SM2, yiwang.core.keystore): YIWANG_KEY_STORE names the
# store class (an HSM/KMS adapter may replace the file store); the file store
# encrypts keys with SM4-GCM under YIWANG_KEY_STORE_KEY = base64(16 bytes),
# generated into VAR_DIR/key_store_key in development, required in production.
YIWANG_KEY_STORE = os.environ.get("YIWANG_KEY_STORE", "").strip() or "yiwang.core.keystore.FileKeyStore"


def signing_key_store_problems() -> list[str]:
    """Production checks for the file key store's master key (none when another store is configured)."""
    from yiwang.core.keystore import DEFAULT_KEY_STORE, key_store_problems

    if YIWANG_KEY_STORE != DEFAULT_KEY_STORE:
        return []
    return key_store_problems(os.environ.get("YIWANG_KEY_STORE_KEY"))


# --- end of core security kernel ---

# --- e-seals and trust lists (licences; docs/licences.md) ---
# The platform's id in licence QR payloads and its signed trust list, its
# name there, and how long a published trust list stays current.
YIWANG_PLATFORM_ID = os.environ.get("YIWANG_PLATFORM_ID", "").strip() or "yiwang"
YIWANG_PLATFORM_NAME = os.environ.get("YIWANG_PLATFORM_NAME", "").strip() or "一网通办"
YIWANG_TRUST_LIST_HOURS = env_int("YIWANG_TRUST_LIST_HOURS", 7 * 24, minimum=1, maximum=90 * 24)
# --- end of e-seals and trust lists ---

# --- exchange between nodes (exchange.nodes; docs/exchange-nodes.md, ADR 0026) ---
# This node's code in signed messages (keyid "<code>:<key>"; default: the platform id), how far a message's
# "created" time may lie from ours either way (seen nonces are kept twice that long), how long a call to a
# peer may take, and after how many log entries the log's head is signed as a checkpoint.
YIWANG_EXCHANGE_NODE_CODE = os.environ.get("YIWANG_EXCHANGE_NODE_CODE", "").strip() or YIWANG_PLATFORM_ID
YIWANG_EXCHANGE_CLOCK_SKEW_SECONDS = env_int("YIWANG_EXCHANGE_CLOCK_SKEW_SECONDS", 60, minimum=1, maximum=3600)
YIWANG_EXCHANGE_TIMEOUT_SECONDS = env_int("YIWANG_EXCHANGE_TIMEOUT_SECONDS", 10, minimum=1, maximum=300)
YIWANG_EXCHANGE_CHECKPOINT_EVERY = env_int("YIWANG_EXCHANGE_CHECKPOINT_EVERY", 1000, minimum=1, maximum=1_000_000)
# Batch exchange (前置库, docs/exchange.md): the front directory providers drop batches into (unset: off), and
# how often the worker scans it.
YIWANG_EXCHANGE_FRONT_DIR = os.environ.get("YIWANG_EXCHANGE_FRONT_DIR", "").strip()
YIWANG_EXCHANGE_BATCH_SCAN_SECONDS = env_int("YIWANG_EXCHANGE_BATCH_SCAN_SECONDS", 300, minimum=5, maximum=86400)
# --- end of exchange between nodes ---

# --- OpenID Connect provider ---
# Yiwang is the identity provider (统一身份认证) through which other departments'
# systems sign their users in, built on django-oauth-toolkit: authorization code
# with PKCE (S256) only, RS256-signed ID tokens, short-lived tokens, rotating
# refresh tokens. Why and how: docs/adr/0005-oidc-provider.md; what a
# department does to connect: docs/sso.md.
from yiwang.accounts import oidc_keys  # noqa: E402  (settings reads the signing key before Django starts)

INSTALLED_APPS += ["yiwang.accounts.oauth_app.OAuthToolkitConfig"]  # django-oauth-toolkit, Chinese admin heading
# DOT's own default, named so that migrations of models pointing at client applications can be made.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"

# The issuer is the site's origin without a path, the prefix of the discovery
# document at /.well-known/openid-configuration. Derived from each request
# when unset; set it in production (e.g. https://zwfw.example.gov.cn) so that
# it never depends on a Host header.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().rstrip("/")
OIDC_RSA_PRIVATE_KEY = oidc_keys.signing_key(os.environ, VAR_DIR, production=PRODUCTION)
OIDC_TOKEN_SECONDS = 10 * 60

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": OIDC_ISSUER,
    "OIDC_RSA_PRIVATE_KEY": OIDC_RSA_PRIVATE_KEY,
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": oidc_keys.inactive_keys(os.environ),
    "OAUTH2_VALIDATOR_CLASS": "yiwang.accounts.oidc.YiwangOAuth2Validator",
    # What the consent page shows for each scope: plain words for citizens.
    "SCOPES": {
        "openid": _("确认是您本人登录（一个不含个人信息的用户编号）"),
        "profile": _("您的姓名和用户名"),
        "phone": _("您的完整手机号码，以及它是否已经验证"),
        "identity": _("您的证件类型、隐去中间数字的证件号码和实名认证等级"),
        "staff": _("您作为工作人员所在的部门和担任的角色"),
    },
    "DEFAULT_SCOPES": ["openid"],
    # Authorization code + PKCE (S256) for confidential and public clients;
    # no implicit, hybrid or password grants. Client credentials only for
    # department systems' service accounts (docs/service-accounts.md).
    "PKCE_REQUIRED": True,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post", "none"],
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if PRODUCTION else ["http", "https"],
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": OIDC_TOKEN_SECONDS,
    "ID_TOKEN_EXPIRE_SECONDS": OIDC_TOKEN_SECONDS,
    # A refresh token lives as long as a portal session, rotates on every use,
    # and replaying a used one revokes the whole family.
    "REFRESH_TOKEN_EXPIRE_SECONDS": SESSION_COOKIE_AGE,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # RFC 9700 (OAuth 2.0 Security Best Current Practice), all enforced.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": PRODUCTION,  # development allows http redirect URIs
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}


# Department systems (服务账号): after a planned rotation of a service account's
# secret, the previous one keeps working this long so the system can be
# redeployed; 0 ends it at once. A leaked secret is rotated "at once" instead.
SERVICE_ACCOUNT_SECRET_OVERLAP_HOURS = env_int(
    "YIWANG_SERVICE_ACCOUNT_SECRET_OVERLAP_HOURS", 24, minimum=0, maximum=7 * 24
)


def oidc_problems() -> list[str]:
    """Name every problem with the OpenID Connect provider settings (production checks)."""
    return oidc_keys.configuration_problems(os.environ, OIDC_RSA_PRIVATE_KEY, OIDC_ISSUER)


# --- end of OpenID Connect provider ---

# --- background worker and notifications ---
# `yiwang serve` starts one `yiwang worker` (outbox events, notifications)
# beside gunicorn; turn it off where workers run as a service of their own.
EMBEDDED_WORKER = env_bool("YIWANG_EMBEDDED_WORKER", True)
# Threads of the embedding engine and NumPy's BLAS in each web worker (yiwang.core.warmup): one, since the
# workers already use every core and pooled threads spinning for each other slowed searches (ADR 0012).
WORKER_COMPUTE_THREADS = env_int("YIWANG_WORKER_COMPUTE_THREADS", 1, minimum=1, maximum=64)
# The email channel uses Django's backend: SMTP in production, files under
# var/mail/ in development so that nothing leaves a developer's machine.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@yiwang.invalid")
# Origin used to make the links in emails absolute; none (path only) when unset.
SITE_URL = os.environ.get("YIWANG_SITE_URL", OIDC_ISSUER).strip().rstrip("/")
# --- end of background worker and notifications ---

# --- worker engine (docs/adr/0034-celery-worker.md) ---
# "embedded": `yiwang worker` (and the one `yiwang serve` starts) polls the outbox, the default.
# "celery": outbox events are published to a broker after commit and handled by Celery workers
# (`celery -A yiwang.celery_app worker --beat`, or `yiwang celery-worker`); yiwang serve starts no worker.
WORKER_ENGINES = ("embedded", "celery")
BROKER_SCHEMES = ("amqp", "amqps", "pyamqp", "redis", "rediss")
WORKER_ENGINE = os.environ.get("YIWANG_WORKER_ENGINE", "").strip().lower() or "embedded"
if WORKER_ENGINE not in WORKER_ENGINES:
    raise ImproperlyConfigured(
        f"YIWANG_WORKER_ENGINE must be one of {', '.join(WORKER_ENGINES)}, not {os.environ['YIWANG_WORKER_ENGINE']!r}"
    )
# The same variable /readyz checks (YIWANG_BROKER_URL, read with the readiness settings above).
BROKER_URL = YIWANG_BROKER_URL


def broker_url_problem(url: str) -> str | None:
    """Say why ``url`` cannot be the broker's address, or None when it can (a URL with no secret in the message)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "YIWANG_BROKER_URL is not a valid URL"
    if parts.scheme not in BROKER_SCHEMES:
        return f"YIWANG_BROKER_URL must start with one of {', '.join(s + '://' for s in BROKER_SCHEMES)}"
    if not parts.hostname:
        return "YIWANG_BROKER_URL must name the broker's host, e.g. amqp://user:password@127.0.0.1:5672//"
    if port == 0:
        return "YIWANG_BROKER_URL must not name port 0"
    return None


if WORKER_ENGINE == "celery" and not BROKER_URL:
    raise ImproperlyConfigured(
        "YIWANG_WORKER_ENGINE=celery needs YIWANG_BROKER_URL, e.g. amqp://guest:guest@127.0.0.1:5672//"
    )
# A broker URL is checked even while the embedded engine ignores it: switching engines must not find it wrong.
if BROKER_URL and (problem := broker_url_problem(BROKER_URL)):
    raise ImproperlyConfigured(problem)
# The queue the outbox's tasks go to: one name per deployment sharing a broker (and per test run).
CELERY_QUEUE = os.environ.get("YIWANG_CELERY_QUEUE", "").strip() or "yiwang"
if not all(c.isalnum() or c in "._-" for c in CELERY_QUEUE) or len(CELERY_QUEUE) > 100:
    raise ImproperlyConfigured("YIWANG_CELERY_QUEUE must be 1–100 letters, digits, '.', '_' or '-'")
# How often beat runs the relay sweep (due and undelivered outbox events, pending notifications).
OUTBOX_RELAY_SECONDS = env_int("YIWANG_OUTBOX_RELAY_SECONDS", 2, minimum=1, maximum=300)
if WORKER_ENGINE == "celery":
    # The embedded worker would poll the same outbox: with Celery, its workers and beat are the services.
    EMBEDDED_WORKER = False


def worker_engine_problems() -> list[str]:
    """Name every problem with the worker engine settings (production checks)."""
    from urllib.parse import urlsplit

    if WORKER_ENGINE != "celery":
        return []
    parts = urlsplit(BROKER_URL)
    if parts.username in (None, "", "guest") or not parts.password or parts.password == "guest":  # noqa: S105
        return ["YIWANG_BROKER_URL must carry a broker account of the deployment's own, not guest or none"]
    return []


# --- end of worker engine ---

# --- personal data ---
# Full personal-data reads one staff member may make per hour; beyond it they are refused (429) and the
# supervisors alerted (accounts.services.personal_data, docs/adr/0011).
YIWANG_PII_REVEALS_PER_HOUR = int(os.environ.get("YIWANG_PII_REVEALS_PER_HOUR", "30"))
# --- end of personal data ---

# --- e-archive (电子档案) ---
# Sealed packages of finished cases and e-receipts, and the Merkle log's level files (docs/adr/0018).
# Every app process must see the same directory (shared storage when there are several hosts).
YIWANG_ARCHIVE_DIR = Path(os.environ.get("YIWANG_ARCHIVE_DIR", VAR_DIR / "archive"))
# --- end of e-archive ---

# --- application materials (uploads) ---
# Checked by yiwang.core.uploads before they are kept; rules, limits and
# configuration: docs/uploads.md.
from typing import Any  # noqa: E402

YIWANG_UPLOAD_MAX_BYTES = int(os.environ.get("YIWANG_UPLOAD_MAX_BYTES", str(20 * 1024 * 1024)))
# ZIP containers (OFD): what unpacking one may produce, and how many entries it may hold.
YIWANG_UPLOAD_MAX_UNPACKED_BYTES = int(os.environ.get("YIWANG_UPLOAD_MAX_UNPACKED_BYTES", str(100 * 1024 * 1024)))
YIWANG_UPLOAD_MAX_ARCHIVE_ENTRIES = int(os.environ.get("YIWANG_UPLOAD_MAX_ARCHIVE_ENTRIES", "1000"))
YIWANG_UPLOAD_MAX_COMPRESSION_RATIO = int(os.environ.get("YIWANG_UPLOAD_MAX_COMPRESSION_RATIO", "100"))
# Virus scanning: a ClamAV daemon when CLAMD_ADDRESS (host:port or socket path)
# is set; otherwise, outside production only, the EICAR demo scanner so that
# the hook can be seen working. "none" switches scanning off (files are marked not
# scanned, never clean).
CLAMD_ADDRESS = os.environ.get("CLAMD_ADDRESS", "").strip()
CLAMD_TIMEOUT = float(os.environ.get("CLAMD_TIMEOUT", "30"))
EICAR_SCANNER = "yiwang.core.uploads.eicar_scan"
YIWANG_VIRUS_SCANNER = os.environ.get("YIWANG_VIRUS_SCANNER", "").strip() or (
    "yiwang.core.uploads.clamd_scan" if CLAMD_ADDRESS else EICAR_SCANNER if not PRODUCTION else ""
)


def _materials_storage() -> dict[str, Any]:
    """STORAGES["materials"]: a private directory under VAR_DIR, or an S3-compatible bucket."""
    kind = os.environ.get("YIWANG_MATERIALS_STORAGE", "").strip().lower() or "filesystem"
    if kind == "filesystem":
        # Deliberately no URL is served for it: files go out only through views that check permissions.
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": str(VAR_DIR / "materials"),
                "file_permissions_mode": 0o640,
                "directory_permissions_mode": 0o750,
            },
        }
    if kind != "s3":
        raise ImproperlyConfigured("YIWANG_MATERIALS_STORAGE must be 'filesystem' or 's3'")
    import importlib.util

    if importlib.util.find_spec("storages") is None or importlib.util.find_spec("boto3") is None:
        raise ImproperlyConfigured(
            "YIWANG_MATERIALS_STORAGE=s3 needs django-storages and boto3: pip install 'yiwang[s3]'"
        )
    bucket = os.environ.get("YIWANG_S3_BUCKET", "").strip()
    if not bucket:
        raise ImproperlyConfigured("YIWANG_MATERIALS_STORAGE=s3 needs YIWANG_S3_BUCKET")
    # Credentials and region come from the usual AWS_* variables, read by boto3 itself.
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "default_acl": None,  # private: objects inherit the bucket's policy, never public-read
        "querystring_auth": True,
        "file_overwrite": False,
    }
    endpoint = os.environ.get("YIWANG_S3_ENDPOINT_URL", "").strip()
    if endpoint:
        options["endpoint_url"] = endpoint
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES["materials"] = _materials_storage()


def materials_problems() -> list[str]:
    """Name every problem with the materials settings (production checks)."""
    if YIWANG_VIRUS_SCANNER == EICAR_SCANNER:
        return ["YIWANG_VIRUS_SCANNER must be a real scanner, not the EICAR demo scanner"]
    return []


# --- end of application materials (uploads) ---

# --- fee payment ---
# The gateway new payment orders use (yiwang.cases.payments). "sandbox" is the
# simulated gateway of yiwang.cases.sandbox_gateway: no money moves, so a real
# deployment must name a real provider once one is registered.
YIWANG_PAYMENT_PROVIDER = os.environ.get("YIWANG_PAYMENT_PROVIDER", "sandbox").strip() or "sandbox"
# Where the sandbox gateway sends its notices over HTTP, e.g.
# http://127.0.0.1:8000/payments/callback/sandbox/; empty: it calls the
# endpoint's function in the worker's own process.
YIWANG_PAYMENT_CALLBACK_URL = os.environ.get("YIWANG_PAYMENT_CALLBACK_URL", "").strip()
# --- end of fee payment ---

# Last, so that every check defined above (blocks included) is in force.
if PRODUCTION and (problems := insecure_settings()):
    raise ImproperlyConfigured("Refusing to start in production mode: " + "; ".join(problems))
