"""The retry schedule with time-machine: 8 attempts at 0, +7.5 min, +15 min, +30 min,
+1 h, +2 h, +4 h, +8 h; a "delayed" DSN after the 5th failure, "failed" after the 8th."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from mailqueue.models import QueuedMessage
from mailqueue.tasks import scan_queue
from tests.listeners import bound_socket
from tests.queue.conftest import MESSAGE, inbox_messages, queue_message, start_sink

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=timezone.utc)


def test_it_follows_the_schedule_and_sends_delayed_then_failed_dsns(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "451 4.2.0 mailbox busy")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    with time_machine.travel(START, tick=False) as clock:
        qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE, dsn_envid="abc")
        attempts_at = []
        for n in range(1, 9):
            # Nothing is handed out before the slot.
            clock.move_to(QueuedMessage.objects.get(pk=qm.pk).next_attempt - timedelta(seconds=1))
            assert scan_queue() == 0
            clock.move_to(QueuedMessage.objects.get(pk=qm.pk).next_attempt)
            attempts_at.append(datetime.now(timezone.utc))
            assert scan_queue() == 1
            if n < 8:
                row = QueuedMessage.objects.get(pk=qm.pk)
                assert row.attempts == n
                assert row.last_error == "RCPT TO: 451 4.2.0 mailbox busy"
            dsns = inbox_messages(alice)
            assert len(dsns) == (0 if n < 5 else 1 if n < 8 else 2)

    offsets = [(t - START).total_seconds() / 60 for t in attempts_at]
    assert offsets == [0, 7.5, 22.5, 52.5, 112.5, 232.5, 472.5, 952.5]
    assert not QueuedMessage.objects.filter(pk=qm.pk).exists()

    delayed, failed = inbox_messages(alice)
    assert b"Subject: mail delivery delayed\r\n" in delayed
    assert b"Action: delayed\r\nStatus: 4.2.0\r\n" in delayed
    # Attempt 5 at 11:52:30; the next at 13:52:30 (+2 h), the last (+4 h, +8 h) at 01:52:30.
    assert b"Last-Attempt-Date: Wed, 25 Nov 2026 11:52:30 +0000\r\n" in delayed
    assert b"Will-Retry-Until: Thu, 26 Nov 2026 01:52:30 +0000\r\n" in delayed
    text = delayed.decode()
    assert "Delivery was attempted 5 times; the last attempt, at 2026-11-25 11:52 UTC, failed with:" in text
    assert "The next attempt is planned for 2026-11-25 13:52 UTC. Attempts continue until about 2026-11-26 01:52 UTC;" in text
    assert "Original-Envelope-Id: abc\r\n" in text

    assert b"Subject: mail delivery failed\r\n" in failed
    assert b"Action: failed\r\nStatus: 4.2.0\r\n" in failed
    assert "All 8 delivery attempts failed; the last one, at 2026-11-26 01:52 UTC, with:" in failed.decode()


def test_notify_never_suppresses_dsns(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "550 5.7.1 rejected")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE, notify=["NEVER"])
    assert scan_queue() == 1
    assert inbox_messages(alice) == []
    assert QueuedMessage.objects.count() == 0


def test_notify_success_sends_a_relayed_dsn_when_the_remote_has_no_dsn(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE, notify=["SUCCESS"], dsn_ret="FULL",
                  orcpt="rfc822;carol@example.org")
    assert scan_queue() == 1
    (dsn,) = inbox_messages(alice)
    assert (
        b"Original-Recipient: rfc822; carol@example.org\r\nFinal-Recipient: rfc822; carol@example.org\r\n"
        b"Action: relayed\r\nStatus: 2.0.0\r\nRemote-MTA: dns; mail.example.org\r\n"
        b"Diagnostic-Code: smtp; 250 2.0.0 queued as 1\r\n"
    ) in dsn
    assert b"Content-Type: message/rfc822\r\n" in dsn
    assert b"Hi Carol.\r\n" in dsn


def test_the_schedule_is_configurable(alice, mx_zone, loop_thread, settings):
    settings.MOX_QUEUE_RETRY_INTERVALS = [60, 120]
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "421 4.3.2 not now")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    with time_machine.travel(START, tick=False) as clock:
        qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
        assert scan_queue() == 1
        assert QueuedMessage.objects.get(pk=qm.pk).next_attempt == START + timedelta(seconds=60)
        clock.move_to(START + timedelta(seconds=60))
        assert scan_queue() == 1
        assert QueuedMessage.objects.get(pk=qm.pk).next_attempt == START + timedelta(seconds=180)
        clock.move_to(START + timedelta(seconds=180))
        assert scan_queue() == 1
    assert not QueuedMessage.objects.filter(pk=qm.pk).exists()


def test_a_dsn_for_a_utf8_recipient_uses_the_utf8_variant(alice, mx_zone, loop_thread, settings):
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "550 5.1.1 unknown")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    queue_message(alice, "alice@example.test", "zoë@example.org", MESSAGE, smtputf8=True)
    assert scan_queue() == 1
    (dsn,) = inbox_messages(alice)
    assert b"Content-Type: message/global-delivery-status\r\n" in dsn
    assert "Final-Recipient: utf-8; zoë@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n".encode() in dsn
    assert b"Content-Type: message/global-headers\r\n" in dsn
