"""The HTTP transport to peers: connections kept alive between messages, and a pooled connection the peer
closed meanwhile replaced without losing the message."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from yiwang.exchange.nodes import services


class _Peer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections alive unless told otherwise
    close_after_answer = False
    framing = "length"  # or "chunked", or "http/1.0" (no length: the body ends when the connection does)
    connections: list[int] = []
    bodies: list[bytes] = []

    def setup(self) -> None:
        super().setup()
        type(self).connections.append(id(self.connection))

    def do_POST(self) -> None:
        type(self).bodies.append(self.rfile.read(int(self.headers["content-length"])))
        answer = b'{"ok":true}'
        framing = type(self).framing
        if framing == "http/1.0":
            self.protocol_version = "HTTP/1.0"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        if framing == "length":
            self.send_header("content-length", str(len(answer)))
        elif framing == "chunked":
            self.send_header("transfer-encoding", "chunked")
        self.send_header("x-test", "a")
        self.send_header("x-test", "b")
        self.end_headers()
        if framing == "chunked":
            for part in (answer[:4], answer[4:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(answer)
        # As an idle timeout would: the connection ends with no "Connection: close" having been sent.
        self.close_connection = type(self).close_after_answer or framing == "http/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def peer_url() -> Iterator[str]:
    _Peer.connections, _Peer.bodies, _Peer.close_after_answer, _Peer.framing = [], [], False, "length"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    services._connections.close_all()
    yield f"http://127.0.0.1:{server.server_address[1]}/exchange/v1/messages"
    services._connections.close_all()
    server.shutdown()
    server.server_close()


def test_messages_to_a_peer_share_one_connection(peer_url: str) -> None:
    for number in range(3):
        status, headers, body = services._post(peer_url, {"content-type": "application/json"}, b"%d" % number)
        assert (status, body, headers["x-test"]) == (200, b'{"ok":true}', "a, b")
    assert _Peer.bodies == [b"0", b"1", b"2"]
    assert len(_Peer.connections) == 1


def test_a_connection_the_peer_closed_is_replaced_and_the_message_still_goes(peer_url: str) -> None:
    _Peer.close_after_answer = True
    for number in range(3):
        status, _headers, _body = services._post(peer_url, {"content-type": "application/json"}, b"%d" % number)
        assert status == 200
    # Each message after the first found its pooled connection closed, and went once, on a new one.
    assert _Peer.bodies == [b"0", b"1", b"2"]
    assert len(_Peer.connections) == 3


def test_a_chunked_answer_is_read_whole_and_the_connection_kept(peer_url: str) -> None:
    _Peer.framing = "chunked"
    for number in range(2):
        status, headers, body = services._post(peer_url, {"content-type": "application/json"}, b"%d" % number)
        assert (status, body, headers["x-test"], headers["transfer-encoding"]) == (
            200,
            b'{"ok":true}',
            "a, b",
            "chunked",
        )
    assert len(_Peer.connections) == 1
