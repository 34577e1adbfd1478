"""Importing mail from the account pages: upload, background import, progress as JSON.
The import runs in a thread with its own database connection, so these tests commit."""
from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import asdict

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mailstore.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def mbox(n: int, subject: str = "message") -> bytes:
    return b"".join(
        b"From sender@example.org Mon Jan  1 00:00:00 2024\n"
        + f"From: sender@example.org\nSubject: {subject} {i}\nMessage-Id: <{subject}-{i}@example.org>\n\nbody {i}\n>From the start\n\n".encode()
        for i in range(n)
    )


def upload(client, name: str, data: bytes, fmt: str = "mbox", mailbox: str = ""):  # type: ignore[no-untyped-def]
    return client.post("/account/import/", {"file": SimpleUploadedFile(name, data), "format": fmt, "mailbox": mailbox})


def wait_done(client, location: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    job = location.split("job=", 1)[1]
    deadline = time.monotonic() + 60  # hang guard
    while True:
        p = client.get(f"/account/import/{job}/progress.json").json()
        if p["state"] not in ("queued", "running"):
            return p
        assert time.monotonic() < deadline, p
        time.sleep(0.05)


def subjects(account, mailbox: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(Message.objects.filter(account=account, mailbox__name=mailbox).order_by("uid").values_list("subject", flat=True))


def test_a_single_mbox_goes_to_the_mailbox_its_name_says(alice_client, alice):
    resp = upload(alice_client, "Sent Items.mbox", mbox(3, "sent"))
    assert resp.status_code == 302
    assert resp["Location"].startswith("/account/import/?job=")
    p = wait_done(alice_client, resp["Location"])
    assert p == {
        "state": "done", "percent": 100, "messages": 3, "mailbox": "Sent", "done": p["total"], "total": len(mbox(3, "sent")),
        "counts": {"Sent": 3}, "skipped": [], "error": "",
    }
    assert subjects(alice, "Sent") == ["sent 0", "sent 1", "sent 2"]
    page = alice_client.get(resp["Location"]).text
    assert '<progress id="import-bar" max="100" value="100">100%</progress>' in page
    assert "Done: 3 messages imported." in page


def test_an_archive_maps_special_mailbox_names(alice_client, alice):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Spam.mbox", mbox(2, "spam"))
        zf.writestr("Deleted Items.mbox", mbox(1, "trash"))
        zf.writestr("Sent Messages.mbox", mbox(1, "sent"))
        zf.writestr("Projects/moxweb.mbox", mbox(1, "proj"))
        zf.writestr("readme.txt", b"not a mailbox")
    p = wait_done(alice_client, upload(alice_client, "takeout.zip", buf.getvalue())["Location"])
    assert p["state"] == "done"
    assert sorted(p["counts"].items()) == [("Junk", 2), ("Projects/moxweb", 1), ("Sent", 1), ("Trash", 1)]
    assert p["skipped"] == ["readme.txt"]
    assert subjects(alice, "Junk") == ["spam 0", "spam 1"]
    assert subjects(alice, "Trash") == ["trash 0"]


def test_into_a_named_mailbox(alice_client, alice):
    p = wait_done(alice_client, upload(alice_client, "old.mbox", mbox(2), mailbox="Archive/2019")["Location"])
    assert p["counts"] == {"Archive/2019": 2}


def test_a_broken_archive_fails_with_a_clear_error(alice_client, alice):
    p = wait_done(alice_client, upload(alice_client, "broken.zip", b"PK\x03\x04 not really a zip")["Location"])
    assert p["state"] == "failed"
    assert p["error"].startswith("broken.zip: not a readable zip archive: ")
    assert "tmp" not in p["error"]
    assert Message.objects.filter(account=alice).count() == 0


def test_a_maildir_must_be_an_archive(alice_client, alice):
    resp = upload(alice_client, "cur", b"x", fmt="maildir")
    assert resp.status_code == 400
    assert "a maildir must be uploaded as a .zip or .tgz archive of its directories" in resp.text


def test_another_account_cannot_see_the_progress(alice_client, bob_client, alice, bob):
    location = upload(alice_client, "in.mbox", mbox(1))["Location"]
    wait_done(alice_client, location)
    job = location.split("job=", 1)[1]
    assert bob_client.get(f"/account/import/{job}/progress.json").status_code == 404
    assert "in.mbox" not in bob_client.get(location).text
    assert alice_client.get("/account/import/../progress.json").status_code == 404


def test_old_job_files_are_pruned(alice_client, alice):
    import os

    from accounts import mailimport

    location = upload(alice_client, "a.mbox", mbox(1))["Location"]
    wait_done(alice_client, location)
    [job] = mailimport.account_jobs(alice)
    path = mailimport.jobs_dir() / f"{job.id}.json"
    old = time.time() - mailimport.KEEP_JOBS_SECONDS - 60
    os.utime(path, (old, old))
    wait_done(alice_client, upload(alice_client, "b.mbox", mbox(1))["Location"])
    assert [j.filename for j in mailimport.account_jobs(alice)] == ["b.mbox"]


def test_a_second_import_waits_for_the_first(alice_client, alice):
    from accounts import mailimport

    job = mailimport.Job("0" * 32, alice.pk, "x.mbox", "mbox", "", state="running")
    mailimport.save_job(job)
    resp = upload(alice_client, "y.mbox", mbox(1))
    assert resp.status_code == 400
    assert "an import is already running for this account: wait until it is done" in resp.text
    job.heartbeat = 0  # as a job whose process died long ago
    (mailimport.jobs_dir() / f"{job.id}.json").write_text(json.dumps(asdict(job)))
    assert alice_client.get(f"/account/import/{job.id}/progress.json").json()["state"] == "interrupted"
    resp = upload(alice_client, "y.mbox", mbox(1))
    assert resp.status_code == 302  # an interrupted one does not block
    # Its import runs in a thread: it ends before the test's database is emptied (on
    # PostgreSQL the TRUNCATE and the import's inserts deadlocked).
    wait_done(alice_client, resp["Location"])


def test_a_running_import_can_be_stopped_and_says_how_many_came_in(alice_client, alice, monkeypatch):
    import threading

    from accounts import mailimport

    real = mailimport.import_mailboxes
    reached, go = threading.Event(), threading.Event()

    def paused_after_two(account, fmt, mailbox, source, progress, should_stop):  # type: ignore[no-untyped-def]
        asked = []

        def stop() -> bool:
            asked.append(1)
            if len(asked) == 3:  # before the third message: let the test press Stop
                reached.set()
                go.wait(30)
            return should_stop()

        return real(account, fmt, mailbox, source, progress, should_stop=stop)

    monkeypatch.setattr(mailimport, "import_mailboxes", paused_after_two)
    location = upload(alice_client, "in.mbox", mbox(5), mailbox="Old")["Location"]
    job = location.split("job=", 1)[1]
    assert reached.wait(30)
    page = alice_client.get(location).text
    assert f'action="/account/import/{job}/abort/" id="import-abort"' in page
    resp = alice_client.post(f"/account/import/{job}/abort/")
    assert (resp.status_code, resp["Location"]) == (302, location)
    go.set()
    p = wait_done(alice_client, location)
    assert (p["state"], p["messages"], p["counts"]) == ("aborted", 2, {"Old": 2})
    assert subjects(alice, "Old") == ["message 0", "message 1"]
    page = alice_client.get(location).text
    assert "Stopped: 2 messages imported before the stop." in page
    assert "import-abort" not in page
    assert not (mailimport.jobs_dir() / f"{job}.abort").exists()
    again = alice_client.post(f"/account/import/{job}/abort/", follow=True)
    assert "The import of in.mbox already ended." in again.text


def test_another_account_cannot_stop_an_import(alice_client, bob_client, alice, bob):
    location = upload(alice_client, "in.mbox", mbox(1))["Location"]
    job = location.split("job=", 1)[1]
    assert bob_client.post(f"/account/import/{job}/abort/").status_code == 404
    assert wait_done(alice_client, location)["state"] == "done"


def test_a_takeout_upload_is_filed_by_label_at_the_top_level(alice_client, alice):
    data = (
        b"From 1@xxx Mon Jan 01 00:00:00 +0000 2024\nX-Gmail-Labels: Sent,Opened\nSubject: s\n\nhi\n\n"
        b"From 2@xxx Mon Jan 01 00:00:00 +0000 2024\nX-Gmail-Labels: Spam\nSubject: j\n\nhi\n\n"
    )
    p = wait_done(alice_client, upload(alice_client, "All mail Including Spam and Trash.mbox", data)["Location"])
    assert (p["state"], p["counts"]) == ("done", {"Sent": 1, "Junk": 1})
    assert subjects(alice, "Sent") == ["s"]
    assert subjects(alice, "Junk") == ["j"]
