"""WebSocket connections through a forward handler (mox WebForward's websocket proxying):
a real client over the web listener, a real WebSocket backend, wsproto on both ends."""
from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection, BytesMessage, CloseConnection, Message, RejectConnection, RejectData, Request, TextMessage,
)

from tests.webserver.test_webserver import _bound, handler, servers  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)


class _Whole:
    """wsproto's events with a message's fragments joined into one event."""

    def __init__(self) -> None:
        self.parts: list[Any] = []

    def events(self, ws: WSConnection) -> Iterator[Any]:
        for event in ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                self.parts.append(event.data)
                if not event.message_finished:
                    continue
                data = "".join(self.parts) if isinstance(event, TextMessage) else b"".join(map(bytes, self.parts))
                self.parts = []
                yield type(event)(data=data)
            else:
                yield event


class _Backend:
    """A WebSocket server: echoes messages back (text upper-cased), chooses the "chat"
    subprotocol when offered, closes with 4000 on "bye", refuses /refuse with a 403, and
    answers /broken's handshake with a wrong Sec-WebSocket-Accept."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests: list[Request] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        whole = _Whole()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                ws.receive_data(data)
                for event in whole.events(ws):
                    if isinstance(event, Request):
                        self.requests.append(event)
                        if event.target.endswith("/refuse"):
                            conn.sendall(ws.send(RejectConnection(
                                status_code=403, headers=[(b"content-length", b"2")], has_body=True)))
                            conn.sendall(ws.send(RejectData(data=b"no")))
                            return
                        if event.target.endswith("/broken"):
                            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n")
                            continue
                        proto = "chat" if "chat" in event.subprotocols else None
                        conn.sendall(ws.send(AcceptConnection(subprotocol=proto)))
                    elif isinstance(event, TextMessage):
                        if event.data == "bye":
                            conn.sendall(ws.send(CloseConnection(code=4000, reason="bye now")))
                        else:
                            conn.sendall(ws.send(Message(data=event.data.upper())))
                    elif isinstance(event, BytesMessage):
                        conn.sendall(ws.send(Message(data=bytes(event.data)[::-1])))
                    elif isinstance(event, CloseConnection):
                        if ws.state == ConnectionState.REMOTE_CLOSING:  # not the answer to our own Close
                            conn.sendall(ws.send(event.response()))
                        return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def ws_backend() -> Iterator[_Backend]:
    b = _Backend()
    yield b
    b.close()


class _Client:
    """A blocking WebSocket client over a plain or TLS socket."""

    def __init__(self, port: int, host: str, target: str, *, tls: ssl.SSLContext | None = None,
                 subprotocols: list[str] | None = None, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", port), 10)
        self.sock = tls.wrap_socket(sock, server_hostname=host) if tls else sock
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=host, target=target, subprotocols=subprotocols or [],
                                               extra_headers=headers or [])))
        self.pending: list[Any] = []
        self.whole = _Whole()

    def event(self) -> Any:
        while not self.pending:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self.pending += list(self.whole.events(self.ws))
        return self.pending.pop(0)

    def send(self, data: str | bytes) -> None:
        self.sock.sendall(self.ws.send(Message(data=data)))


def test_websocket_messages_go_through_to_the_backend_and_back(servers, ws_backend):  # noqa: F811
    handler(domain="example.test", path_regexp="^/ws/", kind="forward",
            forward_url=f"http://127.0.0.1:{ws_backend.port}/base/", forward_strip_path=True)
    client = _Client(servers.https_port, "example.test", "/ws/room?x=1", tls=servers.client_ctx,
                     subprotocols=["other", "chat"], headers=[(b"x-forwarded-for", b"6.6.6.6")])
    accepted = client.event()
    assert isinstance(accepted, AcceptConnection) and accepted.subprotocol == "chat"
    request = ws_backend.requests[0]
    assert request.target == "/base/room?x=1"
    assert request.host == "example.test"
    assert request.subprotocols == ["other", "chat"]
    seen = {bytes(k).lower(): bytes(v) for k, v in request.extra_headers}
    assert (seen[b"x-forwarded-for"], seen[b"x-forwarded-proto"], seen[b"x-forwarded-host"]) == (
        b"127.0.0.1", b"https", b"example.test")
    client.send("hello")
    assert client.event().data == "HELLO"
    client.send(b"\x00\x01\x02")
    assert bytes(client.event().data) == b"\x02\x01\x00"
    big = "x" * 300_000  # several frames and reads on each side
    client.send(big)
    assert client.event().data == big.upper()
    client.send("bye")
    closed = client.event()
    assert isinstance(closed, CloseConnection) and (closed.code, closed.reason) == (4000, "bye now")


def test_websocket_refusals_redirects_and_bad_backends(servers, ws_backend):  # noqa: F811
    handler(position=1, domain="example.test", path_regexp="^/open/", kind="forward",
            forward_url=f"http://127.0.0.1:{ws_backend.port}/", dont_redirect_plain_http=True)
    handler(position=2, domain="example.test", path_regexp="^/secure/", kind="forward",
            forward_url=f"http://127.0.0.1:{ws_backend.port}/")
    dead = _bound()
    dead_port = dead.getsockname()[1]
    dead.close()
    handler(position=3, domain="example.test", path_regexp="^/dead/", kind="forward",
            forward_url=f"http://127.0.0.1:{dead_port}/", dont_redirect_plain_http=True)

    def refused(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
        client = _Client(servers.http_port, "example.test", path)
        event = client.event()
        assert isinstance(event, RejectConnection), event
        body = b""
        while event.has_body:
            data = client.event()
            body += data.data
            if data.body_finished:
                break
        return event.status_code, {bytes(k).lower(): bytes(v) for k, v in event.headers}, body

    # Plain HTTP is accepted where the handler says so...
    client = _Client(servers.http_port, "example.test", "/open/x")
    assert isinstance(client.event(), AcceptConnection)
    client.send("plain")
    assert client.event().data == "PLAIN"
    # ... and otherwise redirected to HTTPS, as a page would be.
    status, headers, _ = refused("/secure/x")
    assert (status, headers[b"location"]) == (308, b"https://example.test/secure/x")
    # The backend's own refusal reaches the client; an unreachable backend or a wrong
    # handshake answer is a 502; a path no forward handler takes is a 404.
    status, _, body = refused("/open/refuse")
    assert (status, body) == (403, b"no")
    assert refused("/dead/x")[::2] == (502, b"502 - bad gateway\n")
    assert refused("/open/broken")[::2] == (502, b"502 - bad gateway\n")
    assert refused("/elsewhere")[::2] == (404, b"404 - not found\n")
    assert refused("/account/")[::2] == (404, b"404 - not found\n")
