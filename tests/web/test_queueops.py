from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
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


def test_it_refuses_to_drop_a_message_being_delivered(make_queued):
    qm = make_queued(claimed_until=timezone.now() + timedelta(minutes=5))
    with pytest.raises(queueops.QueueOpError, match="being delivered right now"):
        queueops.drop(qm)
    assert QueuedMessage.objects.filter(pk=qm.pk).exists()


def test_it_drops_a_message_whose_claim_expired(make_queued):
    qm = make_queued(claimed_until=timezone.now() - timedelta(minutes=1))
    queueops.drop(qm)
    assert not QueuedMessage.objects.exists()


def test_dropping_a_message_already_gone_is_quiet(make_queued):
    qm = make_queued()
    QueuedMessage.objects.filter(pk=qm.pk).delete()
    queueops.drop(qm)


def test_it_reads_the_prefix_and_the_file(make_queued, settings):
    path = Path(settings.DATA_DIR) / "queue" / "test-read-1"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    qm = make_queued(path="queue/test-read-1", prefix=b"Received: by us\r\n")
    assert queueops.read_message(qm) == (b"Received: by us\r\nSubject: x\r\n\r\nbody\r\n", False)
    assert queueops.read_message(qm, limit=10) == (b"Received: ", True)


def test_it_reports_a_missing_file(make_queued):
    qm = make_queued(path="queue/does-not-exist")
    with pytest.raises(queueops.QueueOpError, match="cannot read the message file: No such file or directory"):
        queueops.read_message(qm)
