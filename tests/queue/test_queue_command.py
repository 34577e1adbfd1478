"""manage.py queue list|kick|hold|release|drop|dump."""
from __future__ import annotations

import io
import sys
from datetime import datetime, timezone

import pytest
import time_machine
from django.core.management import call_command

from mailqueue.models import QueuedMessage, Transport
from tests.queue.conftest import MESSAGE, queue_message

pytestmark = pytest.mark.django_db

T = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("queue", *args, stdout=out)
    return out.getvalue()


def test_it_lists_with_filters(alice):
    with time_machine.travel(T, tick=False):
        a = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
        b = queue_message(alice, "alice@example.test", "dave@example.net", MESSAGE)
    QueuedMessage.objects.filter(pk=b.pk).update(last_error="RCPT TO: 451 later", attempts=2)
    assert run("list") == (
        f"{a.pk} alice@example.test -> carol@example.org attempts=0 next=2026-11-25 12:00:00 transport=-\n"
        f"{b.pk} alice@example.test -> dave@example.net attempts=2 next=2026-11-25 12:00:00 transport=- "
        "error='RCPT TO: 451 later'\n"
    )
    assert run("list", "--domain", "EXAMPLE.net").startswith(f"{b.pk} ")
    assert run("list", "--id", str(a.pk)).count("\n") == 1


def test_hold_release_drop(alice):
    a = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    assert run("hold", "--id", str(a.pk)) == "1 message(s) held\n"
    assert QueuedMessage.objects.get(pk=a.pk).hold is True
    assert " held" in run("list")
    assert run("release", "--domain", "example.org") == "1 message(s) released\n"
    assert QueuedMessage.objects.get(pk=a.pk).hold is False
    assert run("drop", "--id", str(a.pk)) == "1 message(s) dropped\n"
    assert not QueuedMessage.objects.exists()


def test_kick_sets_the_slot_to_now_and_a_transport(alice, settings):
    Transport.objects.create(name="relay", kind=Transport.Kind.SMTP, host="127.0.0.1", port=1)
    a = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    QueuedMessage.objects.filter(pk=a.pk).update(next_attempt=datetime(2030, 1, 1, tzinfo=timezone.utc), hold=True)
    assert run("kick", "--id", str(a.pk), "--use-transport", "relay") == "1 message(s) kicked\n"
    row = QueuedMessage.objects.get(pk=a.pk)
    assert row.transport == "relay"
    assert row.next_attempt.year == 2026
    assert run("list", "--transport", "relay").startswith(f"{a.pk} ")


def test_dump_writes_the_message_bytes(alice, capfdbinary):
    a = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE, prefix=b"Received: x\r\n")
    call_command("queue", "dump", str(a.pk))
    sys.stdout.flush()
    assert capfdbinary.readouterr().out == b"Received: x\r\n" + MESSAGE


def test_list_shows_the_last_tls_result(alice):
    from mailqueue import tlsresults
    from mailqueue.delivery import TLSAttempt

    with time_machine.travel(T, tick=False):
        qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    tlsresults.record(qm.pk, [TLSAttempt("sts", "sts-policy-fetch-error", "example.org"),
                              TLSAttempt("sts", "certificate-expired", "example.org", "mx.example.org", "192.0.2.1")])
    QueuedMessage.objects.filter(pk=qm.pk).update(attempts=1, last_error="tls: certificate expired")
    assert run("list") == (
        f"{qm.pk} alice@example.test -> carol@example.org attempts=1 next=2026-11-25 12:00:00 transport=- "
        "tls=sts:certificate-expired error='tls: certificate expired'\n"
    )


def test_a_scan_drops_tls_results_older_than_a_month(alice):
    from datetime import timedelta

    from django.utils import timezone

    from mailqueue import tlsresults
    from mailqueue.delivery import TLSAttempt
    from mailqueue.models import TLSResult
    from mailqueue.tasks import scan_queue

    old, recent = tlsresults.record(1, [TLSAttempt("sts", "success", "example.org")] * 2)
    TLSResult.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=32))
    scan_queue()
    assert list(TLSResult.objects.values_list("pk", flat=True)) == [recent.pk]
