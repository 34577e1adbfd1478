"""Transports: submission with verified STARTTLS and SASL, submissions, SOCKS5; routes."""
from __future__ import annotations

import asyncio

import pytest

from mailqueue.models import QueuedMessage, Route, Transport
from mailqueue.tasks import deliver
from tests.listeners import bound_socket
from tests.queue.conftest import MESSAGE, queue_message, start_sink
from tests.queue.socks5 import Socks5Proxy

pytestmark = pytest.mark.django_db


@pytest.fixture
def relay_settings(settings, tls_files):  # type: ignore[no-untyped-def]
    settings.MOX_QUEUE_JITTER = 0
    settings.MOX_HOSTNAME = "mox.example.test"
    settings.MOX_QUEUE_CA_FILE = str(tls_files.ca_path)
    return settings


def _transport(name: str, kind: str, port: int, **kw) -> Transport:  # type: ignore[no-untyped-def]
    return Transport.objects.create(name=name, kind=kind, host="127.0.0.1", port=port, **kw)


def test_submission_uses_verified_starttls_and_plain_when_that_is_all(alice, relay_settings, loop_thread, tls_files):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), auth={"relayuser": "secret"})
    _transport("relay", Transport.Kind.SUBMISSION, sink.port, auth_username="relayuser", auth_password="secret")
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    QueuedMessage.objects.filter(pk=qm.pk).update(transport="relay")

    assert deliver(qm.pk) == "delivered"
    got = sink.messages[0]
    assert (got.tls, got.auth, got.data) == (True, "relayuser", MESSAGE)


def test_submission_picks_scram_sha_256_when_offered(alice, relay_settings, loop_thread, tls_files):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), auth={"u": "p"}, scram={"u": "p"})
    _transport("relay", Transport.Kind.SUBMISSION, sink.port, auth_username="u", auth_password="p")
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE, )
    QueuedMessage.objects.filter(pk=qm.pk).update(transport="relay")

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].auth == "SCRAM-SHA-256:u"


def test_submission_prefers_cram_md5_over_plain(alice, relay_settings, loop_thread, tls_files):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), auth={"u": "p"}, cram={"u": "p"})
    _transport("relay", Transport.Kind.SUBMISSION, sink.port, auth_username="u", auth_password="p")
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    QueuedMessage.objects.filter(pk=qm.pk).update(transport="relay")

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].auth == "CRAM-MD5:u"


def test_submission_with_wrong_credentials_keeps_the_reply(alice, relay_settings, loop_thread, tls_files):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), scram={"u": "p"})
    _transport("relay", Transport.Kind.SUBMISSION, sink.port, auth_username="u", auth_password="wrong")
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    QueuedMessage.objects.filter(pk=qm.pk).update(transport="relay")

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "transport relay: auth SCRAM-SHA-256: 535 5.7.8 Authentication credentials invalid"
    assert sink.messages == []


def test_submission_refuses_an_unverified_certificate(alice, relay_settings, loop_thread, tls_files):
    relay_settings.MOX_QUEUE_CA_FILE = ""
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context())
    _transport("relay", Transport.Kind.SUBMISSION, sink.port)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    QueuedMessage.objects.filter(pk=qm.pk).update(transport="relay")

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error.startswith("transport relay: tls: ")
    assert "CERTIFICATE_VERIFY_FAILED" in qm.last_error
    assert sink.messages == []


def test_submissions_uses_implicit_tls(alice, relay_settings, loop_thread, tls_files):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), implicit_tls=True)
    _transport("tls", Transport.Kind.SUBMISSIONS, sink.port)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    QueuedMessage.objects.filter(pk=qm.pk).update(transport="tls")

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].data == MESSAGE


def test_an_unknown_transport_fails_the_message(alice, relay_settings):
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    QueuedMessage.objects.filter(pk=qm.pk).update(transport="nosuch")
    assert deliver(qm.pk) == "failed"


def test_socks_delivers_directly_through_the_proxy(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    proxy = Socks5Proxy()
    psock = bound_socket()

    async def serve():  # type: ignore[no-untyped-def]
        return await asyncio.start_server(proxy.handle, sock=psock)

    loop_thread.run(serve())
    Transport.objects.create(
        name="viaproxy", kind=Transport.Kind.SOCKS, socks_address=f"127.0.0.1:{psock.getsockname()[1]}",
        remote_ips=["198.51.100.7"], socks_hostname="out.example.test",
    )
    Route.objects.create(to_domains=[".example.org"], transport=Transport.objects.get(name="viaproxy"))
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert proxy.targets == [("127.0.0.1", sink.port)]
    assert sink.ehlo_names == ["out.example.test"]
    assert sink.messages[0].data == MESSAGE


def test_a_route_with_minimum_attempts_falls_back_to_a_smarthost(alice, mx_zone, loop_thread, settings, tls_files):
    settings.MOX_QUEUE_CA_FILE = str(tls_files.ca_path)
    direct = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "451 4.7.1 greylisted")
    settings.MOX_QUEUE_SMTP_PORT = direct.port
    smarthost = start_sink(loop_thread, bound_socket())
    t = _transport("smarthost", Transport.Kind.SMTP, smarthost.port, no_starttls=True)
    Route.objects.create(account=alice, minimum_attempts=2, transport=t)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    QueuedMessage.objects.filter(pk=qm.pk).update(next_attempt=QueuedMessage.objects.get(pk=qm.pk).last_attempt)
    assert deliver(qm.pk) == "delivered"
    assert direct.messages == []
    assert smarthost.messages[0].rcpt_tos == ["carol@example.org"]


def test_routes_are_account_then_domain_then_global_first_match_wins(alice, domain):
    from mailqueue.routes import select_transport

    a = Transport.objects.create(name="a", kind=Transport.Kind.SMTP, host="a")
    b = Transport.objects.create(name="b", kind=Transport.Kind.SMTP, host="b")
    g = Transport.objects.create(name="g", kind=Transport.Kind.SMTP, host="g")
    Route.objects.create(to_domains=[], transport=g)
    Route.objects.create(domain=domain, to_domains=["example.net"], transport=b)
    Route.objects.create(account=alice, to_domains=[".example.org"], from_domains=["example.test"], transport=a)
    qm = QueuedMessage(account=alice, sender_domain="example.test", recipient_domain="sub.example.org", attempts=1)
    assert select_transport(qm) == a
    qm.recipient_domain = "example.net"
    assert select_transport(qm) == b
    qm.recipient_domain = "example.com"
    assert select_transport(qm) == g
    qm.transport = "b"
    assert select_transport(qm) == b


def test_a_batch_asks_the_database_for_routes_once_per_kind_of_message(alice, domain, django_assert_num_queries):
    from mailqueue.routes import select_transport

    a = Transport.objects.create(name="a", kind=Transport.Kind.SMTP, host="a")
    Route.objects.create(account=alice, to_domains=[".example.org"], transport=a)
    cache: dict = {}  # type: ignore[type-arg]
    qm = QueuedMessage(account=alice, sender_domain="example.test", recipient_domain="sub.example.org", attempts=1)
    with django_assert_num_queries(3):  # account, domain and global routes
        assert select_transport(qm, cache) == a
    with django_assert_num_queries(0):
        assert select_transport(qm, cache) == a
    other = QueuedMessage(account=alice, sender_domain="example.test", recipient_domain="example.com", attempts=1)
    with django_assert_num_queries(3):
        assert select_transport(other, cache) is None
    assert len(cache) == 2


def test_transport_configuration_errors_are_reported():
    from django.core.exceptions import ValidationError

    bad = Transport(name="x", kind=Transport.Kind.SUBMISSIONS, no_starttls=True, auth_mechanisms=["SCRAM-SHA-256", "LOGIN"])
    with pytest.raises(ValidationError) as exc:
        bad.clean()
    assert exc.value.message_dict == {
        "host": ["a relay transport needs a host"],
        "no_starttls": ["STARTTLS options do not apply to submissions (implicit TLS)"],
        "auth_mechanisms": ["unknown mechanism(s): LOGIN"],
    }
    Transport(name="ok", kind=Transport.Kind.SUBMISSION, host="smtp.example", auth_username="u", auth_mechanisms=["PLAIN"]).clean()
    with pytest.raises(ValidationError):
        Transport(name="s", kind=Transport.Kind.SOCKS).clean()
