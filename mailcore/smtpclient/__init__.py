"""Pure helpers for the outgoing SMTP client: address quoting, xtext, SASL mechanism
choice, the order in which to dial a host's IPs, and the parts of a (pipelined) mail
transaction. No networking here."""
from __future__ import annotations

from mailcore.smtpclient.helpers import (
    SASL_PREFERENCE,
    choose_mechanism,
    order_ips,
    quote_localpart,
    smtp_path,
    xtext_encode,
)
from mailcore.smtpclient.transaction import (
    Recipient,
    Reply,
    ReplyError,
    TransactionReplies,
    command_batch,
    data_payload,
    join_reply,
    parse_reply_line,
)

__all__ = [
    "SASL_PREFERENCE", "Recipient", "Reply", "ReplyError", "TransactionReplies", "choose_mechanism", "command_batch",
    "data_payload", "join_reply", "order_ips", "parse_reply_line", "quote_localpart", "smtp_path", "xtext_encode",
]
