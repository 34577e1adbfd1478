"""mailcore.randomid: ids from a buffer of the system's random bytes, none handed out
twice, in threads or in a forked child."""
from __future__ import annotations

import os
import re
import threading

from mailcore import randomid


def test_ids_have_the_asked_length_and_do_not_repeat() -> None:
    ids = [randomid.token_hex(12) for _ in range(5000)]  # several refills
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert len(randomid.token_hex(randomid.REFILL + 10)) == 2 * (randomid.REFILL + 10)


def test_threads_share_the_buffer_without_handing_out_the_same_bytes() -> None:
    found: list[list[str]] = [[] for _ in range(8)]

    def take(i: int) -> None:
        found[i] = [randomid.token_hex(8) for _ in range(2000)]

    threads = [threading.Thread(target=take, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in found for i in ids]
    assert len(set(every)) == len(every) == 16000


def test_a_forked_child_does_not_hand_out_its_parents_bytes() -> None:
    randomid.token_hex(1)  # the parent's buffer holds unused bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, " ".join(randomid.token_hex(8) for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as fh:
        child = set(fh.read().split())
    parent = {randomid.token_hex(8) for _ in range(100)}
    assert len(child) == 100 and not child & parent
