"""A message's summary for listings and reputation, from its header (RFC 5322)."""
from __future__ import annotations

import email.header
import email.parser
import email.policy
import email.utils
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Summary:
    message_id: str = ""
    subject: str = ""
    from_address: str = ""
    to_addresses: list[str] = field(default_factory=list)
    date: datetime | None = None


def header_block(data: bytes) -> bytes:
    """The header section: everything up to the first empty line (CRLF or bare LF)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = data.find(sep)
        if end >= 0:
            return data[: end + len(sep)]
    return data


def summarize(data: bytes) -> Summary:
    """Never raises on malformed input: fields that cannot be read stay empty."""
    text = header_block(data).decode("utf-8", "surrogateescape")
    try:
        msg = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
    except Exception:  # noqa: BLE001 - broken input must not stop delivery
        return Summary()
    out = Summary()

    def get(name: str) -> str:
        value = msg.get(name)
        if value is None:
            return ""
        try:
            decoded = str(email.header.make_header(email.header.decode_header(str(value))))
        except Exception:  # noqa: BLE001
            decoded = str(value)
        return " ".join(decoded.encode("utf-8", "replace").decode("utf-8").split())

    out.message_id = get("Message-ID")[:998]
    out.subject = get("Subject")
    try:
        addrs = email.utils.getaddresses([str(v) for v in msg.get_all("From", [])])
        out.from_address = addrs[0][1] if addrs else ""
        out.to_addresses = [
            a for _, a in email.utils.getaddresses([str(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])]) if a
        ]
    except Exception:  # noqa: BLE001
        pass
    try:
        date = msg.get("Date")
        if date:
            out.date = email.utils.parsedate_to_datetime(str(date))
            if out.date.tzinfo is None:
                out.date = None
    except Exception:  # noqa: BLE001
        out.date = None
    out.from_address = out.from_address.encode("utf-8", "replace").decode("utf-8")
    out.to_addresses = [a.encode("utf-8", "replace").decode("utf-8") for a in out.to_addresses]
    return out
