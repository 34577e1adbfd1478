"""Exporting mail from the account pages: mbox or maildir, zip or tgz, streamed. The
archive is made by a thread with its own database connection, so these tests commit."""
from __future__ import annotations

import base64
import io
import random
import tarfile
import time
import zipfile

import pytest
from django.test import AsyncClient

from accounts import mailexport
from mailstore.actions import deliver_bytes

pytestmark = pytest.mark.django_db(transaction=True)

MSG = b"From: a@example.org\r\nSubject: %d\r\n\r\nFrom here on\r\nbody\r\n"


def _fill(account, n: int = 2, mailbox: str = "Inbox") -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        deliver_bytes(account, mailbox, MSG % i, flags={"\\Seen"} if i == 0 else set())


def test_it_streams_all_mailboxes_as_mbox_in_a_zip(alice_client, alice):
    _fill(alice)
    _fill(alice, 1, "Archive")
    resp = alice_client.get("/account/export/download/", {"format": "mbox", "archive": "zip", "mailbox": ""})
    assert resp.status_code == 200
    assert resp.streaming
    assert resp["Content-Type"] == "application/zip"
    assert resp["Content-Disposition"] == 'attachment; filename="alice-all-mbox.zip"'
    zf = zipfile.ZipFile(io.BytesIO(b"".join(resp.streaming_content)))
    assert sorted(zf.namelist()) == ["Archive.mbox", "Drafts.mbox", "Inbox.mbox", "Junk.mbox", "Sent.mbox", "Trash.mbox"]
    inbox = zf.read("Inbox.mbox")
    assert inbox.count(b"\nFrom: a@example.org\n") == 2
    assert b"\n>From here on\n" in inbox  # mboxrd escaping
    assert b"Status: RO\n" in inbox.split(b"Subject: 0")[0]


def test_it_streams_one_mailbox_as_maildir_in_a_tgz(alice_client, alice):
    _fill(alice, 3)
    resp = alice_client.get("/account/export/download/", {"format": "maildir", "archive": "tgz", "mailbox": "Inbox"})
    assert resp["Content-Type"] == "application/gzip"
    assert resp["Content-Disposition"] == 'attachment; filename="alice-Inbox-maildir.tgz"'
    with tarfile.open(fileobj=io.BytesIO(b"".join(resp.streaming_content)), mode="r:gz") as tf:
        names = sorted(m.name for m in tf.getmembers() if m.isfile())
        assert len(names) == 3 and all(n.startswith("Inbox/cur/") for n in names)
        assert names[0].endswith(":2,S") or any(n.endswith(":2,S") for n in names)
        assert sorted(tf.extractfile(n).read() for n in names) == sorted(MSG % i for i in range(3))  # type: ignore[union-attr]


def test_a_mailbox_of_another_account_cannot_be_chosen(alice_client, bob, alice):
    _fill(bob, 1, "BobOnly")
    resp = alice_client.get("/account/export/download/", {"format": "mbox", "archive": "zip", "mailbox": "BobOnly"})
    assert resp.status_code == 302
    assert "Choose a format, an archive and a mailbox." in alice_client.get(resp["Location"]).text


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_memory_stays_bounded_and_the_export_stops_when_the_client_goes(alice, monkeypatch, fmt):
    """A slow client holds the export thread at the queue bound; closing the download
    stops the thread (the bytes buffered never exceed the bound)."""
    monkeypatch.setattr(mailexport, "CHUNK", 4096)
    noise = base64.encodebytes(random.Random(1).randbytes(45000)).replace(b"\n", b"\r\n")  # deflate cannot shrink it
    big = b"From: a@example.org\r\nSubject: big\r\n\r\n" + noise
    for _ in range(20):
        deliver_bytes(alice, "Inbox", big)
    stream = mailexport.ExportStream(alice, fmt, "zip", "Inbox")
    it = iter(stream)
    first = next(it)
    deadline = time.monotonic() + 10
    while not stream.chunks.full():  # the producer fills the queue, then waits
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert len(first) == 4096
    assert stream.chunks.qsize() == mailexport.QUEUE_CHUNKS
    assert stream.thread.is_alive()
    it.close()  # what the server does when the client disconnects
    stream.thread.join(10)
    assert not stream.thread.is_alive()


@pytest.fixture
def filled_alice(alice):  # type: ignore[no-untyped-def]
    _fill(alice)
    return alice


async def test_under_asgi_it_streams_through_an_async_iterator(alice_client, filled_alice):
    from asgiref.sync import sync_to_async
    from django.db import connections

    client = AsyncClient()
    client.cookies = alice_client.cookies
    try:
        resp = await client.get("/account/export/download/", {"format": "mbox", "archive": "zip", "mailbox": "Inbox"})
        assert resp.status_code == 200
        assert resp.is_async
        body = b"".join([chunk async for chunk in resp.streaming_content])
    finally:
        # The test client keeps the view thread's connection open (a server closes it).
        await sync_to_async(connections.close_all)()
    assert zipfile.ZipFile(io.BytesIO(body)).read("Inbox.mbox").count(b"Subject: ") == 2


def test_the_export_page_lists_the_mailboxes(alice_client, alice):
    html = alice_client.get("/account/export/").text
    assert '<option value="" selected>All mailboxes</option>' in html
    assert '<option value="Inbox">Inbox</option>' in html
