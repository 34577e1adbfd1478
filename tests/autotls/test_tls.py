"""server_context() without ACME certificates: configured files, the self-signed
certificate, TLS 1.2 as the minimum, and damaged files."""
from __future__ import annotations

import logging
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from autotls import store, tls
from tests.autotls.conftest import free_port
from tests.autotls.servers import GREETING, handshake, peer_serial, tls_server


@pytest.fixture
def no_acme(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path
    settings.MOX_HOSTNAME = "mail.example.test"
    settings.MOX_ACME_DIRECTORY = ""
    settings.MOX_TLS_CERT = ""
    settings.MOX_TLS_KEY = ""
    settings.MOX_LOCALSERVE = False
    tls.forget_cached()
    yield settings
    tls.forget_cached()


def test_it_serves_the_configured_files(no_acme, tls_files, loop) -> None:
    no_acme.MOX_TLS_CERT = str(tls_files.cert_path)
    no_acme.MOX_TLS_KEY = str(tls_files.key_path)
    with tls_server(loop, free_port(), tls.server_context()) as port:
        version, greeting = handshake(port, "mail.example.test", tls_files.ca.cert_pem.bytes().decode())
    assert greeting == GREETING


def test_it_serves_the_self_signed_certificate_in_localserve(no_acme, loop, tmp_path) -> None:
    no_acme.MOX_LOCALSERVE = True
    with tls_server(loop, free_port(), tls.server_context()) as port:
        serial = peer_serial(port, "mail.example.test")
    made = x509.load_pem_x509_certificate((tmp_path / "tls" / "localserve-cert.pem").read_bytes())
    assert serial == made.serial_number


def test_it_raises_without_any_certificate_source(no_acme) -> None:
    assert not tls.configured()
    with pytest.raises(tls.NoCertificate):
        tls.server_context()


# The client deliberately asks for TLS 1.0/1.1, which the ssl module deprecates.
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1.* is deprecated:DeprecationWarning")
def test_it_refuses_tls_older_than_1_2(no_acme, loop) -> None:
    no_acme.MOX_LOCALSERVE = True
    ctx = tls.server_context()
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.minimum_version = ssl.TLSVersion.TLSv1
    client.maximum_version = ssl.TLSVersion.TLSv1_1
    client.set_ciphers("ALL:@SECLEVEL=0")  # else OpenSSL would not even offer TLS 1.1
    with tls_server(loop, free_port(), ctx) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with pytest.raises(ssl.SSLError):
                client.wrap_socket(raw, server_hostname="mail.example.test")
        # The same client allowed TLS 1.2 gets through: the server refused 1.1.
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with client.wrap_socket(raw, server_hostname="mail.example.test") as conn:
                assert conn.version() == "TLSv1.2"
                assert conn.recv(100) == GREETING


def test_it_falls_back_when_a_stored_certificate_is_damaged(no_acme, loop, caplog) -> None:
    no_acme.MOX_LOCALSERVE = True
    store.write_private(store.cert_path("mail.example.test"), b"-----BEGIN nonsense-----\n")
    caplog.set_level(logging.ERROR, logger="moxweb.autotls")
    with tls_server(loop, free_port(), tls.server_context()) as port:
        serial = peer_serial(port, "mail.example.test")
    base = x509.load_pem_x509_certificate(tls.base_files()[0].read_bytes())
    assert serial == base.serial_number
    assert "tls certificate file unusable" in caplog.messages


def test_it_ignores_server_names_that_are_not_host_names(no_acme) -> None:
    assert tls.select_context("../../etc/passwd", None) is None
    assert store.normalize_hostname("Mail.Example.TEST.") == "mail.example.test"
    assert store.normalize_hostname("bücher.example") == "xn--bcher-kva.example"
    assert store.normalize_hostname("a/b") is None


def test_it_serves_only_the_given_files_for_a_hand_configured_listener(no_acme, tls_files, loop) -> None:
    no_acme.MOX_LOCALSERVE = True
    # An ACME certificate for the name exists, but this listener has its own files.
    store.write_private(store.cert_path("mail.example.test"), b"unused")
    ctx = tls.server_context(tls_files.cert_path, tls_files.key_path)
    served: list[bytes | None] = []
    with tls_server(loop, free_port(), ctx, served) as port:
        version, greeting = handshake(port, "mail.example.test", tls_files.ca.cert_pem.bytes().decode())
    assert greeting == GREETING
    leaf = x509.load_pem_x509_certificate(tls_files.cert_path.read_bytes())
    assert served == [leaf.public_bytes(serialization.Encoding.DER)]
