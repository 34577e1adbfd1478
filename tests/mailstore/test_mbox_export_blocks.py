"""The mbox writer converts a message a block of lines at a time: what it writes must not
depend on where the blocks end (lines longer than a block, a CRLF split between two
blocks, "From " at a block's start that is or is not a line start)."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from mailstore import files
from mailstore.importexport import _MBOX_BLOCK, write_mbox_message
from mailstore.models import Message


def _write(tmp_path, data: bytes, prefix: bytes = b"") -> bytes:  # type: ignore[no-untyped-def]
    rel = "blocks/m"
    (files.data_dir() / "blocks").mkdir(parents=True, exist_ok=True)
    files.message_path(rel).write_bytes(data)
    m = Message(path=rel, prefix=prefix, mail_from="a@example.org", received=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    out = io.BytesIO()
    write_mbox_message(out, m)
    return out.getvalue()


HEAD = b"From a@example.org Fri Jan  2 03:04:05 2026\n"


@pytest.mark.parametrize("fill", [_MBOX_BLOCK - 7, _MBOX_BLOCK - 6, _MBOX_BLOCK - 1, _MBOX_BLOCK, _MBOX_BLOCK + 3])
def test_an_over_long_line_keeps_its_from_unescaped_and_the_next_line_escaped(tmp_path, fill):
    data = b"x" * fill + b"From \r\nFrom me\r\n>From you\r\nend"
    assert _write(tmp_path, data) == HEAD + b"x" * fill + b"From \n>From me\n>>From you\nend\n\n"


@pytest.mark.parametrize("cut", [_MBOX_BLOCK - 2, _MBOX_BLOCK - 1, _MBOX_BLOCK])
def test_a_crlf_split_between_blocks_becomes_one_lf(tmp_path, cut):
    line = b"y" * (cut - 1) + b"\r\n"
    assert _write(tmp_path, b"a\r\n" + line + b"From x\r\n") == HEAD + b"a\n" + line[:-2] + b"\n>From x\n\n"


def test_the_prefix_and_a_lone_cr_at_the_end(tmp_path):
    assert _write(tmp_path, b"From: b\r\n\r\nbody\r", prefix=b"Received: by us\r\n") == (
        HEAD + b"Received: by us\nFrom: b\n\nbody\r\n\n"
    )
