"""Writing a peer's signed request by hand, posting it with the test client, and checking the signed answer."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.test import Client

from yiwang.exchange.nodes import httpsig, keys, messages
from yiwang.exchange.nodes.constants import MESSAGES_PATH, REQUEST_COMPONENTS, REQUEST_TAG, RESPONSE_TAG
from yiwang.exchange.nodes.httpsig import Component
from yiwang.exchange.nodes.messages import REQUEST_SIGNATURE
from yiwang.exchange.nodes.services import canonical_body

from .conftest import NODE, SERVER


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes


def signed_request(
    signer: keys.Signer,
    body: dict[str, Any] | None = None,
    *,
    kind: str = "ping",
    to: str = NODE,
    created: int | None = None,
    nonce: str | None = None,
) -> Request:
    payload = canonical_body(body if body is not None else {"echo": "你好"})
    headers = {
        "content-type": "application/json",
        "content-digest": httpsig.content_digest(payload),
        "exchange-from": signer.node_code,
        "exchange-to": to,
        "exchange-kind": kind,
        "exchange-message-id": uuid.uuid4().hex,
    }
    values = {"@method": "POST", "@target-uri": SERVER + MESSAGES_PATH, **headers}
    components = tuple(Component(name) for name in REQUEST_COMPONENTS)
    signed = messages.sign(signer, components, values, tag=REQUEST_TAG, created=created, nonce=nonce)
    return Request({**headers, "signature-input": signed.signature_input, "signature": signed.signature}, payload)


def post(client: Client, request: Request) -> Any:
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in request.headers.items()}
    extra.pop("HTTP_CONTENT_TYPE", None)
    return client.post(MESSAGES_PATH, request.body, content_type=request.headers.get("content-type", ""), **extra)


def answer_of(response: Any) -> dict[str, Any]:
    return dict(json.loads(response.content))


def answer_verifies(response: Any, responder: Ed25519PublicKey, request: Request, *, bound: bool = True) -> bool:
    """The answer's signature checks out with the responder's key (and, if ``bound``, covers our request's)."""
    headers = {name.lower(): value for name, value in response.headers.items()}
    checked = messages.parse(
        headers.get("signature-input"), headers.get("signature"), tag=RESPONSE_TAG, required=("@status",)
    )
    if bound != (REQUEST_SIGNATURE in checked.params.components):
        return False
    if not httpsig.digest_matches(headers.get("content-digest"), response.content):
        return False
    values = {"@status": str(response.status_code), **headers}
    try:
        messages.check_signature(checked, responder, values, {"signature": request.headers.get("signature", "")})
    except messages.Refusal:
        return False
    return True
