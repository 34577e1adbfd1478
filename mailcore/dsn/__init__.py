"""Delivery status notifications: composition of RFC 3464 multipart/report messages,
with the UTF-8 variant of RFC 6533 when an address or the returned headers need it."""
from __future__ import annotations

from mailcore.dsn.compose import DSN, Action, Recipient, compose, enhanced_status, headers_of, needs_utf8

__all__ = ["DSN", "Action", "Recipient", "compose", "enhanced_status", "headers_of", "needs_utf8"]
