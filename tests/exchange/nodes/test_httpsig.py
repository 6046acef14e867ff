"""The RFC 9421 pieces against the RFC's own example, and the strict parsing of the signature headers."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from yiwang.exchange.nodes import httpsig, messages

# RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2.6 (signing a request using ed25519).
RFC_PRIVATE = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU="
RFC_PARAMS = (
    '("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
RFC_INPUT = f"sig-b26={RFC_PARAMS}"
RFC_SIGNATURE = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
RFC_VALUES = {
    "date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "@method": "POST",
    "@path": "/foo",
    "@authority": "example.com",
    "content-type": "application/json",
    "content-length": "18",
}
RFC_BASE = (
    """"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": """
    + RFC_PARAMS
)


def test_the_rfc_example_base_and_signature() -> None:
    params = httpsig.parse_signature_input(RFC_INPUT)["sig-b26"]
    base = httpsig.signature_base(params, RFC_VALUES)
    assert base == RFC_BASE
    key = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(RFC_PRIVATE))
    signature = httpsig.parse_byte_dictionary(RFC_SIGNATURE)["sig-b26"]
    assert httpsig.sign(key, base) == signature  # Ed25519 is deterministic
    assert httpsig.verify(key.public_key(), signature, base)
    assert not httpsig.verify(key.public_key(), signature, base.replace("/foo", "/bar"))


def test_the_rfc_9530_digest() -> None:
    # RFC 9530 §2 example: the body {"hello": "world"} followed by a newline.
    body = b'{"hello": "world"}\n'
    assert httpsig.content_digest(body) == "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
    assert httpsig.digest_matches("sha-512=:AAAA:, sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:", body)
    assert not httpsig.digest_matches("sha-256=:AAAA:", body)
    assert not httpsig.digest_matches("sha-256=AAAA", body)
    assert not httpsig.digest_matches(None, body)


def test_a_request_bound_component() -> None:
    params = httpsig.SignatureParams(
        (httpsig.Component("@status"), messages.REQUEST_SIGNATURE), (("created", 1), ("keyid", "a:b"))
    )
    base = httpsig.signature_base(params, {"@status": "200"}, {"signature": "sig0=:AAAA:, sig1=:AQID:"})
    assert base.splitlines()[1] == '"signature";req;key="sig1": :AQID:'
    assert base.endswith('("@status" "signature";req;key="sig1");created=1;keyid="a:b"')
    with pytest.raises(httpsig.SignatureFormatError):
        httpsig.signature_base(params, {"@status": "200"})


@pytest.mark.parametrize(
    "header",
    [
        'sig1=("@method" "@path"',
        'sig1=("@method");created=1;created=2',
        'sig1=("@method"),',
        'sig1=("@method" @path)',
        'sig1=("é")',
        "SIG1=()",
        'sig1=("a""b")',
    ],
)
def test_malformed_signature_inputs_are_refused(header: str) -> None:
    with pytest.raises(httpsig.SignatureFormatError):
        httpsig.parse_signature_input(header)


def test_several_members_and_whitespace() -> None:
    header = 'a=("x");created=1 ,  sig1=("@method" "content-digest");nonce="n";alg=ed25519'
    parsed = httpsig.parse_signature_input(header)
    # A token stays a token when the parameters are serialised again for the signature base.
    assert parsed["sig1"].serialize() == '("@method" "content-digest");nonce="n";alg=ed25519'
    assert parsed["sig1"].get("alg") == "ed25519"
    assert parsed["a"].get("created") == 1
    flags = httpsig.parse_signature_input('sig1=("signature";req;key="sig1");x=?0;y=?1')["sig1"]
    assert flags.serialize() == '("signature";req;key="sig1");x=?0;y'
    assert flags.components[0] == messages.REQUEST_SIGNATURE


def test_target_uri_is_normalised_the_same_on_both_ends() -> None:
    assert messages.target_uri("HTTP://Node-B.example:80/exchange/v1/messages") == (
        "http://node-b.example/exchange/v1/messages"
    )
    assert messages.target_uri("https://b.example:8443/x?y=1") == "https://b.example:8443/x?y=1"
    assert messages.target_uri("http://[::1]:8000/x") == "http://[::1]:8000/x"


def test_the_clock_window_is_inclusive_at_both_ends() -> None:
    messages.check_time(100, 30, now=130)
    messages.check_time(160, 30, now=130)
    with pytest.raises(messages.Refusal, match="过期") as old:
        messages.check_time(99, 30, now=130)
    assert old.value.code == "message_too_old"
    with pytest.raises(messages.Refusal) as future:
        messages.check_time(161, 30, now=130)
    assert future.value.code == "message_from_future"
