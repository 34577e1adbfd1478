"""TLS below 1.2 is refused on every TLS listener of a running runmail: SMTP STARTTLS
on ports 25 and 587, implicit TLS on 465, IMAP STARTTLS on 143, IMAPS on 993, and
HTTPS; the same client allowed TLS 1.2 gets through, so it was the version that was
refused."""
from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator

import pytest

from tests.faults.processes import Process, installation_env, port, runmail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def served(tmp_path, tls_files, dns_server) -> Iterator[Process]:  # type: ignore[no-untyped-def]
    proc = runmail(installation_env(tmp_path / "data", tls_files, dns_server.address))
    proc.start()
    yield proc
    assert proc.stop() == 0, proc.log()


def read_line(sock: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError(buf)
        buf += chunk
    return buf


def smtp_reply(sock: socket.socket) -> bytes:
    line = read_line(sock)
    while line[3:4] == b"-":
        line = read_line(sock)
    return line


def smtp_starttls(sock: socket.socket) -> None:
    assert smtp_reply(sock).startswith(b"220 ")
    sock.sendall(b"EHLO client.example\r\n")
    assert smtp_reply(sock).startswith(b"250 ")
    sock.sendall(b"STARTTLS\r\n")
    assert smtp_reply(sock) == b"220 2.0.0 go!\r\n"


def imap_starttls(sock: socket.socket) -> None:
    assert read_line(sock).startswith(b"* OK ")
    sock.sendall(b"a1 STARTTLS\r\n")
    assert read_line(sock).startswith(b"a1 OK ")


def implicit(sock: socket.socket) -> None:
    pass


LISTENERS: dict[str, tuple[str, Callable[[socket.socket], None]]] = {
    "smtp": ("smtp", smtp_starttls),
    "submission": ("submission", smtp_starttls),
    "submissions": ("submissions", implicit),
    "imap": ("imap", imap_starttls),
    "imaps": ("imaps", implicit),
    "https": ("https", implicit),
}


def client(maximum: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = maximum
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # else OpenSSL would not even offer TLS 1.0/1.1
    return ctx


# The client deliberately asks for TLS 1.0/1.1, which the ssl module deprecates.
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1.* is deprecated:DeprecationWarning")
def test_every_tls_listener_refuses_tls_older_than_1_2(served) -> None:
    versions: dict[str, str] = {}
    for name, (setting, before_tls) in LISTENERS.items():
        for maximum in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with socket.create_connection(("127.0.0.1", port(served.env, setting)), timeout=10) as raw:
                before_tls(raw)
                with pytest.raises(ssl.SSLError, match="(?i)version|protocol"):
                    client(maximum).wrap_socket(raw, server_hostname="mail.example.test")
        with socket.create_connection(("127.0.0.1", port(served.env, setting)), timeout=10) as raw:
            before_tls(raw)
            with client(ssl.TLSVersion.TLSv1_2).wrap_socket(raw, server_hostname="mail.example.test") as conn:
                versions[name] = str(conn.version())
    assert versions == dict.fromkeys(LISTENERS, "TLSv1.2")
