from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from mailqueue import queueops
from mailqueue.models import QueuedMessage


def test_it_releases_with_an_immediate_attempt(make_queued):
    qm = make_queued(hold=True, next_attempt=timezone.now() + timedelta(hours=3))
    before = timezone.now()
    queueops.release(qm)
    row = QueuedMessage.objects.get(pk=qm.pk)
    assert row.hold is False
    assert before <= row.next_attempt <= timezone.now()


def test_it_keeps_the_file_until_the_last_recipient_is_dropped(make_queued, settings, django_capture_on_commit_callbacks):
    path = Path(settings.DATA_DIR) / "queue" / "test-drop-1"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"Subject: x\r\n\r\nx\r\n")
    first = make_queued(path="queue/test-drop-1")
    second = make_queued(recipient="dave@remote.example", path="queue/test-drop-1")
    with django_capture_on_commit_callbacks(execute=True):
        queueops.drop(first)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        queueops.drop(second)
    assert not path.exists()
    assert not QueuedMessage.objects.exists()
