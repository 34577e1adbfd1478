from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from mailqueue.models import QueuedMessage


def test_it_lists_the_queue(admin_client, make_queued):
    qm = make_queued(last_error="451 4.7.1 greylisted")
    resp = admin_client.get("/admin/queue/")
    assert resp.status_code == 200
    assert "<p>1 message.</p>" in resp.text
    assert f'<td><a href="/admin/queue/{qm.pk}/">{qm.pk}</a></td><td>alice@example.test</td><td>carol@remote.example</td><td>100</td><td>0/8</td>' in resp.text
    assert '<td class="error">451 4.7.1 greylisted</td>' in resp.text


def test_it_shows_an_empty_queue(admin_client):
    assert "The queue is empty." in admin_client.get("/admin/queue/").text


def test_it_filters(admin_client, make_queued):
    make_queued(recipient="carol@remote.example")
    make_queued(recipient="dave@other.example")
    resp = admin_client.get("/admin/queue/?q=other")
    assert "<p>1 message matching “other”.</p>" in resp.text
    assert "dave@other.example" in resp.text and "carol@remote.example" not in resp.text


def test_it_holds_and_releases(admin_client, make_queued):
    qm = make_queued()
    resp = admin_client.post(f"/admin/queue/{qm.pk}/hold/")
    assert resp.status_code == 302
    assert QueuedMessage.objects.get(pk=qm.pk).hold is True
    assert '<span class="tag">held</span>' in admin_client.get("/admin/queue/").text
    admin_client.post(f"/admin/queue/{qm.pk}/release/")
    assert QueuedMessage.objects.get(pk=qm.pk).hold is False


def test_it_drops(admin_client, make_queued):
    qm = make_queued()
    resp = admin_client.post(f"/admin/queue/{qm.pk}/drop/", follow=True)
    assert not QueuedMessage.objects.exists()
    assert f"Message {qm.pk} to carol@remote.example: drop done." in resp.text


def test_it_refuses_unknown_operations_and_get(admin_client, make_queued):
    qm = make_queued()
    assert admin_client.post(f"/admin/queue/{qm.pk}/explode/").status_code == 400
    assert admin_client.get(f"/admin/queue/{qm.pk}/drop/").status_code == 405
    assert QueuedMessage.objects.filter(pk=qm.pk).exists()


def test_it_refuses_anonymous(client, make_queued):
    qm = make_queued()
    assert client.post(f"/admin/queue/{qm.pk}/drop/").status_code == 302
    assert QueuedMessage.objects.filter(pk=qm.pk).exists()


def test_it_shows_a_message_being_delivered_and_refuses_to_drop_it(admin_client, make_queued):
    qm = make_queued(claimed_until=timezone.now() + timedelta(minutes=5))
    assert '<span class="tag">delivering</span>' in admin_client.get("/admin/queue/").text
    resp = admin_client.post(f"/admin/queue/{qm.pk}/drop/", follow=True)
    assert (
        f'<li class="error">Message {qm.pk} to carol@remote.example: the message is being delivered right now; '
        "try again when the attempt ends.</li>"
    ) in resp.text
    assert QueuedMessage.objects.filter(pk=qm.pk).exists()


def test_it_shows_a_queued_message(admin_client, make_queued, settings):
    path = Path(settings.DATA_DIR) / "queue" / "test-view-1"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"Subject: <hello>\r\n\r\nbody\r\n")
    qm = make_queued(path="queue/test-view-1", prefix=b"Received: by us\r\n", last_error="451 later")
    resp = admin_client.get(f"/admin/queue/{qm.pk}/")
    assert resp.status_code == 200
    assert f"<h1>Queued message {qm.pk}</h1>" in resp.text
    assert '<pre class="message" id="message-text">Received: by us\r\nSubject: &lt;hello&gt;\r\n\r\nbody\r\n</pre>' in resp.text
    assert '<dt>Last error</dt><dd class="error">451 later</dd>' in resp.text


def test_it_says_when_the_message_file_is_missing(admin_client, make_queued):
    qm = make_queued(path="queue/gone")
    resp = admin_client.get(f"/admin/queue/{qm.pk}/")
    assert '<p class="warning">cannot read the message file: No such file or directory</p>' in resp.text


def test_it_refuses_anonymous_message_views(client, make_queued):
    qm = make_queued()
    assert client.get(f"/admin/queue/{qm.pk}/").status_code == 302
