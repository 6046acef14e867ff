"""The RSA key that signs ID tokens (RS256), read by settings before Django starts.

Production takes the PEM from ``OIDC_RSA_PRIVATE_KEY`` (or the file named by
``OIDC_RSA_PRIVATE_KEY_FILE``) and refuses to start without a usable one.
Development generates a key once into ``VAR_DIR/oidc_rsa.pem`` (mode 600),
as settings does for ``SECRET_KEY``, so tokens stay valid across restarts.

Nothing here imports Django models: settings imports this module.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_ENV = "OIDC_RSA_PRIVATE_KEY"
KEY_FILE_ENV = "OIDC_RSA_PRIVATE_KEY_FILE"
INACTIVE_KEYS_ENV = "OIDC_RSA_PRIVATE_KEYS_INACTIVE"
DEVELOPMENT_KEY_FILE = "oidc_rsa.pem"
MIN_KEY_BITS = 2048
DEVELOPMENT_KEY_BITS = 2048
_PEM_BLOCK_RE = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


def _clean_pem(raw: str) -> str:
    # Some secret stores flatten newlines into a literal "\n".
    return raw.replace("\\n", "\n").strip()


def generate_private_key_pem(bits: int = DEVELOPMENT_KEY_BITS) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def key_problem(pem: str) -> str | None:
    """Explain what is wrong with a signing key PEM, or return None."""
    if not pem.strip():
        return f"{KEY_ENV} must hold the PEM of an RSA private key ({MIN_KEY_BITS} bits or more) to sign ID tokens"
    try:
        key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        return f"{KEY_ENV} is not an unencrypted PEM private key"
    if not isinstance(key, rsa.RSAPrivateKey):
        return f"{KEY_ENV} must be an RSA key (ID tokens are signed with RS256)"
    if key.key_size < MIN_KEY_BITS:
        return f"{KEY_ENV} must be at least {MIN_KEY_BITS} bits, not {key.key_size}"
    return None


def _development_key(var_dir: Path) -> str:
    # Several processes (gunicorn workers, xdist) may start at once on a fresh
    # var/: the key is written to a private temporary file and hard-linked into
    # place, which either creates the complete file or fails because another
    # process already did -- then its key is used, so every process signs with
    # the key the JWKS document publishes.
    path = var_dir / DEVELOPMENT_KEY_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(generate_private_key_pem())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def signing_key(environ: Mapping[str, str], var_dir: Path, *, production: bool) -> str:
    """The active signing key PEM: from the environment, else (development only) from ``var_dir``."""
    pem = _clean_pem(environ.get(KEY_ENV, ""))
    key_file = environ.get(KEY_FILE_ENV, "").strip()
    if not pem and key_file:
        try:
            pem = _clean_pem(Path(key_file).read_text())
        except OSError:
            pem = ""  # reported by key_problem() in production
    if pem or production:
        return pem
    return _development_key(var_dir)


def inactive_keys(environ: Mapping[str, str]) -> list[str]:
    """Retired keys, still published in the JWKS document while tokens they signed may be checked."""
    return _PEM_BLOCK_RE.findall(_clean_pem(environ.get(INACTIVE_KEYS_ENV, "")))


def configuration_problems(environ: Mapping[str, str], active_pem: str, issuer: str) -> list[str]:
    """Name every problem with the OpenID Connect settings as production would use them."""
    problems = []
    key_file = environ.get(KEY_FILE_ENV, "").strip()
    if key_file and not environ.get(KEY_ENV, "").strip() and not Path(key_file).is_file():
        problems.append(f"{KEY_FILE_ENV} names a file that cannot be read: {key_file}")
    if problem := key_problem(active_pem):
        problems.append(problem)
    for pem in inactive_keys(environ):
        if key_problem(pem):
            problems.append(f"{INACTIVE_KEYS_ENV} holds a key that is not a usable RSA private key")
            break
    if issuer and not issuer.startswith("https://"):
        problems.append("OIDC_ISSUER must be an https:// URL")
    return problems
