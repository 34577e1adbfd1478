"""The one error the report parsers raise."""
from __future__ import annotations


class ParseError(ValueError):
    """A report that cannot be read: not found in the message, too large, compressed
    wrongly, malformed, or missing required fields. The message says which."""
