from __future__ import annotations

import os
import shutil

from mailstore import files
from mailstore.actions import deliver
from mailstore.models import Message

MSG = b"From: Carol <carol@remote.test>\r\nTo: alice@example.test\r\nSubject: hi\r\nMessage-ID: <1@remote.test>\r\n\r\nbody\r\n"


def test_small_and_large_writes_are_stored_in_order(db):
    pieces = [b"line %d\r\n" % i for i in range(20000)] + [b"x" * (files.WRITE_BUFFER * 3), b"end\r\n"]
    buf = bytearray(b"changed after\r\n")
    with files.TempMessageFile() as tmp:
        for piece in pieces:
            tmp.write(piece)
        tmp.write(buf)
        buf[:] = b"XXXXXXXXXXXXXXX"
        path = tmp.finish()
    assert path.read_bytes() == b"".join(pieces) + b"changed after\r\n"
    assert tmp.size == len(path.read_bytes())
    path.unlink()


def test_a_missing_tmp_directory_is_made_again(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    path = files.write_temp(MSG)
    shutil.rmtree(tmp_path / "tmp")
    path = files.write_temp(MSG)
    assert path.parent == tmp_path / "tmp"
    assert path.read_bytes() == MSG
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_an_unfinished_or_discarded_file_is_removed(db):
    with files.TempMessageFile() as tmp:
        tmp.write(MSG)
    assert not tmp.path.exists()
    tmp = files.TempMessageFile()
    tmp.write(MSG)
    tmp.finish()
    tmp.discard()
    assert not tmp.path.exists()


def test_delivery_from_held_bytes_stores_what_reading_the_file_stores(alice):
    path = files.write_temp(MSG)
    try:
        read = deliver(alice, "Inbox", path, prefix=b"Received: x\r\n")
        held = deliver(alice, "Inbox", path, prefix=b"Received: x\r\n", data=MSG)
    finally:
        path.unlink()
    skip = {"id", "uid", "modseq", "created_modseq", "path", "received"}
    row = {f.attname for f in Message._meta.concrete_fields} - skip
    a = Message.objects.filter(pk=read.pk).values(*row).get()
    b = Message.objects.filter(pk=held.pk).values(*row).get()
    assert a == b
    assert files.message_path(held.path).read_bytes() == MSG


def test_place_makes_a_missing_directory_and_links(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    source = files.write_temp(MSG)
    dest = tmp_path / "accounts" / "1" / "msg" / "ab" / "abcd"
    files.place(source, dest)
    files.place(source, dest.parent / "abce")
    assert dest.read_bytes() == MSG and os.stat(dest).st_nlink == 3


def test_put_writes_held_bytes_into_place_and_makes_the_directory(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    dest, _ = files.new_message_path(7, "ab")
    files.put(dest, None, MSG)
    files.sync_dirs([dest])
    assert dest.read_bytes() == MSG
    assert dest.parent.name == "ab"


def test_put_links_a_finished_file(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    source = files.write_temp(MSG)
    dest, _ = files.new_message_path(7)
    files.put(dest, source, None)
    assert dest.read_bytes() == MSG
    assert os.stat(dest).st_ino == os.stat(source).st_ino


def test_put_leaves_nothing_when_the_write_fails(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    dest, _ = files.new_message_path(7, "cd")

    def no_space(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "write", no_space)
    try:
        files.put(dest, None, MSG)
    except OSError as exc:
        assert exc.errno == 28
    else:
        raise AssertionError("the write error must reach the caller")
    assert not dest.exists()


def test_begin_put_writes_the_file_at_its_place_and_complete_makes_it_durable(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    dest, _ = files.new_message_path(7, "ef")
    placement = files.begin_put(dest, None, MSG)
    # Written at its place (its bucket made) and its writeback started, not yet durable;
    # tmp/ not used.
    assert dest.read_bytes() == MSG and synced == []
    assert not (tmp_path / "tmp").exists()
    placement.complete()
    assert len(synced) == 1
    assert dest.read_bytes() == MSG
    placement.complete()  # again: nothing more
    assert len(synced) == 1


def test_a_placement_that_fails_fails_again_and_leaves_nothing(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    dest, _ = files.new_message_path(7, "ef")
    placement = files.begin_put(dest, None, MSG)

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files.os, "fsync", broken)
    for _ in range(2):
        try:
            placement.complete()
        except OSError as exc:
            assert exc.errno == 5
        else:
            raise AssertionError("the fsync error must reach the caller, each time")
    assert not dest.exists() and not (tmp_path / "tmp").exists()


def test_a_discarded_placement_leaves_nothing(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    dest, _ = files.new_message_path(7, "ef")
    files.begin_put(dest, None, MSG).discard()
    assert not dest.exists() and not (tmp_path / "tmp").exists()
    source = files.write_temp(MSG)
    linked = files.begin_put(dest, source, None)
    assert dest.read_bytes() == MSG  # a finished file is linked at once
    linked.discard()
    assert not dest.exists() and source.exists()


def test_delivery_bucket_stays_for_a_run_of_deliveries_then_changes(monkeypatch):
    monkeypatch.setattr(files, "_bucket_run", [files.BUCKET_RUN, ""])
    drawn = iter(["aa", "bb"])
    monkeypatch.setattr(files, "new_bucket", lambda: next(drawn))
    buckets = [files.delivery_bucket() for _ in range(files.BUCKET_RUN + 1)]
    assert buckets == ["aa"] * files.BUCKET_RUN + ["bb"]
