"""The RFC5322.From domain that DMARC evaluates and DKIM signing uses."""
from __future__ import annotations

import email.parser
import email.policy
import email.utils

import idna


def _header_block(message: bytes) -> str:
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = message.find(sep)
        if end >= 0:
            return message[: end + len(sep)].decode("utf-8", "surrogateescape")
    return message.decode("utf-8", "surrogateescape")


def from_domain(message: bytes) -> str:
    """The RFC5322.From domain DMARC evaluates (RFC 7489 section 6.6.1): exactly one
    From header with exactly one address, else "" (DMARC none, as mox)."""
    try:
        msg = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(_header_block(message))
        values = msg.get_all("From") or []
        if len(values) != 1:
            return ""
        addrs = [a for _, a in email.utils.getaddresses([str(values[0])]) if a]
    except Exception:  # noqa: BLE001 - a broken header is "no usable From"
        return ""
    if len(addrs) != 1 or "@" not in addrs[0]:
        return ""
    domain = addrs[0].rpartition("@")[2].strip().rstrip(".").lower()
    if not domain:
        return ""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return ""
