"""Parsers for incoming reports, no Django: DMARC aggregate reports (RFC 7489
appendix C) and SMTP TLS reports (RFC 8460). Every parser raises only `ParseError`."""
from mailcore.reports.errors import ParseError

__all__ = ["ParseError"]
