"""Certificates issued by Pebble through HTTP-01 and TLS-ALPN-01, then served by
server_context() to TLS clients that verify the chain against Pebble's root."""
from __future__ import annotations

import logging
import socket
import ssl
import stat

import pytest

from autotls import manager, store, tls
from tests.autotls.conftest import free_port
from tests.autotls.servers import GREETING, django_web, handshake, peer_serial, tls_server


def mode(path: object) -> int:
    return stat.S_IMODE(path.stat().st_mode)  # type: ignore[attr-defined]


def test_it_issues_through_http01_and_serves_the_chain(acme_settings, pebble, loop, caplog) -> None:
    acme_settings.MOX_ACME_CHALLENGES = ["http-01"]
    caplog.set_level(logging.INFO, logger="moxweb.autotls")
    with django_web(loop, pebble.http_port):
        result = manager.renew_due(["mail.example.test"])
    assert result.obtained == ["mail.example.test"], result.failed
    assert "acme certificate obtained" in caplog.messages

    cert = store.read_cert("mail.example.test")
    assert cert is not None and cert.names == ("mail.example.test",)
    assert mode(cert.path) == 0o600
    assert mode(store.acme_dir() / "account-key.pem") == 0o600
    assert list((store.acme_dir() / "http01").iterdir()) == []  # challenge files removed

    root = pebble.root_pem()
    with tls_server(loop, free_port(), tls.server_context()) as port:
        version, greeting = handshake(port, "mail.example.test", root)
    assert greeting == GREETING
    assert version in ("TLSv1.2", "TLSv1.3")


def test_it_serves_https_with_the_issued_certificate(acme_settings, pebble, loop) -> None:
    acme_settings.MOX_ACME_CHALLENGES = ["http-01"]
    with django_web(loop, pebble.http_port):
        assert manager.renew_due(["mail.example.test"]).obtained == ["mail.example.test"]

    ctx = ssl.create_default_context(cadata=pebble.root_pem())
    with django_web(loop, free_port(), tls.server_context()) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="mail.example.test") as conn:
                conn.sendall(b"GET /.well-known/acme-challenge/unknown HTTP/1.1\r\nHost: mail.example.test\r\n"
                             b"Connection: close\r\n\r\n")  # fmt: skip
                response = b""
                while chunk := conn.recv(4096):
                    response += chunk
    assert response.startswith(b"HTTP/1.1 404 ")


def test_it_issues_through_tls_alpn01_on_the_live_listener(acme_settings, pebble, loop) -> None:
    acme_settings.MOX_ACME_CHALLENGES = ["tls-alpn-01"]
    name = "autoconfig.example.test"
    ctx = tls.server_context()
    root = pebble.root_pem()
    # One context for the whole test: the listener is never restarted.
    with tls_server(loop, pebble.tls_port, ctx) as port:
        with pytest.raises(ssl.SSLCertVerificationError):
            handshake(port, name, root)  # the self-signed base certificate, for now
        result = manager.renew_due([name])
        assert result.obtained == [name], result.failed
        _, greeting = handshake(port, name, root)
    assert greeting == GREETING
    assert not store.alpn_path(name).exists()
    assert store.read_cert(name) is not None


def test_it_chooses_the_certificate_by_server_name(acme_settings, pebble, loop) -> None:
    acme_settings.MOX_ACME_CHALLENGES = ["http-01"]
    names = ["mail.example.test", "mta-sts.example.test"]
    with django_web(loop, pebble.http_port):
        assert manager.renew_due(names).obtained == names
    serials = {n: store.read_cert(n).serial for n in names}  # type: ignore[union-attr]
    assert serials["mail.example.test"] != serials["mta-sts.example.test"]
    with tls_server(loop, free_port(), tls.server_context()) as port:
        for n in names:
            assert peer_serial(port, n) == serials[n]
        # Unknown names get the mail host name's certificate.
        assert peer_serial(port, "other.example.test") == serials["mail.example.test"]


def test_it_answers_tls_alpn01_on_the_https_listener(acme_settings, pebble, loop) -> None:
    acme_settings.MOX_ACME_CHALLENGES = ["tls-alpn-01"]
    name = "mta-sts.example.test"
    with django_web(loop, pebble.tls_port, tls.server_context()) as port:
        result = manager.renew_due([name])
        assert result.obtained == [name], result.failed
        assert peer_serial(port, name) == store.read_cert(name).serial  # type: ignore[union-attr]
