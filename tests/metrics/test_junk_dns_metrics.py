"""Junk verdicts and DNS lookups in the metrics."""
from __future__ import annotations

import asyncio

import pytest

from mailstore.models import Message
from tests.metrics.helpers import value
from tests.smtp.incoming import ZONE, message, send


def test_every_lookup_is_timed_by_type_and_result(dns_server):
    import moxweb.metrics  # noqa: F401 - registers the observer

    dns_server.add("ok.example", "TXT", "v=spf1 -all")
    resolver = dns_server.resolver()
    before = (value("mox_dns_request_duration_seconds_count", type="TXT", result="ok"),
              value("mox_dns_request_duration_seconds_count", type="MX", result="nxdomain"))
    asyncio.run(resolver.lookup_txt("ok.example"))
    asyncio.run(resolver.lookup_mx("missing.example"))
    assert value("mox_dns_request_duration_seconds_count", type="TXT", result="ok") == before[0] + 1
    assert value("mox_dns_request_duration_seconds_count", type="MX", result="nxdomain") == before[1] + 1


@pytest.mark.django_db(transaction=True)
def test_junk_verdicts_are_counted(smtp_listener, dns_server, raw_smtp, alice):
    # No PTR for 127.0.0.1: the untrained filter's 0.5 is over the strict threshold: junk.
    dns_server.add_zone(ZONE)
    srv = smtp_listener(localserve=False, hostname="mail.example.test")
    dns_server.remove("1.0.0.127.in-addr.arpa")
    junk_before, ham_before = value("mox_junkfilter_verdict_total", verdict="junk"), value("mox_junkfilter_verdict_total", verdict="ham")
    assert send(raw_smtp(srv), "bob@sender.example", message("bob@sender.example")) == "451 4.3.0 error processing"
    assert Message.objects.filter(account=alice, mailbox__name="Rejects").count() == 1
    assert value("mox_junkfilter_verdict_total", verdict="junk") == junk_before + 1
    assert value("mox_junkfilter_verdict_total", verdict="ham") == ham_before
