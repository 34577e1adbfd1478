"""Pure helpers for the outgoing SMTP client: address quoting, xtext, SASL mechanism
choice and the order in which to dial a host's IPs. No networking here."""
from __future__ import annotations

from mailcore.smtpclient.helpers import (
    SASL_PREFERENCE,
    choose_mechanism,
    order_ips,
    quote_localpart,
    smtp_path,
    xtext_encode,
)

__all__ = ["SASL_PREFERENCE", "choose_mechanism", "order_ips", "quote_localpart", "smtp_path", "xtext_encode"]
