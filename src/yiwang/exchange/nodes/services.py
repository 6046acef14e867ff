"""The node exchange's public face: send a signed message to a peer, answer inbound ones, manage peers, check the log.

Other code uses :func:`send` and :func:`register_handler`; the wire format is docs/exchange-nodes.md and
the decisions behind it ADR 0026. Every message sent or received, refusals included, goes into the hash-
chained log (:mod:`.log`) on this node, as the peer's copy goes into its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import http.client
import json
import logging
import os
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db import connection as db
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yiwang.core.problems import ServiceError

from . import httpsig, keys, log, messages
from .constants import (
    CODE_PATTERN,
    CONTENT_TYPE,
    FROM_HEADER,
    HANDLER_REFUSAL_STATUS,
    IN_REPLY_TO_HEADER,
    KIND_HEADER,
    KIND_PATTERN,
    MESSAGE_ID_HEADER,
    MESSAGES_PATH,
    OK,
    PING,
    REFUSALS,
    REQUEST_COMPONENTS,
    REQUEST_TAG,
    RESPONSE_COMPONENTS,
    RESPONSE_TAG,
    TO_HEADER,
)
from .httpsig import Component
from .messages import REQUEST_SIGNATURE, Refusal
from .models import Direction, MessageType, Peer, SeenNonce

logger = logging.getLogger(__name__)

_CODE_RE = re.compile(CODE_PATTERN)
_KIND_RE = re.compile(KIND_PATTERN)
_TOKEN_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# Seen nonces older than twice the clock window can be forgotten: their messages are refused as too old.
_PURGE_EVERY = 500


@dataclass(frozen=True)
class PeerInfo:
    """A registered peer as handlers and callers see it."""

    code: str
    name: str
    base_url: str
    fingerprint: str


@dataclass(frozen=True)
class NodeIdentity:
    """What a peer's administrator registers for this node: its code, its key id and public key (Base64)."""

    code: str
    key_id: str
    fingerprint: str
    public_key: str


@dataclass(frozen=True)
class Inbound:
    """An inbound HTTP request as the receiver sees it; ``headers`` by lower-case name."""

    method: str
    target_uri: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Outbound:
    """The signed answer to send back."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class _ActivePeer:
    """A peer as the hot path reads it (one row, no model instance built)."""

    code: str
    name: str
    base_url: str
    public_key: bytes
    fingerprint: str


class ExchangeError(ServiceError):
    """A message to a peer that did not get a trustworthy answer.

    ``peer_unknown``: no active peer with that code; ``peer_unreachable``: no HTTP answer (refused
    connection, timeout); ``peer_bad_signature``: the answer is not signed by the peer's registered key
    for this request; ``peer_refused``: the peer answered, signed, that it refuses (``reason`` holds its
    code, e.g. ``unknown_kind`` or ``replayed``).
    """

    status = 502
    statuses: ClassVar[Mapping[str, int]] = {"peer_unknown": 404, "bad_message": 400}


Handler = Callable[[PeerInfo, dict[str, Any]], dict[str, Any]]
_handlers: dict[str, Handler] = {}
_handlers_lock = threading.Lock()
_nonce_count = 0


# --- identity and peers -------------------------------------------------------------------------------------


def identity() -> NodeIdentity:
    """This node's code and public key, creating its signing key on first use."""
    signer = keys.signer()
    public = base64.b64encode(signer.public_key).decode()
    return NodeIdentity(signer.node_code, signer.key_id, signer.fingerprint, public)


def add_peer(code: str, base_url: str, public_key: str, *, name: str = "") -> PeerInfo:
    """Register (or update) a peer: its code, the base URL it answers at, and its Base64 Ed25519 public key."""
    if not _CODE_RE.fullmatch(code):
        raise ExchangeError("bad_message", _("节点代码只能包含字母、数字、点、下划线和连字符"), field="code")
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ExchangeError("bad_message", _("节点地址须为 http:// 或 https:// 开头的网址"), field="base_url")
    try:
        raw = keys.decode_public_key(public_key)
    except ValueError as exc:
        raise ExchangeError("bad_message", _("公钥须为 32 字节 Ed25519 公钥的 Base64"), field="public_key") from exc
    with transaction.atomic():
        peer, _created = Peer.objects.update_or_create(
            code=code,
            defaults={
                "base_url": base_url.rstrip("/"),
                "public_key": raw,
                "fingerprint": keys.fingerprint(raw),
                "name": name,
                "active": True,
            },
        )
    return _info(peer)


def deactivate_peer(code: str) -> bool:
    """Stop exchanging with a peer (its messages are refused as from an unknown key); False if none."""
    return Peer.objects.filter(code=code, active=True).update(active=False) > 0


def peers() -> list[PeerInfo]:
    """The active peers, by code."""
    return [_info(peer) for peer in Peer.objects.filter(active=True).order_by("code")]


def _info(peer: Peer | _ActivePeer) -> PeerInfo:
    return PeerInfo(peer.code, peer.name, peer.base_url, peer.fingerprint)


# --- handlers ----------------------------------------------------------------------------------------------


def register_handler(kind: str, handler: Handler) -> None:
    """Answer inbound messages of ``kind`` with ``handler(peer, body) -> dict``.

    The handler runs after the message's signature, time, nonce and recipient are checked; what it
    returns is the ``result`` of the signed answer. A :class:`ServiceError` it raises becomes a signed
    refusal with the error's code; registering a kind again replaces its handler.
    """
    if not _KIND_RE.fullmatch(kind):
        raise ValueError(f"message kinds match {KIND_PATTERN}, not {kind!r}")
    with _handlers_lock:
        _handlers[kind] = handler


def _ping(peer: PeerInfo, body: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True, "node": keys.node_code(), "from": peer.code, "echo": body.get("echo")}


def register_builtin_handlers() -> None:
    register_handler(PING, _ping)


# --- sending -----------------------------------------------------------------------------------------------


# json.dumps(…, ensure_ascii=False, sort_keys=True, separators=(",", ":")), one encoder for every message.
_encode_body = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def canonical_body(body: Mapping[str, Any]) -> bytes:
    """The bytes a JSON body travels as: sorted keys, no spaces, UTF-8."""
    return _encode_body(body).encode("utf-8")


def send(peer_code: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Send ``body`` as a message of ``kind`` to the peer, signed; return the ``result`` of its signed answer.

    Raises :class:`ExchangeError` (``peer_unknown``, ``peer_unreachable``, ``peer_bad_signature``,
    ``peer_refused``, ``bad_message``). Both the request and the answer are logged, whatever the outcome.
    """
    peer = _active_peer(peer_code)
    if peer is None:
        raise ExchangeError("peer_unknown", _("未登记或已停用的交换节点：%(code)s") % {"code": peer_code})
    if not _KIND_RE.fullmatch(kind):
        raise ExchangeError("bad_message", _("消息种类格式不正确：%(kind)s") % {"kind": kind}, field="kind")
    try:
        payload = canonical_body(body)
    except (TypeError, ValueError) as exc:
        raise ExchangeError("bad_message", _("消息体须为 JSON 对象"), field="body") from exc
    signer = keys.signer()
    url = peer.base_url + MESSAGES_PATH
    message_id = uuid.uuid4().hex
    headers = {
        "content-type": CONTENT_TYPE,
        "content-digest": httpsig.content_digest(payload),
        FROM_HEADER: signer.node_code,
        TO_HEADER: peer.code,
        KIND_HEADER: kind,
        MESSAGE_ID_HEADER: message_id,
    }
    values = {"@method": "POST", "@target-uri": messages.target_uri(url), **headers}
    signed = messages.sign(signer, tuple(Component(name) for name in REQUEST_COMPONENTS), values, tag=REQUEST_TAG)
    sent = log.Message(
        Direction.SENT,
        MessageType.REQUEST,
        peer.code,
        message_id,
        kind,
        messages.body_digest(payload),
        signed.base,
        messages.signature_text(signed.signature),
        OK,
    )
    try:
        status, answer_headers, answer = _post(
            url, {**headers, "signature-input": signed.signature_input, "signature": signed.signature}, payload
        )
    except (OSError, http.client.HTTPException) as exc:
        log.append([_with_outcome(sent, "peer_unreachable")])
        raise ExchangeError(
            "peer_unreachable", _("交换节点 %(code)s 无法连接：%(error)s") % {"code": peer.code, "error": exc}
        ) from exc
    return _take_answer(peer, signer, sent, signed.signature, status, answer_headers, answer)


def _take_answer(
    peer: _ActivePeer,
    signer: keys.Signer,
    sent: log.Message,
    request_signature: str,
    status: int,
    headers: Mapping[str, str],
    answer: bytes,
) -> dict[str, Any]:
    received = log.Message(
        Direction.RECEIVED,
        MessageType.RESPONSE,
        peer.code,
        _token(headers.get(MESSAGE_ID_HEADER)),
        sent.kind,
        messages.body_digest(answer),
        "",
        "",
        OK,
    )
    try:
        checked = messages.parse(
            headers.get("signature-input"), headers.get("signature"), tag=RESPONSE_TAG, required=RESPONSE_COMPONENTS
        )
        received = _with_signature(received, "", messages.signature_text(checked))
        base = _check_answer(peer, signer, sent, checked, status, headers, answer, request_signature)
        received = _with_signature(received, base, received.signature)
        envelope = _json_object(answer)
    except Refusal as refusal:
        log.append([_with_outcome(sent, "peer_bad_signature"), _with_outcome(received, refusal.code)])
        raise ExchangeError(
            "peer_bad_signature",
            _("交换节点 %(code)s 的应答未通过验证：%(detail)s") % {"code": peer.code, "detail": refusal.detail},
        ) from None
    if status == 200 and envelope.get("ok") is True and isinstance(envelope.get("result"), dict):
        log.append([sent, received])
        return dict(envelope["result"])
    reason = _token(str(envelope.get("code") or "refused"))
    log.append([_with_outcome(sent, reason), received])
    raise ExchangeError(
        "peer_refused",
        _("交换节点 %(code)s 拒绝了请求：%(detail)s") % {"code": peer.code, "detail": envelope.get("detail") or reason},
        reason=reason,
    )


def _check_answer(
    peer: _ActivePeer,
    signer: keys.Signer,
    sent: log.Message,
    checked: messages.Checked,
    status: int,
    headers: Mapping[str, str],
    answer: bytes,
    request_signature: str,
) -> str:
    if checked.peer_code != peer.code or checked.fingerprint != peer.fingerprint:
        raise Refusal("unknown_key", f"应答的签名密钥 {checked.peer_code}:{checked.fingerprint} 不是该节点登记的密钥")
    messages.check_time(checked.created, int(settings.YIWANG_EXCHANGE_CLOCK_SKEW_SECONDS))
    if not httpsig.digest_matches(headers.get("content-digest"), answer):
        raise Refusal("digest_mismatch", "应答的 Content-Digest 与应答体不符")
    if REQUEST_SIGNATURE not in checked.params.components:
        raise Refusal("signature_malformed", "应答的签名未绑定本请求的签名")
    values = {"@status": str(status), **headers}
    base = messages.check_signature(checked, _public(peer), values, {"signature": request_signature})
    if headers.get(FROM_HEADER) != peer.code or headers.get(TO_HEADER) != signer.node_code:
        raise Refusal("wrong_recipient", "应答的发送方或接收方与本请求不符")
    if headers.get(IN_REPLY_TO_HEADER) != sent.message_id:
        raise Refusal("wrong_recipient", "应答所答复的消息编号与本请求不符")
    return base


def _post(url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    """POST over HTTP(S) on a kept-alive connection to the peer; the status, headers (lower-case, joined), body.

    A connection that was idle in the pool may have been closed by the peer meanwhile; when sending on
    one fails before any answer arrives, the message goes once more on a new connection. That is safe:
    had the peer taken the first copy, it refuses the second as replayed (same nonce), signed.
    """
    key, target = _address(url)
    connection, reused = _connections.take(key)
    try:
        try:
            return _exchange_on(connection, key, target, headers, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            if not reused:
                raise
        connection.close()
        connection = _connections.new(key)
        return _exchange_on(connection, key, target, headers, body)
    except BaseException:
        connection.close()
        raise


@functools.lru_cache(maxsize=256)
def _address(url: str) -> tuple[tuple[str, str, int | None], str]:
    """The pool key (scheme, host, port) of a peer URL and the request target on it."""
    parts = urllib.parse.urlsplit(url)
    return (parts.scheme, parts.hostname or "", parts.port), parts.path + (f"?{parts.query}" if parts.query else "")


def _exchange_on(
    connection: http.client.HTTPConnection,
    key: tuple[str, str, int | None],
    target: str,
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[int, dict[str, str], bytes]:
    connection.request("POST", target, body, dict(headers))
    response = connection.getresponse()
    data = response.read(MAX_RESPONSE_BYTES + 1)
    if len(data) > MAX_RESPONSE_BYTES or not response.isclosed():
        raise http.client.HTTPException("response too large")
    joined = dict(response.getheaders())  # lower-case names, repeated fields joined (_Response)
    if response.will_close:
        connection.close()
    else:
        _connections.give_back(key, connection)
    return response.status, joined, data


class _Fields:
    """An answer's header fields by lower-case name, repeated ones joined by ", " (RFC 9110 §5.3)."""

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._fields.get(name.lower(), default)

    def get_all(self, name: str, default: list[str] | None = None) -> list[str] | None:
        value = self._fields.get(name.lower())
        return default if value is None else [value]

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields.items())


class _Response(http.client.HTTPResponse):
    """http.client's response, with the header block split by hand.

    ``http.client.parse_headers`` runs the block through the e-mail parser: about 150 µs for an answer's
    twenty fields, against some 25 µs here, on every message sent. The framing is decided as http.client
    decides it (chunked transfer coding, Content-Length, ``Connection: close``, HTTP/1.0), and the block is
    held to http.client's limits on line length and number of fields.
    """

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            self._read_fields()  # the header block of a 100 (Continue), skipped
        if version in {"HTTP/1.0", "HTTP/0.9"}:
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.code = self.status = status
        self.reason = reason.strip()
        fields = self._read_fields()
        self.headers = self.msg = _Fields(fields)
        self.chunked = fields.get("transfer-encoding", "").lower() == "chunked"
        self.chunk_left = None
        connection = fields.get("connection", "").lower()
        self.will_close = "close" in connection or (
            self.version == 10 and "keep-alive" not in connection and "keep-alive" not in fields
        )
        self.length = None
        length = fields.get("content-length")
        if length and not self.chunked and length.isdigit():
            self.length = int(length)
        if status in {http.client.NO_CONTENT, http.client.NOT_MODIFIED} or 100 <= status < 200:
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True

    def _read_fields(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        name = ""
        for count in range(_MAX_FIELDS + 1):
            line = self.fp.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                raise http.client.LineTooLong("header line")
            if line in {b"\r\n", b"\n", b""}:
                return fields
            if count == _MAX_FIELDS:
                break
            text = line.decode("iso-8859-1")
            if text[0] in " \t" and name:  # an obsolete folded continuation of the field before
                fields[name] = f"{fields[name]} {text.strip()}"
                continue
            raw_name, colon, value = text.partition(":")
            name = raw_name.strip().lower()
            if not colon or not name:
                raise http.client.HTTPException("malformed header line")
            value = value.strip()
            fields[name] = f"{fields[name]}, {value}" if name in fields else value
        raise http.client.HTTPException(f"got more than {_MAX_FIELDS} headers")


_MAX_LINE = 65536  # http.client's _MAXLINE
_MAX_FIELDS = 100  # http.client's _MAXHEADERS


class _ConnectionPool:
    """Idle HTTP connections per peer address, shared by the threads of this process (kept alive by the peer)."""

    MAX_IDLE = 8

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int | None], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self, key: tuple[str, str, int | None]) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection to ``key`` and True, else a new one and False."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child never shares its parent's sockets
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        return self.new(key), False

    def new(self, key: tuple[str, str, int | None]) -> http.client.HTTPConnection:
        scheme, host, port = key
        timeout = float(settings.YIWANG_EXCHANGE_TIMEOUT_SECONDS)
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=timeout)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.response_class = _Response
        return connection

    def give_back(self, key: tuple[str, str, int | None], connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.MAX_IDLE and self._pid == os.getpid():
                idle.append(connection)
                return
        connection.close()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for pooled in idle.values():
            for connection in pooled:
                connection.close()


_connections = _ConnectionPool()


# --- receiving ---------------------------------------------------------------------------------------------


def receive(inbound: Inbound) -> Outbound:
    """Check an inbound message, run its kind's handler, and return the signed answer; log both.

    Every refusal (missing or malformed signature, unknown key, time outside the window, wrong digest,
    bad signature, another recipient, replayed nonce, a body that is not a JSON object, unknown kind,
    the handler's own refusal) is answered signed, with its code, and logged.
    """
    signer = keys.signer()
    headers = inbound.headers
    kind = _token(headers.get(KIND_HEADER))
    message_id = _token(headers.get(MESSAGE_ID_HEADER))
    received = log.Message(
        Direction.RECEIVED,
        MessageType.REQUEST,
        _token(headers.get(FROM_HEADER)),
        message_id,
        kind,
        messages.body_digest(inbound.body),
        "",
        "",
        OK,
    )
    checked: messages.Checked | None = None
    try:
        checked = messages.parse(
            headers.get("signature-input"), headers.get("signature"), tag=REQUEST_TAG, required=REQUEST_COMPONENTS
        )
        received = _with_signature(received, "", messages.signature_text(checked))
        peer, base = _check_request(inbound, signer, checked)
        received = log.Message(**{**vars(received), "peer_code": peer.code, "signature_base": base})
        result = _handle(peer, kind, _json_object(inbound.body))
        status, envelope = 200, {"ok": True, "result": result}
    except Refusal as refusal:
        status = REFUSALS.get(refusal.code, HANDLER_REFUSAL_STATUS)
        envelope = {"ok": False, "code": refusal.code, "detail": refusal.detail}
        received = _with_outcome(received, refusal.code)
    return _answer(signer, received, checked, headers, status, envelope)


def _check_request(inbound: Inbound, signer: keys.Signer, checked: messages.Checked) -> tuple[_ActivePeer, str]:
    headers = inbound.headers
    peer = _active_peer(checked.peer_code)
    if peer is None or peer.fingerprint != checked.fingerprint:
        raise Refusal("unknown_key", f"未登记的节点或密钥：{checked.peer_code}:{checked.fingerprint}")
    skew = int(settings.YIWANG_EXCHANGE_CLOCK_SKEW_SECONDS)
    messages.check_time(checked.created, skew)
    if not httpsig.digest_matches(headers.get("content-digest"), inbound.body):
        raise Refusal("digest_mismatch", "Content-Digest 缺失或与消息体不符")
    values = {"@method": inbound.method.upper(), "@target-uri": messages.target_uri(inbound.target_uri), **headers}
    base = messages.check_signature(checked, _public(peer), values)
    if headers.get(FROM_HEADER) != peer.code:
        raise Refusal("unknown_key", "exchange-from 与签名密钥所属节点不符")
    if headers.get(TO_HEADER) != signer.node_code:
        raise Refusal("wrong_recipient", f"消息发给 {headers.get(TO_HEADER)}，本节点是 {signer.node_code}")
    _remember_nonce(peer.code, checked.nonce, checked.created, skew)
    return peer, base


def _remember_nonce(peer_code: str, nonce: str, created: int, skew: int) -> None:
    """Record the nonce; a second use (from any process, at any moment) is refused by the unique constraint.

    Committed before the handler runs (a replay is refused before anything acts on it), and apart from the
    log's transaction after it (a handler never runs holding the log's lock). Outside a caller's
    transaction the insert is one autocommitted statement: no BEGIN and COMMIT around it.
    """
    global _nonce_count
    moment = dt.datetime.fromtimestamp(created, tz=dt.UTC)
    sql, params = _nonce_insert(db.vendor), [peer_code, nonce, db.ops.adapt_datetimefield_value(moment)]
    try:
        if db.in_atomic_block:  # inside a caller's transaction: a savepoint, so a refusal leaves it usable
            with transaction.atomic(), db.cursor() as cursor:
                cursor.execute(sql, params)
        else:  # one statement in autocommit is a transaction of its own, committed when it returns
            with db.cursor() as cursor:
                cursor.execute(sql, params)
    except IntegrityError:
        raise Refusal("replayed", "该随机数已用过：消息被重放") from None
    _nonce_count += 1
    if _nonce_count % _PURGE_EVERY == 0:
        SeenNonce.objects.filter(created__lt=timezone.now() - dt.timedelta(seconds=2 * skew)).delete()


def _handle(peer: _ActivePeer, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    handler = _handlers.get(kind)
    if handler is None:
        raise Refusal("unknown_kind", f"本节点不处理 {kind or '（空）'} 类消息")
    try:
        result = handler(_info(peer), body)
    except ServiceError as exc:
        raise Refusal(_token(exc.code), exc.message) from None
    except Exception:
        logger.exception("exchange handler for %s failed", kind)
        raise Refusal("handler_failed", "处理该消息时出错") from None
    if not isinstance(result, dict):
        logger.error("exchange handler for %s returned %s, not a dict", kind, type(result).__name__)
        raise Refusal("handler_failed", "处理该消息时出错")
    return result


def _answer(
    signer: keys.Signer,
    received: log.Message,
    checked: messages.Checked | None,
    headers: Mapping[str, str],
    status: int,
    envelope: dict[str, Any],
) -> Outbound:
    body = canonical_body(envelope)
    answer_id = uuid.uuid4().hex
    answer_headers = {
        "content-type": CONTENT_TYPE,
        "content-digest": httpsig.content_digest(body),
        FROM_HEADER: signer.node_code,
        TO_HEADER: received.peer_code or "-",
        KIND_HEADER: received.kind or "-",
        MESSAGE_ID_HEADER: answer_id,
        IN_REPLY_TO_HEADER: received.message_id or "-",
    }
    components = tuple(Component(name) for name in RESPONSE_COMPONENTS)
    request_values = None
    if checked is not None:  # the request's signature parsed: the answer is bound to it
        components += (REQUEST_SIGNATURE,)
        request_values = {"signature": headers.get("signature", "")}
    values = {"@status": str(status), **answer_headers}
    signed = messages.sign(signer, components, values, tag=RESPONSE_TAG, request_values=request_values)
    sent = log.Message(
        Direction.SENT,
        MessageType.RESPONSE,
        received.peer_code,
        answer_id,
        received.kind,
        messages.body_digest(body),
        signed.base,
        messages.signature_text(signed.signature),
        received.outcome,
    )
    log.append([received, sent])
    answer_headers.update({"signature-input": signed.signature_input, "signature": signed.signature})
    return Outbound(status, answer_headers, body)


# --- the log -----------------------------------------------------------------------------------------------


def verify_log() -> log.VerifyResult:
    """Recompute this node's message log chain and check its signed checkpoints (``yiwang exchange verify-log``)."""
    return log.verify()


def checkpoint_log() -> int | None:
    """Sign the log's current head now; the sequence signed, or None if there was nothing new to sign."""
    made = log.checkpoint_now()
    return None if made is None else made.sequence


# --- small helpers -----------------------------------------------------------------------------------------


def _public(peer: _ActivePeer) -> Ed25519PublicKey:
    return _public_key(bytes(peer.public_key))


@functools.lru_cache(maxsize=256)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    """The key object for a peer's raw public key, made once per key and process (keyed by the key itself)."""
    return Ed25519PublicKey.from_public_bytes(raw)


def _active_peer(code: str) -> _ActivePeer | None:
    """The active peer with this code, read on every message by one indexed statement (no ORM query building).

    Not cached across messages: ``add-peer`` and ``deactivate`` run in other processes (the command line),
    and a deactivated peer must be refused from the next message on, in every server process.
    """
    with db.cursor() as cursor:
        cursor.execute(_peer_select(db.vendor), [code, True])
        row = cursor.fetchone()
    if row is None:
        return None
    _pk, name, base_url, public_key, fingerprint = row
    return _ActivePeer(code, name, base_url, bytes(public_key), fingerprint)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return db.ops.quote_name(field.column)


@functools.lru_cache(maxsize=4)
def _peer_select(vendor: str) -> str:
    columns = ", ".join(_column(Peer, name) for name in ("id", "name", "base_url", "public_key", "fingerprint"))
    table = db.ops.quote_name(Peer._meta.db_table)
    # Table and column names come from the model; the code is a parameter.
    return f"SELECT {columns} FROM {table} WHERE {_column(Peer, 'code')} = %s AND {_column(Peer, 'active')} = %s"  # noqa: S608


@functools.lru_cache(maxsize=4)
def _nonce_insert(vendor: str) -> str:
    columns = ", ".join(_column(SeenNonce, name) for name in ("peer_code", "nonce", "created"))
    table = db.ops.quote_name(SeenNonce._meta.db_table)
    return f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s)"  # noqa: S608  (names from the model)


def _token(value: str | None) -> str:
    """A header value fit for the log and for echoing in a header: short and plain, else empty."""
    return value if value and _TOKEN_RE.fullmatch(value) else ""


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refusal("bad_body", "消息体不是 JSON") from None
    if not isinstance(value, dict):
        raise Refusal("bad_body", "消息体须为 JSON 对象")
    return value


def _with_outcome(message: log.Message, outcome: str) -> log.Message:
    return log.Message(**{**vars(message), "outcome": outcome})


def _with_signature(message: log.Message, base: str, signature: str) -> log.Message:
    return log.Message(**{**vars(message), "signature_base": base, "signature": signature})
