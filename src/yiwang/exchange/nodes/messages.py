"""Signed messages of the profile: building the headers of a request or response, and checking them.

A message here is its component values (``@method``, ``@target-uri`` or ``@status``, and lower-case header
fields) and its body bytes; HTTP itself is in :mod:`.services` and :mod:`.views`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import httpsig
from .constants import CODE_PATTERN, NONCE_PATTERN
from .httpsig import ALGORITHM, LABEL, Component, SignatureFormatError, SignatureParams
from .keys import Signer

_NONCE_RE = re.compile(NONCE_PATTERN)
_KEY_ID_RE = re.compile(rf"({CODE_PATTERN}):([0-9a-f]{{16}})")
REQUEST_SIGNATURE = Component("signature", (("req", True), ("key", LABEL)))


class Refusal(Exception):
    """A message that fails a check; ``code`` is one of constants.REFUSALS."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Signed:
    """The two signature headers of a message and the base they sign."""

    signature_input: str
    signature: str
    base: str


@dataclass(frozen=True)
class Checked:
    """A message whose signature headers parse: who claims to have signed it, when, with which nonce."""

    params: SignatureParams
    signature: bytes
    peer_code: str
    fingerprint: str
    created: int
    nonce: str


@functools.lru_cache(maxsize=256)
def target_uri(url: str) -> str:
    """``@target-uri`` as both ends compute it: scheme and host lower-case, the default port left out.

    A pure function of the URL, and a node sends to and answers at few of them: kept per process.
    """
    parts = urllib.parse.urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in {None, default} else f"{host}:{parts.port}"
    if ":" in host:  # an IPv6 literal keeps its brackets
        netloc = f"[{host}]" if parts.port in {None, default} else f"[{host}]:{parts.port}"
    return urllib.parse.urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def sign(
    signer: Signer,
    components: tuple[Component, ...],
    values: Mapping[str, str],
    *,
    tag: str,
    request_values: Mapping[str, str] | None = None,
    created: int | None = None,
    nonce: str | None = None,
) -> Signed:
    """Sign the components of a message with this node's key; the headers to send and the base signed."""
    params = SignatureParams(
        components,
        (
            ("created", int(time.time()) if created is None else created),
            ("nonce", nonce or new_nonce()),
            ("keyid", signer.key_id),
            ("alg", ALGORITHM),
            ("tag", tag),
        ),
    )
    base = httpsig.signature_base(params, values, request_values)
    signature = httpsig.sign(signer.private_key, base)
    return Signed(f"{LABEL}={params.serialize()}", f"{LABEL}={httpsig.serialize_bytes(signature)}", base)


def parse(signature_input: str | None, signature: str | None, *, tag: str, required: tuple[str, ...]) -> Checked:
    """The ``sig1`` signature of a message, with its key id, created time and nonce; a Refusal if malformed."""
    if not signature_input or not signature:
        raise Refusal("signature_missing", "缺少 Signature-Input 或 Signature 头")
    try:
        params = httpsig.parse_signature_input(signature_input).get(LABEL)
        value = httpsig.parse_byte_dictionary(signature).get(LABEL)
    except SignatureFormatError as exc:
        raise Refusal("signature_malformed", f"签名头格式不正确：{exc}") from exc
    if params is None or value is None:
        raise Refusal("signature_missing", f"签名头中没有 {LABEL}")
    covered = {component.name for component in params.components if not component.params}
    missing = [name for name in required if name not in covered]
    if missing:
        raise Refusal("signature_malformed", f"签名未覆盖 {', '.join(missing)}")
    created, nonce, key_id = params.get("created"), params.get("nonce"), params.get("keyid")
    if params.get("alg") not in {None, ALGORITHM} or params.get("tag") != tag:
        raise Refusal("signature_malformed", f"签名的 alg 须为 {ALGORITHM}、tag 须为 {tag}")
    if not isinstance(created, int) or isinstance(created, bool):
        raise Refusal("signature_malformed", "签名须带 created（整数）")
    if not isinstance(nonce, str) or not _NONCE_RE.fullmatch(nonce):
        raise Refusal("signature_malformed", "签名须带 nonce（16–64 个字母、数字、_ 或 -）")
    match = _KEY_ID_RE.fullmatch(key_id) if isinstance(key_id, str) else None
    if match is None:
        raise Refusal("signature_malformed", "keyid 须形如 <节点代码>:<16 位十六进制指纹>")
    return Checked(params, value, match.group(1), match.group(2), created, nonce)


def check_time(created: int, skew: int, now: float | None = None) -> None:
    """Refuse a created time outside ``now ± skew`` seconds."""
    current = time.time() if now is None else now
    if created < current - skew:
        raise Refusal("message_too_old", f"消息时间早于本节点时间 {skew} 秒以上（已过期或被重放）")
    if created > current + skew:
        raise Refusal("message_from_future", f"消息时间晚于本节点时间 {skew} 秒以上（时钟不同步）")


def check_signature(
    checked: Checked,
    public_key: Ed25519PublicKey,
    values: Mapping[str, str],
    request_values: Mapping[str, str] | None = None,
) -> str:
    """Verify the signature over the message; the base it covers, or a Refusal."""
    try:
        base = httpsig.signature_base(checked.params, values, request_values)
    except SignatureFormatError as exc:
        raise Refusal("signature_malformed", f"无法构造签名基串：{exc}") from exc
    if not httpsig.verify(public_key, checked.signature, base):
        raise Refusal("bad_signature", "签名验证失败（消息被篡改，或签名密钥不符）")
    return base


def signature_text(checked_or_header: Checked | str) -> str:
    """The signature as the log keeps it: Base64 of the raw bytes."""
    if isinstance(checked_or_header, Checked):
        return base64.b64encode(checked_or_header.signature).decode("ascii")
    value = httpsig.parse_byte_dictionary(checked_or_header).get(LABEL, b"")
    return base64.b64encode(value).decode("ascii")
