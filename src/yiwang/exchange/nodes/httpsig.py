"""The part of RFC 9421 (HTTP Message Signatures) and RFC 9530 (Content-Digest) the node exchange uses.

Pure functions over plain values, no Django: the profile in docs/exchange-nodes.md is one signature,
labelled ``sig1``, Ed25519, with a fixed list of covered components per message type. Parsing is strict
and covers only the Structured Field (RFC 8941) shapes that appear in ``Signature-Input``, ``Signature``
and ``Content-Digest``: dictionaries whose members are inner lists of strings with parameters, or byte
sequences; parameters are integers, strings or tokens. Anything else is refused as malformed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

LABEL = "sig1"
ALGORITHM = "ed25519"


class Token(str):
    """A Structured Field token (``ed25519`` unquoted): serialised bare, unlike a string."""

    __slots__ = ()


ParamValue = bool | int | str
Params = tuple[tuple[str, ParamValue], ...]


class SignatureFormatError(ValueError):
    """A header is missing or is not in the shape the profile allows."""


@dataclass(frozen=True)
class Component:
    """A covered component identifier: a lower-case name with its parameters (``"signature";req;key="sig1"``)."""

    name: str
    params: Params = ()

    def serialize(self) -> str:
        return _serialize_component(self)


@dataclass(frozen=True)
class SignatureParams:
    """One ``Signature-Input`` member: the covered components in order and the parameters in order."""

    components: tuple[Component, ...]
    params: Params

    def serialize(self) -> str:
        return f"({_serialize_components(self.components)}){_serialize_params(self.params)}"

    def get(self, name: str) -> ParamValue | None:
        return next((value for key, value in self.params if key == name), None)


# --- Structured Field serialisation (RFC 8941 §4.1), for the shapes above ----------------------------------

_TOKEN_RE = re.compile(r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*")
_KEY_RE = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_INT_RE = re.compile(r"-?[0-9]{1,15}")
_PRINTABLE_RE = re.compile(r"[\x20-\x7e]*")
_PLAIN_STRING_RE = re.compile(r'"([\x20\x21\x23-\x5b\x5d-\x7e]*)"')


def _serialize_string(value: str) -> str:
    if not _PRINTABLE_RE.fullmatch(value):
        raise SignatureFormatError("structured-field strings are printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Every message covers one of two fixed component lists: their serialisation is computed once per process.
# The cache key carries each parameter's type, since True == 1 and Token("a") == "a" serialise differently.
def _typed(components: tuple[Component, ...]) -> tuple[tuple[str, tuple[tuple[str, type, ParamValue], ...]], ...]:
    return tuple((c.name, tuple((key, type(value), value) for key, value in c.params)) for c in components)


@functools.lru_cache(maxsize=64)
def _serialize_typed(typed: tuple[tuple[str, tuple[tuple[str, type, ParamValue], ...]], ...]) -> str:
    return " ".join(
        _serialize_string(name) + _serialize_params(tuple((key, value) for key, _type, value in params))
        for name, params in typed
    )


def _serialize_component(component: Component) -> str:
    return _serialize_typed(_typed((component,)))


def _serialize_components(components: tuple[Component, ...]) -> str:
    return _serialize_typed(_typed(components))


def _serialize_params(params: Params) -> str:
    out = []
    for key, value in params:
        if value is True:
            out.append(f";{key}")
        elif value is False:
            out.append(f";{key}=?0")
        elif isinstance(value, int):
            out.append(f";{key}={value}")
        elif isinstance(value, Token):
            if not _TOKEN_RE.fullmatch(value):
                raise SignatureFormatError(f"parameter {key} is not a token")
            out.append(f";{key}={value}")
        else:
            out.append(f";{key}={_serialize_string(value)}")
    return "".join(out)


def serialize_bytes(value: bytes) -> str:
    return ":" + base64.b64encode(value).decode("ascii") + ":"


# --- Structured Field parsing (RFC 8941 §4.2), the same shapes ---------------------------------------------


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise SignatureFormatError(f"expected {char!r} at position {self.pos}")
        self.pos += 1

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def skip_ows(self) -> None:
        while self.peek() in {" ", "\t"} and self.peek():
            self.pos += 1

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        found = pattern.match(self.text, self.pos)
        if not found:
            raise SignatureFormatError(f"expected {what} at position {self.pos}")
        self.pos = found.end()
        return found.group(0)

    def string(self) -> str:
        plain = _PLAIN_STRING_RE.match(self.text, self.pos)
        if plain:  # no escapes: the usual case, in one step
            self.pos = plain.end()
            return plain.group(1)
        self.expect('"')
        out = []
        while True:
            char = self.peek()
            if not char:
                raise SignatureFormatError("unterminated string")
            self.pos += 1
            if char == "\\":
                escaped = self.peek()
                if escaped not in {'"', "\\"}:
                    raise SignatureFormatError("bad escape in string")
                out.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(out)
            elif not 0x20 <= ord(char) <= 0x7E:
                raise SignatureFormatError("strings are printable ASCII")
            else:
                out.append(char)

    def byte_sequence(self) -> bytes:
        self.expect(":")
        end = self.text.find(":", self.pos)
        if end < 0:
            raise SignatureFormatError("unterminated byte sequence")
        raw = self.text[self.pos : end]
        self.pos = end + 1
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SignatureFormatError("byte sequence is not base64") from exc

    def bare_item(self) -> ParamValue:
        char = self.peek()
        if char == '"':
            return self.string()
        if char == "-" or char.isdigit():
            return int(self.match(_INT_RE, "an integer"))
        if char == "?":
            self.pos += 1
            flag = self.peek()
            if flag not in {"0", "1"}:
                raise SignatureFormatError("a boolean is ?0 or ?1")
            self.pos += 1
            return flag == "1"
        return Token(self.match(_TOKEN_RE, "a token"))

    def params(self) -> Params:
        out: list[tuple[str, ParamValue]] = []
        while self.peek() == ";":
            self.pos += 1
            self.skip_spaces()
            key = self.match(_KEY_RE, "a parameter name")
            value: ParamValue = True  # a bare key is boolean true
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            if any(existing == key for existing, _ in out):
                raise SignatureFormatError(f"parameter {key} appears twice")
            out.append((key, value))
        return tuple(out)


def _dictionary(header: str, member: Callable[[_Reader], object]) -> dict[str, object]:
    reader = _Reader(header.strip(" \t"))
    out: dict[str, object] = {}
    while reader.peek():
        key = reader.match(_KEY_RE, "a dictionary key")
        reader.expect("=")
        out[key] = member(reader)
        reader.skip_ows()
        if not reader.peek():
            break
        reader.expect(",")
        reader.skip_ows()
        if not reader.peek():
            raise SignatureFormatError("trailing comma")
    return out


def _inner_list(reader: _Reader) -> SignatureParams:
    reader.expect("(")
    components: list[Component] = []
    while True:
        reader.skip_spaces()
        if reader.peek() == ")":
            reader.pos += 1
            break
        name = reader.string()
        components.append(Component(name, reader.params()))
        if reader.peek() not in {" ", ")"}:
            raise SignatureFormatError("components are separated by spaces")
    return SignatureParams(tuple(components), reader.params())


def _byte_member(reader: _Reader) -> bytes:
    value = reader.byte_sequence()
    reader.params()  # parameters on a digest or signature carry nothing in this profile
    return value


def parse_signature_input(header: str) -> dict[str, SignatureParams]:
    """The members of a ``Signature-Input`` header by label."""
    return {key: value for key, value in _dictionary(header, _inner_list).items() if isinstance(value, SignatureParams)}


def parse_byte_dictionary(header: str) -> dict[str, bytes]:
    """The members of a ``Signature`` or ``Content-Digest`` header (byte sequences) by key."""
    return {key: value for key, value in _dictionary(header, _byte_member).items() if isinstance(value, bytes)}


# --- Content-Digest (RFC 9530) ------------------------------------------------------------------------------


def content_digest(body: bytes) -> str:
    """The ``Content-Digest`` header value for ``body``: ``sha-256=:<base64>:``."""
    return "sha-256=" + serialize_bytes(hashlib.sha256(body).digest())


def digest_matches(header: str | None, body: bytes) -> bool:
    """True when ``header`` carries a sha-256 member equal to the body's digest (other algorithms ignored)."""
    if not header:
        return False
    try:
        members = parse_byte_dictionary(header)
    except SignatureFormatError:
        return False
    expected = members.get("sha-256")
    return expected is not None and expected == hashlib.sha256(body).digest()


# --- The signature base (RFC 9421 §2.5) ---------------------------------------------------------------------


def signature_base(
    params: SignatureParams, values: Mapping[str, str], request_values: Mapping[str, str] | None = None
) -> str:
    """The signature base: one ``"<component>": <value>`` line per covered component, then the parameters line.

    ``values`` holds the message's component values by name: derived components (``@method``,
    ``@target-uri``, ``@status``…) as RFC 9421 §2.2 defines them, header fields by their lower-case name
    with their value already trimmed (and several lines joined by ``", "``). A component with the ``req``
    parameter is taken from ``request_values`` (the request a response answers); with ``key`` it is that
    member of a dictionary field, re-serialised. A missing value makes the base impossible to build.
    """
    lines = []
    seen = set()
    for component in params.components:
        identifier = component.serialize()
        if identifier in seen:
            raise SignatureFormatError(f"component {identifier} is covered twice")
        seen.add(identifier)
        lines.append(f"{identifier}: {_component_value(component, values, request_values)}")
    lines.append(f'"@signature-params": {params.serialize()}')
    return "\n".join(lines)


def _component_value(component: Component, values: Mapping[str, str], request_values: Mapping[str, str] | None) -> str:
    names = {key for key, _ in component.params}
    if names - {"req", "key"}:
        raise SignatureFormatError(f"component parameters {sorted(names - {'req', 'key'})} are not supported")
    source = values
    if "req" in names:
        if request_values is None:
            raise SignatureFormatError("a request component in a message that answers no request")
        source = request_values
    raw = source.get(component.name)
    if raw is None:
        raise SignatureFormatError(f"the message has no {component.name}")
    key = dict(component.params).get("key")
    if key is None:
        return raw
    if not isinstance(key, str):
        raise SignatureFormatError("the key parameter is a string")
    member = parse_byte_dictionary(raw).get(key)
    if member is None:
        raise SignatureFormatError(f"{component.name} has no member {key}")
    return serialize_bytes(member)


def sign(private_key: Ed25519PrivateKey, base: str) -> bytes:
    """Ed25519 signature over the UTF-8 signature base (RFC 9421 §3.3.6)."""
    return private_key.sign(base.encode("utf-8"))


def verify(public_key: Ed25519PublicKey, signature: bytes, base: str) -> bool:
    """True when ``signature`` is the key's Ed25519 signature of ``base``."""
    try:
        public_key.verify(signature, base.encode("utf-8"))
    except InvalidSignature:
        return False
    return True
