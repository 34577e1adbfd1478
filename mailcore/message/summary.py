"""A message's summary for listings and reputation, from its header (RFC 5322)."""
from __future__ import annotations

import email.header
import email.utils
from dataclasses import dataclass, field
from datetime import datetime

from mailcore.message.addresses import address_pairs
from mailcore.message.headers import field_value, message_fields

# The fields a summary reads.
_WANTED = frozenset(("message-id", "subject", "from", "to", "cc", "date"))


@dataclass
class Summary:
    message_id: str = ""
    subject: str = ""
    from_address: str = ""
    to_addresses: list[str] = field(default_factory=list)
    date: datetime | None = None


def summarize(data: bytes) -> Summary:
    """Never raises on malformed input: fields that cannot be read stay empty."""
    return summarize_fields(message_fields(data))


def _decoded(value: str) -> str:
    """RFC 2047 encoded-words decoded, white space runs made one space."""
    if "=?" in value:
        try:
            value = str(email.header.make_header(email.header.decode_header(value)))
        except Exception:  # noqa: BLE001 - an undecodable word stays as it is
            pass
    return " ".join(value.split())


def summarize_fields(fields: list[tuple[str, bytes]]) -> Summary:
    """The summary of a message's `headers.message_fields` (shared with the MIME
    structure at delivery, so the header is split once). Never raises."""
    values: dict[str, list[str]] = {}
    for name, raw in fields:
        lname = name.lower()
        if lname in _WANTED:
            values.setdefault(lname, []).append(field_value(raw))
    out = Summary()
    if "message-id" in values:
        out.message_id = _decoded(values["message-id"][0])[:998]
    if "subject" in values:
        out.subject = _decoded(values["subject"][0])
    try:
        if "from" in values:
            pairs = address_pairs(", ".join(values["from"]))
            out.from_address = pairs[0][1] if pairs else ""
        recipients = values.get("to", []) + values.get("cc", [])
        if recipients:
            out.to_addresses = [a for _, a in address_pairs(", ".join(recipients)) if a]
    except Exception:  # noqa: BLE001
        pass
    if "date" in values:
        try:
            out.date = email.utils.parsedate_to_datetime(values["date"][0])
            if out.date.tzinfo is None:
                out.date = None
        except Exception:  # noqa: BLE001
            out.date = None
    return out
