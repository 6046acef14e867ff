"""The worked example in docs/exchange-nodes.md is what the code signs and accepts, byte for byte."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from yiwang.exchange.nodes import httpsig, keys, messages
from yiwang.exchange.nodes.constants import REQUEST_COMPONENTS, REQUEST_TAG

DOC = Path(__file__).resolve().parents[3] / "docs" / "exchange-nodes.md"
RFC_TEST_KEY = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU="  # RFC 9421 B.1.4, test-key-ed25519


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)\n```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_worked_example_verifies_and_its_base_is_the_codes() -> None:
    head, body = _blocks("http")[0].split("\n\n", 1)
    headers = {}
    for line in head.splitlines()[1:]:
        name, value = line.split(":", 1)
        headers[name.lower()] = value.strip()
    target = f"https://{headers['host']}{head.splitlines()[0].split()[1]}"
    assert httpsig.digest_matches(headers["content-digest"], body.encode())
    checked = messages.parse(
        headers["signature-input"], headers["signature"], tag=REQUEST_TAG, required=REQUEST_COMPONENTS
    )
    private = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(RFC_TEST_KEY))
    values = {"@method": "POST", "@target-uri": target, **headers}
    base = messages.check_signature(checked, private.public_key(), values)
    assert base == next(block for block in _blocks("text") if block.startswith('"@method"'))
    # And the code, given the same key, time and nonce, writes the same signature.
    public = base64.b64decode("JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=")
    signer = keys.Signer("gd-node", keys.fingerprint(public), private, public)
    assert signer.key_id == "gd-node:b16c2d1bead12626" == f"{checked.peer_code}:{checked.fingerprint}"
    components = tuple(httpsig.Component(name) for name in REQUEST_COMPONENTS)
    signed = messages.sign(signer, components, values, tag=REQUEST_TAG, created=checked.created, nonce=checked.nonce)
    assert (signed.signature_input, signed.signature) == (headers["signature-input"], headers["signature"])
