"""Compose a delivery status notification (RFC 3464) as message bytes.

The result is a multipart/report (RFC 6522) with three parts: a human-readable
text, the machine-readable message/delivery-status, and the returned message
(whole, or only its header when RET=HDRS was asked for, RFC 3461 section 4.3).

When an address or the returned header holds non-ASCII text, the UTF-8 variant of
RFC 6533 is used: message/global-delivery-status, address type "utf-8", and
message/global or message/global-headers for the returned part.
"""
from __future__ import annotations

import quopri
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from enum import StrEnum

CRLF = b"\r\n"


class Action(StrEnum):
    """RFC 3464 section 2.3.3."""

    failed = "failed"
    delayed = "delayed"
    delivered = "delivered"
    relayed = "relayed"
    expanded = "expanded"


@dataclass
class Recipient:
    """One per-recipient block (RFC 3464 section 2.3)."""

    final_recipient: str  # the address we tried, localpart@domain
    action: Action
    status: str  # enhanced status code, e.g. "5.1.1" (RFC 3463)
    original_recipient: str = ""  # the ORCPT value: "rfc822;addr" (RFC 3461 section 4.2)
    remote_mta: str = ""  # host name of the remote MTA that gave the reply
    diagnostic: str = ""  # the remote's reply, "550 5.1.1 no such user"
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None


@dataclass
class DSN:
    reporting_mta: str  # our host name
    from_address: str  # postmaster@<hostname>
    to_address: str  # the original envelope sender
    subject: str
    text: str  # the human-readable explanation, without trailing newline needed
    recipients: list[Recipient]
    original: bytes = b""  # the message (or its header) being reported on
    headers_only: bool = True
    envelope_id: str = ""  # ENVID, decoded (RFC 3461 section 4.4)
    arrival_date: datetime | None = None
    received_from_mta: str = ""  # "name (ip)" of the client we received it from (section 2.2.4)
    date: datetime | None = None
    message_id: str = ""  # without <>; generated when empty
    boundary: str = ""  # generated when empty
    extra_headers: list[tuple[str, str]] = field(default_factory=list)


_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")


def enhanced_status(reply_code: int, reply_text: str, *, permanent: bool | None = None) -> str:
    """The enhanced status code for a DSN: the one the remote gave at the start of its
    reply text (RFC 2034 section 4), else X.0.0 from the reply code's class."""
    m = _ENHANCED.match(reply_text)
    if m and (reply_code == 0 or str(reply_code)[0] == m.group(1)):
        return f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
    if permanent is None:
        permanent = reply_code >= 500
    return "5.0.0" if permanent else "4.0.0"


def headers_of(message: bytes) -> bytes:
    """The header section of a message, up to and including the empty line."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = message.find(sep)
        if i >= 0:
            return message[: i + len(sep)]
    return message


def _ascii(s: str) -> bool:
    return s.isascii()


def needs_utf8(dsn: DSN) -> bool:
    """RFC 6533 section 3: the UTF-8 variant is needed when an address or a returned
    header field holds UTF-8; a message body with 8-bit content alone does not."""
    addresses = [dsn.to_address, dsn.from_address]
    for r in dsn.recipients:
        addresses += [r.final_recipient, r.original_recipient]
    if not all(_ascii(a) for a in addresses):
        return True
    return not headers_of(dsn.original).isascii()


def _quoted_printable(data: bytes) -> bytes:
    """CRLF text as quoted-printable (RFC 2045 section 6.7), lines kept, CRLF ends."""
    return quopri.encodestring(data.replace(CRLF, b"\n")).replace(b"\n", CRLF)


def _normalize_newlines(data: bytes) -> bytes:
    """Returned content with CRLF line endings, as a message part must have (RFC 5322)."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def _field_text(s: str, utf8: bool) -> str:
    """A value safe on one header line: no CR/LF, ASCII unless UTF-8 is allowed."""
    s = " ".join(s.split())
    if not utf8:
        s = s.encode("ascii", "replace").decode("ascii")
    return s


def _address_field(addr: str, utf8: bool) -> str:
    """`addr-type; address` (RFC 3464 section 2.3.2, RFC 6533 section 3 for utf-8)."""
    if addr.isascii():
        return f"rfc822; {addr}"
    if utf8:
        return f"utf-8; {addr}"
    # Not reached when needs_utf8() decided the variant; xtext-like escape keeps ASCII.
    return "rfc822; " + addr.encode("ascii", "backslashreplace").decode("ascii")


def _original_recipient(value: str, utf8: bool) -> str:
    if ";" in value:
        kind, _, addr = value.partition(";")
        return f"{kind.strip()}; {_field_text(addr.strip(), utf8)}"
    return _address_field(value, utf8)


def _diagnostic(text: str, utf8: bool) -> str:
    """RFC 3464 section 2.3.6: diagnostic-type "smtp" and the remote's reply text."""
    return "smtp; " + _field_text(text, utf8)


def ascii_possible(dsn: DSN) -> bool:
    """Whether a 7-bit variant can be made: its addresses are ASCII (a UTF-8 localpart
    has no ASCII form; domains are given as A-labels by the caller)."""
    addresses = [dsn.to_address, dsn.from_address] + [r.final_recipient for r in dsn.recipients]
    return all(_ascii(a) for a in addresses)


def compose(dsn: DSN, *, seven_bit: bool = False) -> bytes:
    """The DSN message as CRLF bytes. `seven_bit`: the variant for a next hop without
    SMTPUTF8 (mox queues it beside the UTF-8 one): plain delivery-status and
    rfc822-headers types, non-ASCII text and returned header fields quoted-printable,
    UTF-8 in report fields replaced; a whole returned message with 8-bit content stays
    8bit (message/rfc822 takes no other encoding). Needs `ascii_possible(dsn)`."""
    utf8 = needs_utf8(dsn) and not seven_bit
    boundary = dsn.boundary or "report-" + secrets.token_hex(12)
    msgid = dsn.message_id or f"{secrets.token_hex(12)}@{dsn.reporting_mta}"
    date = dsn.date or datetime.now().astimezone()

    def line(s: str) -> bytes:
        return s.encode("utf-8") + CRLF

    out = bytearray()
    # RFC 5322 header; RFC 3834 section 5 Auto-Submitted so responders stay quiet.
    out += line(f"From: <{dsn.from_address}>")
    out += line(f"To: <{dsn.to_address}>")
    out += line(f"Subject: {_field_text(dsn.subject, utf8)}")
    out += line(f"Message-Id: <{msgid}>")
    out += line(f"Date: {format_datetime(date)}")
    for name, value in dsn.extra_headers:
        out += line(f"{name}: {_field_text(value, utf8)}")
    out += line("MIME-Version: 1.0")
    out += line(f'Content-Type: multipart/report; report-type="delivery-status"; boundary="{boundary}"')
    out += line("Auto-Submitted: auto-replied")
    out += CRLF
    out += line("This is a MIME-formatted message.")
    out += CRLF

    # Part 1: for people (RFC 6522 section 3).
    text = _normalize_newlines(dsn.text.rstrip("\n").encode("utf-8")) + CRLF
    out += line(f"--{boundary}")
    if text.isascii():
        out += line("Content-Type: text/plain; charset=us-ascii")
        out += line("Content-Transfer-Encoding: 7bit")
    else:
        out += line("Content-Type: text/plain; charset=utf-8")
        out += line("Content-Transfer-Encoding: " + ("quoted-printable" if seven_bit else "8bit"))
        if seven_bit:
            text = _quoted_printable(text)
    out += CRLF
    out += text
    out += CRLF

    # Part 2: message/delivery-status (RFC 3464 section 2.1).
    out += line(f"--{boundary}")
    if utf8:
        out += line("Content-Type: message/global-delivery-status")
        out += line("Content-Transfer-Encoding: 8bit")
    else:
        out += line("Content-Type: message/delivery-status")
    out += CRLF
    # Per-message fields, RFC 3464 section 2.2.
    out += line(f"Reporting-MTA: dns; {dsn.reporting_mta}")
    if dsn.envelope_id:
        out += line(f"Original-Envelope-Id: {_field_text(dsn.envelope_id, utf8)}")
    if dsn.received_from_mta:
        out += line(f"Received-From-MTA: dns; {_field_text(dsn.received_from_mta, utf8)}")
    if dsn.arrival_date:
        out += line(f"Arrival-Date: {format_datetime(dsn.arrival_date)}")
    for r in dsn.recipients:
        # Per-recipient fields, RFC 3464 section 2.3, each block after an empty line.
        out += CRLF
        if r.original_recipient:
            out += line(f"Original-Recipient: {_original_recipient(r.original_recipient, utf8)}")
        out += line(f"Final-Recipient: {_address_field(r.final_recipient, utf8)}")
        out += line(f"Action: {r.action}")
        out += line(f"Status: {r.status}")
        if r.remote_mta:
            out += line(f"Remote-MTA: dns; {_field_text(r.remote_mta, utf8)}")
        if r.diagnostic:
            out += line(f"Diagnostic-Code: {_diagnostic(r.diagnostic, utf8)}")
        if r.last_attempt:
            out += line(f"Last-Attempt-Date: {format_datetime(r.last_attempt)}")
        if r.will_retry_until:
            out += line(f"Will-Retry-Until: {format_datetime(r.will_retry_until)}")
    out += CRLF

    # Part 3: the returned message or header (RFC 3462/6522 section 3, RFC 6533 section 6).
    if dsn.original:
        original = _normalize_newlines(headers_of(dsn.original) if dsn.headers_only else dsn.original)
        if dsn.headers_only:
            ctype = "message/global-headers" if utf8 else "text/rfc822-headers"
        else:
            ctype = "message/global" if utf8 else "message/rfc822"
        out += line(f"--{boundary}")
        out += line(f"Content-Type: {ctype}")
        if not original.isascii():
            if seven_bit and dsn.headers_only:
                # RFC 6522 section 3: text/rfc822-headers may take an encoding.
                out += line("Content-Transfer-Encoding: quoted-printable")
                original = _quoted_printable(original)
            else:
                out += line("Content-Transfer-Encoding: 8bit")
        out += line("Content-Disposition: inline")
        out += CRLF
        out += original
        if not original.endswith(CRLF):
            out += CRLF
        out += CRLF
    out += line(f"--{boundary}--")
    return bytes(out)
