"""Errors raised by the IMAP codec."""
from __future__ import annotations


class ParseError(Exception):
    """A command that does not follow the grammar of RFC 9051 section 9.

    `tag` is set once the tag was read, so the session can answer `<tag> BAD ...`;
    `code` is an optional response code such as "BADCHARSET".
    """

    def __init__(self, message: str, *, tag: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tag = tag
        self.code = code
