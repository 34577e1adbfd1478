"""A received message between the end of DATA (or the last BDAT) and its storage.

A message smaller than connection.WRITE_CHUNK is held in memory until then. A local
delivery to one recipient writes those bytes straight into the mailbox directory, in
the thread storing it (`source()` is None: mailstore.files.begin_put);
this spool's own temporary file is written only for a call that needs one (`file()`:
several recipients, whose copies are links to it), and the analysis on the event loop
reads the bytes without touching the disk. The 250
still comes only after the delivery, so the file, its directory and the row are
durable before it. A larger message, or one sent with BDAT, arrives spooled and
finished.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailstore.actions import Parsed
    from mailstore.files import TempMessageFile


# Bytes read for a header section.
HEAD_LIMIT = 1024 * 1024


def header_section(data: bytes) -> bytes:
    """The header section of `data` up to and including its empty line; all of `data`
    when it has none."""
    end = data.find(b"\r\n\r\n")
    return data[: end + 4] if end >= 0 else data


class SpoolError(Exception):
    """The temporary file could not be written (a full disk): the message is refused
    with 452, as when the data could not be stored while it arrived."""


class Spool:
    def __init__(self, *, data: bytes | None = None, tmp: TempMessageFile | None = None) -> None:
        assert (data is None) != (tmp is None)
        # The whole message, while it is held in memory.
        self.data = data
        self._tmp = tmp
        self.size = len(data) if data is not None else tmp.size  # type: ignore[union-attr]
        self._parsed: Parsed | None = None

    @property
    def written(self) -> bool:
        return self._tmp is not None

    def file(self) -> Path:
        """The message's fsynced temporary file, written now if it was in memory. Blocks:
        only in a database thread. Raises SpoolError when it cannot be written."""
        if self._tmp is None:
            from mailstore.files import TempMessageFile

            tmp = None
            try:
                tmp = TempMessageFile()
                tmp.write(self.data)  # type: ignore[arg-type]
                tmp.finish()
            except OSError as exc:
                if tmp is not None:
                    tmp.discard()
                raise SpoolError(str(exc)) from exc
            self._tmp = tmp
        return self._tmp.path

    def source(self) -> Path | None:
        """The temporary file if it was written, else None: the delivery then writes
        the bytes in memory into place itself (mailstore.files.begin_put)."""
        return self._tmp.path if self._tmp is not None else None

    def parsed(self) -> Parsed:
        """The message's parse for its rows (mailstore.actions.parse_message), made once
        for all its recipients. Blocks (reads a spooled file): only in a database or the
        delivery thread."""
        if self._parsed is None:
            from mailstore.actions import parse_message

            self._parsed = parse_message(self.read())
        return self._parsed

    def read(self, limit: int = -1) -> bytes:
        """The message's bytes (the first `limit`); from the file when it is not held
        in memory (blocking, as reading a spooled message always was)."""
        if self.data is not None:
            return self.data if limit < 0 else self.data[:limit]
        assert self._tmp is not None
        with open(self._tmp.path, "rb") as fh:
            return fh.read(limit)

    def head(self) -> bytes:
        """The header section (see `header_section`), of at most HEAD_LIMIT bytes."""
        return header_section(self.data[:HEAD_LIMIT] if self.data is not None else self.read(HEAD_LIMIT))

    def cleanup(self) -> None:
        """Remove the temporary file, if one was written."""
        if self._tmp is not None:
            self._tmp.cleanup()
