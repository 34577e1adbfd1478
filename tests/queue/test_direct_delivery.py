"""Direct delivery by MX to real aiosmtpd sinks on loopback, through the test DNS server."""
from __future__ import annotations

import pytest

from mailqueue.models import QueuedMessage
from mailqueue.tasks import deliver, scan_queue
from tests.listeners import bound_socket
from tests.queue.conftest import MESSAGE, inbox_messages, queue_message, start_sink

pytestmark = pytest.mark.django_db


def test_it_delivers_by_mx_and_removes_the_row(alice, mx_zone, loop_thread, settings):
    sock = bound_socket()
    sink = start_sink(loop_thread, sock)
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert scan_queue() == 1

    assert len(sink.messages) == 1
    got = sink.messages[0]
    assert got.mail_from == "alice@example.test"
    assert got.rcpt_tos == ["carol@example.org"]
    assert got.data == MESSAGE
    assert got.mail_options == [f"SIZE={len(MESSAGE)}"]
    assert sink.ehlo_names == ["mox.example.test"]
    assert not QueuedMessage.objects.filter(pk=qm.pk).exists()
    assert inbox_messages(alice) == []


def test_it_is_idempotent_when_the_broker_runs_a_task_twice(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert deliver(qm.pk) == "skipped"
    assert len(sink.messages) == 1


def test_it_records_the_recipients_reply_and_retries(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "451 4.2.0 greylisted, try again later")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"

    qm.refresh_from_db()
    assert qm.attempts == 1
    assert qm.last_error == "RCPT TO: 451 4.2.0 greylisted, try again later"
    assert qm.dialed_ips == {"mail.example.org": ["127.0.0.1"]}
    assert (qm.next_attempt - qm.last_attempt).total_seconds() == 450
    assert qm.claimed_until is None
    assert sink.messages == []


def test_it_fails_permanently_on_5xx_with_a_dsn(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "550 5.1.1 no such user here")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "failed"

    assert not QueuedMessage.objects.filter(pk=qm.pk).exists()
    (dsn,) = inbox_messages(alice)
    assert b"Subject: mail delivery failed\r\n" in dsn
    assert b"To: <alice@example.test>\r\n" in dsn
    assert b"From: <postmaster@mox.example.test>\r\n" in dsn
    assert b"Final-Recipient: rfc822; carol@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" in dsn
    assert b"Remote-MTA: dns; mail.example.org\r\n" in dsn
    assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user here\r\n" in dsn
    assert b"Content-Type: text/rfc822-headers\r\n" in dsn
    assert b"Subject: hello\r\n" in dsn
    assert b"Hi Carol." not in dsn  # RET=HDRS by default: only the header returns


def test_it_fails_permanently_for_a_null_mx(alice, dns_settings, settings):
    settings.MOX_HOSTNAME = "mox.example.test"
    dns_settings.add("nomail.example", "MX", "0 .")
    qm = queue_message(alice, "alice@example.test", "bob@nomail.example", MESSAGE, dsn_envid="env-1")

    assert deliver(qm.pk) == "failed"

    (dsn,) = inbox_messages(alice)
    assert b"Original-Envelope-Id: env-1\r\n" in dsn
    assert b"Status: 5.1.10\r\n" in dsn
    assert b"\tdomain nomail.example does not accept email (null mx)\r\n" in dsn


def test_it_uses_the_implicit_mx_and_follows_cnames(alice, dns_settings, loop_thread, settings):
    settings.MOX_QUEUE_JITTER = 0
    dns_settings.add_zone(
        """
        $ORIGIN example.net.
        alias   CNAME target
        target  A     127.0.0.1
        """
    )
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "dave@alias.example.net", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].rcpt_tos == ["dave@alias.example.net"]


def test_it_delivers_local_recipients_into_the_store(alice, bob, dns_settings):
    qm = queue_message(alice, "alice@example.test", "bob@example.test", MESSAGE)

    assert deliver(qm.pk) == "delivered"

    assert inbox_messages(bob) == [MESSAGE]
    assert dns_settings.queries == []


def test_it_uses_opportunistic_starttls_without_verification(alice, mx_zone, loop_thread, settings, tls_files):
    # The sink's certificate is from a CA we do not trust: opportunistic TLS goes on.
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), require_starttls=True)
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].tls is True
    from mailqueue.models import TLSResult

    assert [str(r) for r in TLSResult.objects.all()] == ["no-policy-found:success"]


def test_it_retries_without_tls_after_a_failed_handshake(alice, mx_zone, loop_thread, settings, tls_files):
    import ssl

    ctx = tls_files.server_context()
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ciphers("ALL")
    broken = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no certificate: every handshake fails
    sink = start_sink(loop_thread, bound_socket(), tls_context=broken)
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].tls is False
    assert sink.ehlo_names == ["mox.example.test", "mox.example.test"]
    from mailqueue.models import TLSResult

    # Only the failed handshake is a TLS result; the plaintext retry is none.
    assert list(TLSResult.objects.values_list("policy_type", "result", "mx_host")) == [
        ("no-policy-found", "validation-failure", "mail.example.org")
    ]


def test_it_refuses_messages_larger_than_the_remote_size_permanently(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket(), size_limit=100)
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "failed"

    (dsn,) = inbox_messages(alice)
    assert b"Status: 5.3.4\r\n" in dsn
    assert f"\tmessage of {len(MESSAGE)} bytes exceeds remote limit of 100 bytes\r\n".encode() in dsn
    assert sink.messages == []


def test_it_needs_smtputf8_at_the_remote(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket(), smtputf8=False)
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "zoë@example.org", MESSAGE, smtputf8=True)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "message needs SMTPUTF8 but remote does not support it"


def test_it_tries_the_next_mx_after_a_temporary_failure(alice, dns_settings, loop_thread, settings):
    from tests.queue.conftest import bind_pair

    settings.MOX_QUEUE_JITTER = 0
    s1, s2 = bind_pair(("127.0.0.1", "127.0.0.2"))
    first = start_sink(loop_thread, s1, rcpt_reply=lambda a: "421 4.3.2 shutting down")
    second = start_sink(loop_thread, s2)
    settings.MOX_QUEUE_SMTP_PORT = first.port
    dns_settings.add_zone(
        """
        $ORIGIN example.org.
        @     MX 20 mx2
        @     MX 10 mx1
        mx1   A  127.0.0.1
        mx2   A  127.0.0.2
        """
    )
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert first.messages == []
    assert second.messages[0].data == MESSAGE


def test_a_dsn_without_a_sender_account_goes_to_the_postmaster(bob, mx_zone, loop_thread, settings):
    settings.MOX_POSTMASTER_ACCOUNT = "bob"
    settings.MOX_POSTMASTER_MAILBOX = "Postmaster"
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "550 5.1.1 unknown")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(None, "forwarder@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "failed"
    assert inbox_messages(bob) == []
    (dsn,) = inbox_messages(bob, "Postmaster")
    assert b"To: <forwarder@example.test>\r\n" in dsn
    assert b"Status: 5.1.1\r\n" in dsn


def test_a_first_policy_refusal_from_a_dual_stack_host_is_retried(alice, dns_settings, loop_thread, settings):
    settings.MOX_QUEUE_JITTER = 0
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "550 5.7.25 no reverse dns")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    dns_settings.add_zone(
        """
        $ORIGIN example.org.
        @     MX 10 mail
        mail  A    127.0.0.1
        mail  AAAA ::1
        """
    )
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "RCPT TO: 550 5.7.25 no reverse dns"


def test_it_looks_up_idna_domains_as_a_labels(alice, dns_settings, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    dns_settings.add_zone(
        """
        $ORIGIN xn--exmple-cua.org.
        @     MX 10 mail
        mail  A  127.0.0.1
        """
    )
    qm = queue_message(alice, "alice@example.test", "carol@exämple.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].rcpt_tos == ["carol@xn--exmple-cua.org"]
    assert ("xn--exmple-cua.org", "MX") in dns_settings.queries


def test_it_delivers_to_an_address_literal_without_dns(alice, dns_settings, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    qm = queue_message(alice, "alice@example.test", "carol@[127.0.0.1]", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert sink.messages[0].rcpt_tos == ["carol@[127.0.0.1]"]
    assert dns_settings.queries == []


def test_a_cname_loop_fails_permanently(alice, dns_settings, settings):
    dns_settings.add_zone(
        """
        $ORIGIN example.net.
        a  CNAME b
        b  CNAME a
        """
    )
    qm = queue_message(alice, "alice@example.test", "x@a.example.net", MESSAGE)
    assert deliver(qm.pk) == "failed"


def test_a_domain_that_does_not_exist_fails_permanently(alice, dns_settings, settings):
    settings.MOX_HOSTNAME = "mox.example.test"
    qm = queue_message(alice, "alice@example.test", "x@nowhere.example", MESSAGE)
    assert deliver(qm.pk) == "failed"
    (dsn,) = inbox_messages(alice)
    assert b"Status: 5.1.2\r\n" in dsn
    assert b"\tdomain nowhere.example does not exist\r\n" in dsn


def test_a_dns_failure_is_temporary(alice, dns_settings, settings):
    dns_settings.servfail("broken.example")
    qm = queue_message(alice, "alice@example.test", "x@broken.example", MESSAGE)
    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error.startswith("looking up mx for broken.example: ")


def test_the_scan_schedule_row_exists():
    from django_q.models import Schedule

    s = Schedule.objects.get(name="mailqueue scan")
    assert (s.func, s.schedule_type, s.minutes, s.repeats) == ("mailqueue.tasks.scan_queue", Schedule.MINUTES, 1, -1)


def test_retries_go_to_the_same_ip_once_then_to_the_other_family(alice, dns_settings, loop_thread, settings):
    settings.MOX_QUEUE_JITTER = 0
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "450 4.2.0 greylisted")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    dns_settings.add_zone(
        """
        $ORIGIN example.org.
        @     MX 10 mail
        mail  A    127.0.0.1
        mail  AAAA ::1
        """
    )
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    for _ in range(3):
        QueuedMessage.objects.filter(pk=qm.pk).update(next_attempt=qm.created)
        assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    # 1: resolver order; 2: the same IP (greylisting); 3: IPv6 first (nothing listens
    # there), then IPv4 again.
    assert qm.dialed_ips == {"mail.example.org": ["127.0.0.1", "127.0.0.1", "::1", "127.0.0.1"]}
    assert len(sink.ehlo_names) == 3


def test_a_slow_server_times_out_and_is_retried(alice, mx_zone, loop_thread, settings):
    import asyncio

    async def slow() -> None:
        await asyncio.sleep(5)

    sink = start_sink(loop_thread, bound_socket(), on_data=slow)
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    settings.MOX_QUEUE_COMMAND_TIMEOUT = 0.5
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "timeout: no reply within 0.5s"


def test_the_whole_attempt_has_a_deadline(alice, mx_zone, loop_thread, settings):
    import asyncio

    async def slow() -> None:
        await asyncio.sleep(5)

    sink = start_sink(loop_thread, bound_socket(), on_data=slow)
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    settings.MOX_QUEUE_ATTEMPT_SECONDS = 0.5
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"
    qm.refresh_from_db()
    assert qm.last_error == "delivery attempt took longer than 0.5s"


def test_localserve_keeps_all_mail_local(alice, bob, dns_settings, settings):
    settings.MOX_LOCALSERVE = True
    settings.MOX_LOCALSERVE_ACCOUNT = "bob"
    qm = queue_message(alice, "alice@example.test", "someone@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"
    assert inbox_messages(bob) == [MESSAGE]
    assert dns_settings.queries == []


@pytest.mark.parametrize("remote_utf8", [False, True], ids=["7bit-hop", "smtputf8-hop"])
def test_a_dsn_goes_as_its_utf8_variant_only_where_smtputf8_is_offered(alice, mx_zone, loop_thread, settings,
                                                                     remote_utf8):
    # mox-v0.0.5 1.1.12: a DSN is queued as a 7-bit file plus its UTF-8 variant.
    sink = start_sink(loop_thread, bound_socket(), smtputf8=remote_utf8)
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    seven_bit = b"Subject: failure\r\n\r\nGr=C3=BC=C3=9Fe\r\n"
    utf8 = "Subject: failure\r\n\r\nGrüße\r\n".encode()
    qm = queue_message(None, "@", "carol@example.org", seven_bit, dsn_utf8=utf8)

    assert deliver(qm.pk) == "delivered"
    (got,) = sink.messages
    assert (got.data, "SMTPUTF8" in got.mail_options) == ((utf8, True) if remote_utf8 else (seven_bit, False))
    assert got.mail_from == "<>"
