"""Queue size at scrape time and delivery attempts by result, with real deliveries."""
from __future__ import annotations

import pytest

from mailqueue.tasks import deliver
from tests.listeners import bound_socket
from tests.metrics.helpers import value
from tests.queue.conftest import MESSAGE, queue_message, start_sink

pytestmark = pytest.mark.django_db


def test_it_reports_the_queue_size_and_a_local_success(alice, bob, dns_settings):
    success = value("mox_queue_delivery_total", result="success")
    assert value("mox_queue_messages") == 0

    qm = queue_message(alice, "alice@example.test", "bob@example.test", MESSAGE)
    queue_message(alice, "alice@example.test", "carol@nomail.example", MESSAGE)
    assert value("mox_queue_messages") == 2

    assert deliver(qm.pk) == "delivered"
    assert value("mox_queue_messages") == 1
    assert value("mox_queue_delivery_total", result="success") == success + 1


def test_it_counts_temporary_and_permanent_failures(alice, dns_settings, loop_thread, settings):
    settings.MOX_QUEUE_JITTER = 0
    settings.MOX_HOSTNAME = "mox.example.test"
    dns_settings.add_zone(
        """
        $ORIGIN example.org.
        @     MX 10 mail
        mail  A  127.0.0.1
        """
    )
    dns_settings.add("nomail.example", "MX", "0 .")
    sink = start_sink(loop_thread, bound_socket(), rcpt_reply=lambda a: "451 4.2.0 greylisted, try again later")
    settings.MOX_QUEUE_SMTP_PORT = sink.port
    temporary = value("mox_queue_delivery_total", result="temporary_failure")
    permanent = value("mox_queue_delivery_total", result="permanent_failure")

    greylisted = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)
    nullmx = queue_message(alice, "alice@example.test", "bob@nomail.example", MESSAGE)
    assert deliver(greylisted.pk) == "retry"
    assert deliver(nullmx.pk) == "failed"

    assert value("mox_queue_delivery_total", result="temporary_failure") == temporary + 1
    assert value("mox_queue_delivery_total", result="permanent_failure") == permanent + 1
    assert value("mox_queue_messages") == 1
