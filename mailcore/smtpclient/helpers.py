"""Helpers for the outgoing SMTP client (RFC 5321, RFC 3461, RFC 4954)."""
from __future__ import annotations

import ipaddress

from mailcore.smtp.command import encode_xtext

_ATEXT_SPECIALS = frozenset("!#$%&'*+-/=?^_`{|}~")


def _is_atext(c: str) -> bool:
    # RFC 5322 section 3.2.3; RFC 6531 section 3.3 adds UTF-8 characters.
    if ord(c) > 127:
        return True
    return c.isascii() and (c.isalnum() or c in _ATEXT_SPECIALS)


def quote_localpart(localpart: str) -> str:
    """The localpart as RFC 5321 section 4.1.2 Local-part: a Dot-string when it is one,
    else a Quoted-string with backslash before `"` and `\\`."""
    atoms = localpart.split(".")
    if localpart and all(a and all(_is_atext(c) for c in a) for a in atoms):
        return localpart
    escaped = localpart.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def smtp_path(localpart: str, domain: str) -> str:
    """`<local@domain>` for MAIL FROM/RCPT TO; `<>` for the null sender."""
    if not localpart and not domain:
        return "<>"
    return f"<{quote_localpart(localpart)}@{domain}>"


def xtext_encode(value: str) -> str:
    """RFC 3461 section 4: characters outside "!".."~", "+" and "=" become +XX."""
    return encode_xtext(value)


# Most secure first (RFC 5802/7677 SCRAM, RFC 2195 CRAM-MD5, RFC 4616 PLAIN).
SASL_PREFERENCE = ["SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN"]


def choose_mechanism(server: list[str], configured: list[str] | None, *, tls: bool) -> str | None:
    """The most secure mechanism both sides support. `configured` limits ours (empty:
    all); PLAIN sends the password itself and is used only over TLS."""
    offered = {m.upper() for m in server}
    ours = [m.upper() for m in configured] if configured else list(SASL_PREFERENCE)
    for mech in SASL_PREFERENCE:
        if mech not in ours or mech not in offered:
            continue
        if mech == "PLAIN" and not tls:
            continue
        return mech
    return None


def _family(ip: str) -> int:
    return ipaddress.ip_address(ip).version


def order_ips(ips: list[str], previous: list[str]) -> list[str]:
    """The order to dial a host's IPs in (mox dialHost).

    Without earlier attempts the resolver's order is kept. After an attempt: if that
    address family was used only once so far, the same IP goes first, because a
    greylisting server expects the retry from the same peer to the same server; after
    more attempts in that family, the other family goes first, since the trouble may
    be the network path.
    """
    if not previous:
        return list(ips)
    last = previous[-1]
    fam = _family(last)
    same = [p for p in previous if _family(p) == fam]
    in_fam = [ip for ip in ips if _family(ip) == fam]
    other = [ip for ip in ips if _family(ip) != fam]
    if len(same) == 1 or not other:
        ordered = in_fam + other
        if last in ordered:
            ordered.remove(last)
            ordered.insert(0, last)
        return ordered
    return other + in_fam
