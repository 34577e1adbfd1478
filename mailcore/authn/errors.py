"""The one exception the record parsers of mailcore.authn raise on bad input."""
from __future__ import annotations


class ParseError(ValueError):
    pass
