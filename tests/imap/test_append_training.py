"""The junk filter learns appended messages after APPEND is answered, in batches
(mailstore.junk.DeferredTraining, issue 4)."""
from __future__ import annotations

import pytest

from mailstore import junk
from mailstore.models import JunkWord, Message
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db


def totals(account) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    row = JunkWord.objects.filter(account=account, word="-").first()
    return (row.ham, row.spam) if row else (0, 0)


@pytest.fixture
def slow_trainer(monkeypatch):  # type: ignore[no-untyped-def]
    """A trainer that waits until told: the test decides when training happens."""
    trainer = junk.DeferredTraining(delay=3600)
    monkeypatch.setattr(junk, "trainer", trainer)
    yield trainer
    assert trainer.drain(30)


def append(raw_alice, tag: str, mailbox: str) -> str:  # type: ignore[no-untyped-def]
    raw_alice.send(f"{tag} APPEND {mailbox} {{{len(MESSAGE)}+}}")
    raw_alice.send(MESSAGE + b"\r\n")
    return raw_alice.until_tagged(tag)[-1]


def test_it_trains_an_appended_message_once_the_queue_is_drained(raw_alice, alice, slow_trainer):
    # Archive gets $NotJunk from the account's automatic junk flags: trained as ham.
    assert append(raw_alice, "a1", "Archive").startswith("a1 OK [APPENDUID ")
    message = Message.objects.get(account=alice)
    assert (message.notjunk, message.trained_junk, totals(alice)) == (True, None, (0, 0))
    assert slow_trainer.drain(30)
    message.refresh_from_db()
    assert (message.trained_junk, totals(alice), slow_trainer.trained) == (False, (1, 0), 1)


def test_it_leaves_a_message_expunged_before_its_turn_untrained(raw_alice, alice, slow_trainer):
    assert append(raw_alice, "a1", "Archive").startswith("a1 OK [APPENDUID ")
    raw_alice.cmd("a2 SELECT Archive")
    raw_alice.cmd("a3 STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert raw_alice.cmd("a4 EXPUNGE") == ["* 1 EXPUNGE", "a4 OK EXPUNGE done"]
    assert slow_trainer.drain(30)
    assert (totals(alice), slow_trainer.trained) == ((0, 0), 0)


def test_a_flag_change_before_its_turn_trains_at_once_and_leaves_nothing_to_do(raw_alice, alice, slow_trainer):
    assert append(raw_alice, "a1", "Archive").startswith("a1 OK [APPENDUID ")
    raw_alice.cmd("a2 SELECT Archive")
    raw_alice.cmd("a3 STORE 1 FLAGS.SILENT ($Junk)")
    assert totals(alice) == (0, 1)
    assert slow_trainer.drain(30)
    assert (totals(alice), slow_trainer.trained) == ((0, 1), 0)
    assert Message.objects.get(account=alice).trained_junk is True


def test_an_inbox_append_queues_nothing(raw_alice, alice, slow_trainer):
    # Inbox matches the neutral pattern: no junk flag, nothing to train.
    assert append(raw_alice, "a1", "Inbox").startswith("a1 OK [APPENDUID ")
    assert slow_trainer.drain(30)
    assert (totals(alice), slow_trainer.trained, slow_trainer.threads_started) == ((0, 0), 0, 0)
