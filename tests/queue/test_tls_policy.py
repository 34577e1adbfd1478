"""MTA-STS (policy over HTTPS from a trustme CA, cached) and DANE (TLSA with the AD
bit from the test DNS server) deciding how delivery uses TLS."""
from __future__ import annotations

import asyncio
import hashlib
import ssl

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailqueue.models import MTASTSPolicy, QueuedMessage, TLSResult
from mailqueue.tasks import deliver
from tests.listeners import bound_socket
from tests.queue.conftest import MESSAGE, inbox_messages, queue_message, start_sink

pytestmark = pytest.mark.django_db


def tls_results() -> list[tuple[str, str, str, str, str]]:
    """The recorded TLS results (RFC 8460 policy type and result) in order."""
    return list(TLSResult.objects.order_by("id").values_list("policy_domain", "policy_type", "result", "mx_host", "ip"))

POLICY = "version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 86400\r\n"


@pytest.fixture
def ca(tmp_path, settings):  # type: ignore[no-untyped-def]
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    settings.MOX_QUEUE_CA_FILE = str(path)
    return ca


def server_ctx(cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    return ctx


class PolicyServer:
    def __init__(self, body: str) -> None:
        self.body = body
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head.split(b"\r\n")[0])
        body = self.body.encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()


@pytest.fixture
def sts(mx_zone, loop_thread, ca, settings):  # type: ignore[no-untyped-def]
    def start(mx: str, mode: str = "enforce") -> PolicyServer:
        server = PolicyServer(POLICY.format(mx=mx, mode=mode))
        sock = bound_socket()
        ctx = server_ctx(ca.issue_cert("mta-sts.example.org"))

        async def serve():  # type: ignore[no-untyped-def]
            return await asyncio.start_server(server.handle, sock=sock, ssl=ctx)

        loop_thread.run(serve())
        settings.MOX_MTASTS_PORT = sock.getsockname()[1]
        mx_zone.add("mta-sts.example.org", "A", "127.0.0.1")
        mx_zone.add("_mta-sts.example.org", "TXT", "v=STSv1; id=20261125")
        return server

    return start


def test_enforced_policy_delivers_with_verified_tls_and_is_cached(alice, sts, loop_thread, ca, settings):
    policy_server = sts("mail.example.org")
    sink = start_sink(loop_thread, bound_socket(), tls_context=server_ctx(ca.issue_cert("mail.example.org")))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    first = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    second = queue_message(alice, "alice@example.test", "dan@example.org", MESSAGE)

    assert deliver(first.pk) == "delivered"
    assert deliver(second.pk) == "skipped"  # it went along with the first

    assert [m.tls for m in sink.messages] == [True, True]
    assert tls_results() == [("example.org", "sts", "success", "mail.example.org", "127.0.0.1")] * 2
    assert policy_server.requests == [b"GET /.well-known/mta-sts.txt HTTP/1.1"]
    row = MTASTSPolicy.objects.get(domain="example.org")
    assert (row.record_id, row.mode, row.mx, row.max_age) == ("20261125", "enforce", ["mail.example.org"], 86400)
    assert (row.valid_until - row.fetched).total_seconds() == 86400


def test_enforced_policy_skips_mx_hosts_it_does_not_list(alice, sts, loop_thread, settings):
    sts("mx.other.example")
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "mx host mail.example.org does not match enforced mta-sts policy with hosts mx.other.example"
    assert sink.messages == []


def test_enforced_policy_fails_when_no_host_has_verified_tls(alice, sts, loop_thread, settings, tls_files):
    sts("mail.example.org")
    # A certificate from another CA: no plaintext fallback under an enforced policy.
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "failed"
    (dsn,) = inbox_messages(alice)
    assert b"Status: 5.7.0\r\n" in dsn
    assert b"mta-sts: no host with verified tls: tls: " in dsn
    assert sink.messages == []
    assert tls_results() == [("example.org", "sts", "certificate-not-trusted", "mail.example.org", "127.0.0.1")]


def test_a_policy_that_cannot_be_fetched_still_demands_verified_tls(alice, mx_zone, loop_thread, ca, settings):
    mx_zone.add("_mta-sts.example.org", "TXT", "v=STSv1; id=1")  # no policy host
    sink = start_sink(loop_thread, bound_socket())  # no STARTTLS
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "remote does not offer STARTTLS but TLS is required"
    assert tls_results() == [
        ("example.org", "sts", "sts-policy-fetch-error", "", ""),
        ("example.org", "sts", "starttls-not-supported", "mail.example.org", "127.0.0.1"),
    ]


def test_tls_required_no_ignores_the_policy(alice, sts, loop_thread, settings):
    sts("mx.other.example")
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE, requiretls=False)

    assert deliver(qm.pk) == "delivered"


def test_requiretls_without_a_policy_fails_permanently(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE, requiretls=True)

    assert deliver(qm.pk) == "failed"
    (dsn,) = inbox_messages(alice)
    assert b"Status: 5.7.10\r\n" in dsn
    assert b"REQUIRETLS: no mta-sts or dane policy for mail.example.org" in dsn


def _spki_sha256(cert: trustme.LeafCert) -> str:
    c = x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes())
    return hashlib.sha256(c.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def test_dane_ee_authenticates_a_certificate_no_ca_vouches_for(alice, mx_zone, loop_thread, settings):
    leaf = trustme.CA().issue_cert("whatever.invalid")
    sink = start_sink(loop_thread, bound_socket(), tls_context=server_ctx(leaf))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    mx_zone.authentic("example.org")
    mx_zone.add(f"_{sink.port}._tcp.mail.example.org", "TLSA", f"3 1 1 {_spki_sha256(leaf)}")
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].tls is True
    assert tls_results() == [("example.org", "tlsa", "success", "mail.example.org", "127.0.0.1")]


def test_dane_mismatch_is_not_delivered_in_plaintext(alice, mx_zone, loop_thread, settings):
    leaf = trustme.CA().issue_cert("mail.example.org")
    sink = start_sink(loop_thread, bound_socket(), tls_context=server_ctx(leaf))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    mx_zone.authentic("example.org")
    mx_zone.add(f"_{sink.port}._tcp.mail.example.org", "TLSA", "3 1 1 " + "00" * 32)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "dane: no TLSA record matches the peer's certificate"
    assert sink.messages == []
    assert tls_results() == [("example.org", "tlsa", "tlsa-invalid", "mail.example.org", "127.0.0.1")]


def test_tlsa_without_the_ad_bit_is_ignored(alice, mx_zone, loop_thread, settings, tls_files):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    mx_zone.add(f"_{sink.port}._tcp.mail.example.org", "TLSA", "3 1 1 " + "00" * 32)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert QueuedMessage.objects.count() == 0


def test_requiretls_needs_the_extension_at_the_next_hop(alice, sts, loop_thread, ca, settings):
    sts("mail.example.org")
    sink = start_sink(loop_thread, bound_socket(), tls_context=server_ctx(ca.issue_cert("mail.example.org")))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE, requiretls=True)

    assert deliver(qm.pk) == "failed"
    (dsn,) = inbox_messages(alice)
    assert b"Status: 5.7.10\r\n" in dsn
    assert b"\tREQUIRETLS not supported by remote\r\n" in dsn
    assert sink.messages == []


def test_dane_ta_authenticates_through_the_issuer_in_the_chain(alice, mx_zone, loop_thread, settings):
    intermediate = trustme.CA().create_child_ca()
    leaf = intermediate.issue_cert("mail.example.org")
    sink = start_sink(loop_thread, bound_socket(), tls_context=server_ctx(leaf))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    der = x509.load_pem_x509_certificate(intermediate.cert_pem.bytes()).public_bytes(Encoding.DER)
    mx_zone.authentic("example.org")
    mx_zone.add(f"_{sink.port}._tcp.mail.example.org", "TLSA", f"2 0 1 {hashlib.sha256(der).hexdigest()}")
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].tls is True


def test_dane_ta_refuses_a_certificate_for_another_name(alice, mx_zone, loop_thread, settings):
    intermediate = trustme.CA().create_child_ca()
    leaf = intermediate.issue_cert("elsewhere.example")
    sink = start_sink(loop_thread, bound_socket(), tls_context=server_ctx(leaf))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    der = x509.load_pem_x509_certificate(intermediate.cert_pem.bytes()).public_bytes(Encoding.DER)
    mx_zone.authentic("example.org")
    mx_zone.add(f"_{sink.port}._tcp.mail.example.org", "TLSA", f"2 0 1 {hashlib.sha256(der).hexdigest()}")
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "dane: no TLSA record matches the peer's certificate"


def test_a_certificate_for_another_name_is_a_host_mismatch_under_mta_sts(alice, sts, loop_thread, ca, settings):
    sts("mail.example.org")
    sink = start_sink(loop_thread, bound_socket(), tls_context=server_ctx(ca.issue_cert("other.example")))
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "failed"
    assert tls_results() == [("example.org", "sts", "certificate-host-mismatch", "mail.example.org", "127.0.0.1")]


def test_signed_tlsa_records_that_are_all_unusable_still_make_tls_mandatory(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket())  # no STARTTLS
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    mx_zone.authentic("example.org")
    # PKIX-EE (usage 1) is not used for SMTP (RFC 7672 section 3.1.3).
    mx_zone.add(f"_{sink.port}._tcp.mail.example.org", "TLSA", "1 1 1 " + "00" * 32)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "remote does not offer STARTTLS but TLS is required"
    assert sink.messages == []
    assert tls_results() == [("example.org", "tlsa", "starttls-not-supported", "mail.example.org", "127.0.0.1")]


def test_unusable_tlsa_records_accept_any_certificate(alice, mx_zone, loop_thread, settings, tls_files):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    mx_zone.authentic("example.org")
    mx_zone.add(f"_{sink.port}._tcp.mail.example.org", "TLSA", "1 1 1 " + "00" * 32)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].tls is True


def test_a_testing_policy_verifies_and_reports_but_delivers_anyway(alice, sts, loop_thread, settings, tls_files):
    sts("mail.example.org", mode="testing")
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context())  # a CA we do not trust
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert [m.tls for m in sink.messages] == [True]
    assert tls_results() == [("example.org", "sts", "certificate-not-trusted", "mail.example.org", "127.0.0.1")]
