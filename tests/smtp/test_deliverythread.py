"""smtpserver.deliverythread: the deliveries that arrive while the thread works are
stored with one commit, each caller hears its own result, and one delivery's failure
is its own."""
from __future__ import annotations

import asyncio
import functools
import threading

import pytest

from mailstore.actions import deliver_steps
from mailstore.models import Message
from smtpserver.deliverythread import DeliveryThread

MSG = b"From: a@example.org\r\nSubject: batch %d\r\n\r\nhello\r\n"

pytestmark = pytest.mark.django_db(transaction=True)


def test_deliveries_arriving_meanwhile_share_one_commit(alice) -> None:
    thread = DeliveryThread(idle_exit=0.2)
    first_started, release = threading.Event(), threading.Event()

    def held(i: int):  # type: ignore[no-untyped-def]
        first_started.set()
        release.wait(30)
        return (yield from deliver_steps(alice, "Inbox", None, data=MSG % i))

    async def main() -> list[Message]:
        first = asyncio.ensure_future(thread.run(functools.partial(held, 0)))
        await asyncio.to_thread(first_started.wait, 30)
        # The thread is busy with the first: these five gather meanwhile.
        rest = [asyncio.ensure_future(thread.run(functools.partial(deliver_steps, alice, "Inbox", None,
                                                                    data=MSG % i))) for i in range(1, 6)]
        await asyncio.sleep(0.1)
        release.set()
        return list(await asyncio.gather(first, *rest))

    messages = asyncio.run(main())
    assert [m.uid for m in messages] == [1, 2, 3, 4, 5, 6]
    assert (thread.batches, thread.deliveries) == (2, 6)
    stored = Message.objects.filter(account=alice).order_by("uid")
    assert [(m.uid, m.subject) for m in stored] == [(i + 1, f"batch {i}") for i in range(6)]


def test_a_failing_delivery_fails_alone(alice) -> None:
    thread = DeliveryThread(idle_exit=0.2)

    def broken():  # type: ignore[no-untyped-def]
        raise OSError("no room")
        yield  # a generator, as delivery steps are

    async def main() -> list[object]:
        jobs = [thread.run(functools.partial(deliver_steps, alice, "Inbox", None, data=MSG % 1)),
                thread.run(broken),
                thread.run(functools.partial(deliver_steps, alice, "Nosuchbox/deep", None, data=MSG % 2))]
        return list(await asyncio.gather(*jobs, return_exceptions=True))

    good, failed, created = asyncio.run(main())
    assert isinstance(good, Message) and good.subject == "batch 1"
    assert isinstance(failed, OSError) and str(failed) == "no room"
    # A mailbox still to create takes the one-by-one path, in the same batch or not.
    assert isinstance(created, Message) and created.mailbox.name == "Nosuchbox/deep"
    assert Message.objects.filter(account=alice).count() == 2


@pytest.mark.parametrize("kept", [False, True])
def test_a_batch_reads_an_empty_rejects_mailbox_once_and_removes_a_kept_copy(alice, monkeypatch, kept) -> None:
    """A batch's deliveries ask once whether Rejects holds anything; only a non-empty
    Rejects is searched for each Message-ID, and the copy of one delivered is removed."""
    from mailstore.actions import DeliveryInfo, deliver_bytes
    from smtpserver import store
    from smtpserver.spool import Spool

    mail = b"From: a@example.org\r\nMessage-ID: <m%d@example.org>\r\nSubject: batch %d\r\n\r\nhello\r\n"
    if kept:
        deliver_bytes(alice, "Rejects", mail % (3, 3))
    asked: list[str] = []
    fetch_one = store.fetch_one

    def counted(connection, sql, params):  # type: ignore[no-untyped-def]
        asked.append("any" if sql == store._ANY_REJECT else "this" if sql == store._IN_REJECTS else "other")
        return fetch_one(connection, sql, params)

    monkeypatch.setattr(store, "fetch_one", counted)
    thread = DeliveryThread(idle_exit=0.2)
    first_started, release = threading.Event(), threading.Event()

    def steps(i: int):  # type: ignore[no-untyped-def]
        return store.deliver_incoming_steps(alice, "Inbox", Spool(data=mail % (i, i)), b"", DeliveryInfo(),
                                            seen=False, message_id=None)

    def held():  # type: ignore[no-untyped-def]
        first_started.set()
        release.wait(30)
        return (yield from steps(0))

    async def main() -> None:
        first = asyncio.ensure_future(thread.run(held))
        await asyncio.to_thread(first_started.wait, 30)
        rest = [asyncio.ensure_future(thread.run(functools.partial(steps, i))) for i in range(1, 6)]
        await asyncio.sleep(0.1)
        release.set()
        await asyncio.gather(first, *rest)

    asyncio.run(main())
    assert (thread.batches, thread.deliveries) == (2, 6)
    # One look per batch; each Message-ID searched only where Rejects holds something.
    assert sorted(asked) == (["any"] * 2 + ["this"] * 6 if kept else ["any"] * 2)
    assert list(Message.objects.filter(account=alice, mailbox__name="Rejects")) == []
    assert Message.objects.filter(account=alice, mailbox__name="Inbox").count() == 6
