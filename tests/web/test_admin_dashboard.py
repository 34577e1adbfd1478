from __future__ import annotations

from mailstore.actions import deliver_bytes


def test_it_shows_the_counts(admin_client, alice, bob, make_queued):
    deliver_bytes(alice, "Inbox", b"Subject: hi\r\n\r\nhello\r\n")
    make_queued()
    make_queued(recipient="dave@remote.example", hold=True)
    make_queued(recipient="erin@remote.example", last_error="451 try later")
    resp = admin_client.get("/admin/")
    assert resp.status_code == 200
    ctx = resp.context
    assert (ctx["domain_count"], ctx["account_count"], ctx["message_count"]) == (1, 2, 1)
    assert (ctx["queue_count"], ctx["queue_held"], ctx["queue_failing"]) == (3, 1, 1)
    assert '<dd id="queue-count"><a href="/admin/queue/">3</a></dd>' in resp.text
    assert '<dd id="account-count"><a href="/admin/accounts/">2</a></dd>' in resp.text


def test_it_says_when_acme_is_off(admin_client, settings):
    settings.MOX_ACME_DIRECTORY = ""
    resp = admin_client.get("/admin/")
    assert '<p id="no-acme">ACME is off (MOX_ACME_DIRECTORY is not set)' in resp.text


def test_it_shows_each_certificates_state_and_expiry(admin_client, settings, domain, tmp_path):
    import datetime

    import trustme

    from autotls import store

    settings.MOX_ACME_DIRECTORY = "https://acme.invalid/dir"
    settings.MOX_HOSTNAME = "mail.example.test"
    settings.DATA_DIR = tmp_path
    ca = trustme.CA()
    leaf = ca.issue_cert("mail.example.test", not_after=datetime.datetime(2030, 1, 2, 3, 4, tzinfo=datetime.timezone.utc))
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    store.save_cert("mail.example.test", key, b"".join(p.bytes() for p in leaf.cert_chain_pems))
    resp = admin_client.get("/admin/")
    rows = {c.hostname: c.state for c in resp.context["certificates"]}
    assert rows == {
        "mail.example.test": "valid",
        "mta-sts.example.test": "missing",
        "autoconfig.example.test": "missing",
    }
    assert "<td>mail.example.test</td>" in resp.text
    assert "<td>2030-01-02 03:04 UTC</td>" in resp.text


def test_it_shows_todays_traffic_and_the_latest_delivery_errors(admin_client, alice):
    from datetime import UTC, datetime, timedelta

    import time_machine

    from deliverylog.actions import record_attempt
    from mailstore.actions import DeliveryInfo

    now = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    smtp = DeliveryInfo(remote_ip="192.0.2.1", mail_from="a@remote.example", rcpt_to="alice@example.test")
    deliver_bytes(alice, "Inbox", b"Subject: today\r\n\r\nx\r\n", received=now - timedelta(hours=1), info=smtp)
    deliver_bytes(alice, "Inbox", b"Subject: yesterday\r\n\r\nx\r\n", received=now - timedelta(hours=11), info=smtp)
    deliver_bytes(alice, "Inbox", b"Subject: imported\r\n\r\nx\r\n", received=now - timedelta(hours=1))
    refused = DeliveryInfo(remote_ip="192.0.2.2", destined_mailbox="Inbox")
    deliver_bytes(alice, "Rejects", b"Subject: spam\r\n\r\nx\r\n", received=now - timedelta(minutes=5), info=refused)
    for i, result in enumerate(["delivered", "delivered", "retry", "failed"]):
        record_attempt(time=now - timedelta(minutes=i), queue_id=i, attempt=1, sender="alice@example.test",
                       recipient=f"r{i}@remote.example", result=result, detail="" if result == "delivered" else f"5{i}0 no")
    record_attempt(time=now - timedelta(days=1), queue_id=9, attempt=1, sender="", recipient="old@remote.example",
                   result="retry", detail="451 old")
    with time_machine.travel(now, tick=False):
        resp = admin_client.get("/admin/")
    t = resp.context["today"]
    assert (t.delivered, t.refused, t.outgoing) == (1, 1, {"delivered": 2, "retry": 1, "failed": 1})
    assert [a.recipient for a in t.errors] == ["r2@remote.example", "r3@remote.example", "old@remote.example"]
    assert '<dd id="today-refused">1</dd>' in resp.text
    assert '<dd id="today-sent">2</dd>' in resp.text
    assert '<td class="error">530 no</td>' in resp.text
