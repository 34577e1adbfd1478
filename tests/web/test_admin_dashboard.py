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
