from __future__ import annotations

from mailqueue.models import QueuedMessage


def test_it_lists_the_queue(admin_client, make_queued):
    qm = make_queued(last_error="451 4.7.1 greylisted")
    resp = admin_client.get("/admin/queue/")
    assert resp.status_code == 200
    assert "<p>1 message.</p>" in resp.text
    assert f"<td>{qm.pk}</td><td>alice@example.test</td><td>carol@remote.example</td><td>100</td><td>0/8</td>" in resp.text
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
