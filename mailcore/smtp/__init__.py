"""SMTP protocol codec without networking or Django (RFC 5321, RFC 6531, RFC 3461,
RFC 1870, RFC 6152, RFC 8689, RFC 3030).

- `address`: the Mailbox/Path grammar with quoted and UTF-8 localparts, IDNA domains
  and address literals, and its canonical formatting.
- `command`: MAIL FROM and RCPT TO arguments with their ESMTP parameters.
- `data`: the DATA reader that dot-unstuffs and rejects bare CR/LF (SMTP smuggling).
- `codes`: reply codes and enhanced status codes (RFC 3463).
"""
from __future__ import annotations

from mailcore.smtp.errors import ParseError

__all__ = ["ParseError"]
