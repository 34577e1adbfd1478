"""The one exception the SMTP parsers raise."""
from __future__ import annotations


class ParseError(ValueError):
    """Input that does not match the grammar; the message says where and why."""


class UnknownParameter(ParseError):
    """An ESMTP parameter we do not implement (RFC 5321 section 4.1.1.11: reply 555)."""


class NonASCIIAddress(ParseError):
    """A UTF-8 address without the SMTPUTF8 parameter (RFC 6531 section 3.4)."""
