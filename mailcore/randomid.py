"""Random identifiers (file names, connection and trace ids) from a buffer of the
system's random bytes, so that taking one is not a system call.

Each id took its own `os.urandom` call: on the SMTP delivery path, two or three per
message, each a release of the GIL and a wait to take it back from the other busy
thread. The bytes are the same `os.urandom` bytes, each handed out once; a forked child
starts with an empty buffer, so that no two processes hand out the same bytes.
"""
from __future__ import annotations

import os
import threading

# Bytes drawn from the system at a time.
REFILL = 4096


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._pos + n > len(self._buffer):
                self._buffer = os.urandom(max(REFILL, n))
                self._pos = 0
            out = self._buffer[self._pos : self._pos + n]
            self._pos += n
            return out

    def forget(self) -> None:
        """In a forked child: nothing of the parent's bytes is handed out again."""
        self._lock = threading.Lock()
        self._buffer = b""
        self._pos = 0


_pool = _Pool()
os.register_at_fork(after_in_child=_pool.forget)


def token_hex(nbytes: int) -> str:
    """As `secrets.token_hex`: 2 * nbytes hexadecimal digits."""
    return _pool.take(nbytes).hex()
