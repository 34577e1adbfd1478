"""SMTP counters after real sessions over loopback."""
from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

from mailcore.smtp.codes import reply
from moxweb import metrics
from tests.metrics.helpers import value

pytestmark = pytest.mark.django_db(transaction=True)


def send(c, rcpt: str) -> str:  # type: ignore[no-untyped-def]
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    assert c.cmd(f"RCPT TO:<{rcpt}>").startswith("250 ")
    assert c.cmd("DATA").startswith("354 ")
    return c.cmd("Subject: t\r\n\r\nx\r\n.")


def test_it_counts_connections_deliveries_and_rejections(smtp_listener, raw_smtp, localserve_account):
    conns = value("mox_smtpserver_connection_total", kind="smtp")
    delivered = value("mox_smtpserver_delivery_total", result="delivered", reason="")
    rejected = value("mox_smtpserver_delivery_total", result="rejected", reason="5.0.0")

    c = raw_smtp(smtp_listener(kind="smtp"))
    c.cmd("EHLO client.example")
    assert send(c, "mox@localhost").startswith("250 ")
    assert send(c, "user550@example.org") == "550 5.0.0 failure with code 550 due to special localpart"

    assert value("mox_smtpserver_connection_total", kind="smtp") == conns + 1
    assert value("mox_smtpserver_delivery_total", result="delivered", reason="") == delivered + 1
    assert value("mox_smtpserver_delivery_total", result="rejected", reason="5.0.0") == rejected + 1


def test_it_counts_failed_smtp_logins(smtp_listener, raw_smtp, localserve_account):
    before = value("mox_authentication_failures_total", protocol="smtp")
    conns = value("mox_smtpserver_connection_total", kind="submission")

    c = raw_smtp(smtp_listener(kind="submission"))
    c.cmd("EHLO client.example")
    wrong = base64.b64encode(b"\0mox@localhost\0wrong").decode()
    assert c.cmd("AUTH PLAIN " + wrong) == "535 5.7.8 bad user/pass"
    assert c.cmd("AUTH PLAIN " + wrong) == "535 5.7.8 bad user/pass"
    good = base64.b64encode(b"\0mox@localhost\0moxmoxmox").decode()
    assert c.cmd("AUTH PLAIN " + good) == "235 2.7.0 nice"

    assert value("mox_authentication_failures_total", protocol="smtp") == before + 2
    assert value("mox_smtpserver_connection_total", kind="submission") == conns + 1


def test_it_counts_submissions_queued_and_rejected() -> None:
    # Queued submission needs TLS and a queue; the outcome mapping is what is tested here.
    config = SimpleNamespace(submission=True, localserve=False)
    queued = value("mox_smtpserver_submission_total", result="queued")
    rejected = value("mox_smtpserver_submission_total", result="rejected")

    metrics.smtp_message(config, reply(250, "0.0", "queued"))
    metrics.smtp_message(config, reply(554, "7.0", "no"))

    assert value("mox_smtpserver_submission_total", result="queued") == queued + 1
    assert value("mox_smtpserver_submission_total", result="rejected") == rejected + 1
