"""atheris: IMAP command lines (RFC 9051 section 9 grammar) and mailbox names."""
from __future__ import annotations

import atheris

import harness

with atheris.instrument_imports():
    from mailcore.imap import utf7
    from mailcore.imap.command import parse_command
    from mailcore.imap.errors import ParseError
    from mailcore.imap.reader import literal_request


def test_one_input(data: bytes) -> None:
    harness.only((ParseError,), lambda: parse_command(data))
    literal_request(data)
    harness.only((ParseError,), lambda: utf7.decode(harness.text(data)))


if __name__ == "__main__":
    harness.main(test_one_input)
