"""Envelope addresses: the RFC 5321 section 4.1.2 Mailbox and Path grammar, extended
with UTF-8 by RFC 6531 section 3.3, and their canonical text form.

A localpart is kept as its value (quotes and backslash escapes removed); formatting
re-quotes it when it is not a dot-string, so `"john..doe"@x` and `"a b"@x` keep their
quotes and `"abc"@x` formats as the equivalent `abc@x` (RFC 5321 section 4.1.2).
Domains are kept in both forms: IDNA A-labels (`ascii`) and U-labels (`unicode`).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

from mailcore.smtp.errors import NonASCIIAddress, ParseError

# RFC 5321 section 4.5.3.1: 64 octets is the minimum to support; like mox we accept
# up to 128 because real mail has longer localparts. Paths and domains as the RFC says.
MAX_LOCALPART = 128
MAX_DOMAIN = 255
MAX_LABEL = 63
MAX_PATH = 256

# RFC 5322 section 3.2.3 atext.
ATEXT_SPECIALS = frozenset("!#$%&'*+-/=?^_`{|}~")


def is_atext(c: str) -> bool:
    """RFC 5322 atext, plus UTF8-non-ascii (RFC 6531 section 3.3)."""
    return ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in ATEXT_SPECIALS or ord(c) > 0x7F


def is_qtext(c: str) -> bool:
    """RFC 5321 qtextSMTP: %d32-33 / %d35-91 / %d93-126, plus UTF8-non-ascii."""
    o = ord(c)
    return o in (32, 33) or 35 <= o <= 91 or 93 <= o <= 126 or o > 0x7F


# RFC 5322 atext, and with RFC 6531's UTF8-non-ascii, as `is_atext` reads it.
_ASCII_ATEXT = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~"
_ATEXT = _ASCII_ATEXT + "\u0080-\U0010ffff"
_DOT_STRING = re.compile(f"[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*")


def is_dot_string(s: str) -> bool:
    """RFC 5321 Dot-string = Atom *("." Atom)."""
    return _DOT_STRING.fullmatch(s) is not None


def quote_localpart(localpart: str) -> str:
    """The canonical localpart: as-is when a dot-string, else a quoted string with only
    the necessary backslashes (RFC 5321 section 4.1.2)."""
    if is_dot_string(localpart):
        return localpart
    out = ['"']
    for c in localpart:
        if c in '"\\':
            out.append("\\")
        out.append(c)
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class Domain:
    """A domain name: `ascii` with A-labels, `unicode` with U-labels; both lower case."""

    ascii: str
    unicode: str

    def __str__(self) -> str:
        return self.unicode

    @property
    def is_ascii_only(self) -> bool:
        return self.ascii == self.unicode


@dataclass(frozen=True)
class Address:
    """A mailbox: localpart plus a domain or an address literal. `domain` and `ip` are
    both None only for the bare `Postmaster` recipient (RFC 5321 section 4.1.1.3)."""

    localpart: str
    domain: Domain | None = None
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None

    def format(self, utf8: bool = True) -> str:
        lp = quote_localpart(self.localpart)
        if self.domain is not None:
            return f"{lp}@{self.domain.unicode if utf8 else self.domain.ascii}"
        if self.ip is not None:
            lit = f"IPv6:{self.ip}" if self.ip.version == 6 else str(self.ip)
            return f"{lp}@[{lit}]"
        return lp

    def __str__(self) -> str:
        return self.format(True)

    @property
    def domain_text(self) -> str:
        """The part after the "@" as it is used for lookups (A-label form for names)."""
        if self.domain is not None:
            return self.domain.ascii
        if self.ip is not None:
            return f"[{self.ip}]"
        return ""

    @property
    def is_ascii(self) -> bool:
        return self.localpart.isascii() and (self.domain is None or self.domain.is_ascii_only)


# An ASCII name whose labels are letters, digits and inner hyphens, at most MAX_LABEL
# long: what `parse_domain` accepts as it is (lower case), without an A-label.
_LDH_LABEL = f"[a-z0-9](?:[a-z0-9-]{{0,{MAX_LABEL - 2}}}[a-z0-9])?"
_LDH_NAME = re.compile(f"{_LDH_LABEL}(?:\\.{_LDH_LABEL})*")


def parse_domain(text: str, *, utf8: bool = True) -> Domain:
    """RFC 5321 Domain (sub-domains of letters, digits and hyphens), or with `utf8`
    U-labels normalised by IDNA 2008 and UTS #46 (RFC 6531 section 3.3)."""
    if not text:
        raise ParseError("empty domain")
    if len(text) > MAX_DOMAIN:
        raise ParseError(f"domain longer than {MAX_DOMAIN} octets")
    if text.isascii():
        lowered = text.lower()
        if _LDH_NAME.fullmatch(lowered) is not None and "xn--" not in lowered:
            return Domain(lowered, lowered)  # the common name, settled by one match
        labels = lowered.split(".")
        for label in labels:
            if not label:
                raise ParseError(f"empty label in domain {text!r}")
            if len(label) > MAX_LABEL:
                raise ParseError(f"label longer than {MAX_LABEL} octets in domain")
            if not all(c.isalnum() or c == "-" for c in label) or label[0] == "-" or label[-1] == "-":
                raise ParseError(f"invalid label {label!r} in domain")
        if not any(label.startswith("xn--") for label in labels):
            return Domain(lowered, lowered)
    elif not utf8:
        raise NonASCIIAddress("non-ascii domain without smtputf8")
    try:
        ascii_form = idna.encode(text, uts46=True).decode("ascii")
        unicode_form = idna.decode(ascii_form)
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise ParseError(f"invalid international domain {text!r}: {exc}") from None
    if len(ascii_form) > MAX_DOMAIN:
        raise ParseError(f"domain longer than {MAX_DOMAIN} octets")
    return Domain(ascii_form.lower(), unicode_form)


class _Scanner:
    """Position-keeping reader over a command argument; every failure is a ParseError."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.o = 0

    def error(self, msg: str) -> ParseError:
        return ParseError(f"{msg} at position {self.o} of {self.s!r}")

    def peek(self, n: int = 1) -> str:
        return self.s[self.o : self.o + n]

    def take(self, literal: str, *, fold: bool = False) -> bool:
        part = self.s[self.o : self.o + len(literal)]
        if part == literal or (fold and part.lower() == literal.lower()):
            self.o += len(literal)
            return True
        return False

    def expect(self, literal: str, *, fold: bool = False) -> None:
        if not self.take(literal, fold=fold):
            raise self.error(f"expected {literal!r}")

    def empty(self) -> bool:
        return self.o >= len(self.s)

    def rest(self) -> str:
        return self.s[self.o :]

    def localpart(self) -> str:
        if self.take('"'):
            out = []
            while True:
                if self.empty():
                    raise self.error("unterminated quoted string")
                c = self.s[self.o]
                self.o += 1
                if c == '"':
                    break
                if c == "\\":
                    # RFC 5321 quoted-pairSMTP = %d92 %d32-126 (RFC 6531 adds UTF-8).
                    if self.empty():
                        raise self.error("backslash at end of quoted string")
                    e = self.s[self.o]
                    if not (32 <= ord(e) <= 126 or ord(e) > 0x7F):
                        raise self.error("invalid quoted-pair")
                    out.append(e)
                    self.o += 1
                elif is_qtext(c):
                    out.append(c)
                else:
                    raise self.error(f"invalid character {c!r} in quoted string")
            value = "".join(out)
        else:
            start = self.o
            while not self.empty() and (is_atext(self.s[self.o]) or self.s[self.o] == "."):
                self.o += 1
            value = self.s[start : self.o]
            if not is_dot_string(value):
                self.o = start
                raise self.error("invalid localpart")
        if len(value.encode("utf-8", "surrogatepass")) > MAX_LOCALPART:
            raise self.error(f"localpart longer than {MAX_LOCALPART} octets")
        return value

    def route_domain(self) -> None:
        start = self.o
        while not self.empty() and self.s[self.o] not in ",:>":
            self.o += 1
        parse_domain(self.s[start : self.o])

    def domain_or_literal(self) -> tuple[Domain | None, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
        if self.take("["):
            end = self.s.find("]", self.o)
            if end < 0:
                raise self.error("unterminated address literal")
            lit = self.s[self.o : end]
            self.o = end + 1
            return None, parse_address_literal(lit)
        start = self.o
        while not self.empty() and self.s[self.o] not in "> \t":
            self.o += 1
        return parse_domain(self.s[start : self.o]), None


def parse_address_literal(lit: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """RFC 5321 section 4.1.3: IPv4 dotted quad, or "IPv6:" and an IPv6 address.
    General-address-literals (a tag other than IPv6) are not supported."""
    try:
        if lit[:5].lower() == "ipv6:":
            return ipaddress.IPv6Address(lit[5:])
        if lit and (lit[0].isdigit()):
            return ipaddress.IPv4Address(lit)
    except ValueError:
        raise ParseError(f"invalid address literal [{lit}]") from None
    raise ParseError(f"unsupported address literal [{lit}]")


def _mailbox(sc: _Scanner) -> Address:
    localpart = sc.localpart()
    sc.expect("@")
    domain, ip = sc.domain_or_literal()
    return Address(localpart, domain, ip)


def _path(sc: _Scanner, *, allow_null: bool, allow_postmaster: bool) -> Address | None:
    """RFC 5321 Path = "<" [ A-d-l ":" ] Mailbox ">"; returns None for the null path."""
    start = sc.o
    sc.expect("<")
    if allow_null and sc.take(">"):
        return None
    if sc.peek() == "@":
        # Source route (A-d-l): RFC 5321 section 4.1.2 says to accept and ignore it.
        while True:
            sc.expect("@")
            sc.route_domain()
            if not sc.take(","):
                break
        sc.expect(":")
    if allow_postmaster and sc.take("postmaster>", fold=True):
        return Address(sc.s[sc.o - len("postmaster>") : sc.o - 1])
    addr = _mailbox(sc)
    sc.expect(">")
    if sc.o - start > MAX_PATH:
        raise ParseError(f"path longer than {MAX_PATH} octets")
    return addr


def parse_address(text: str, *, utf8: bool = True) -> Address:
    """A bare Mailbox (`localpart@domain` or `localpart@[literal]`), nothing around it."""
    sc = _Scanner(text)
    addr = _mailbox(sc)
    if not sc.empty():
        raise sc.error("unexpected text after address")
    if not utf8 and not text.isascii():
        raise NonASCIIAddress("non-ascii address not permitted without smtputf8")
    return addr


# The common path: <dot-string@ascii-domain>, read with one match (`parse_path`).
_PLAIN_PATH = re.compile(f"<([{_ASCII_ATEXT}]+(?:\\.[{_ASCII_ATEXT}]+)*)@([A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*)>")


def parse_path(text: str, *, allow_null: bool = False, allow_postmaster: bool = False) -> tuple[Address | None, str]:
    """A Path at the start of `text`; returns the address (None for "<>") and the rest.
    A plain ASCII path is read with one match; anything else, and anything the match
    does not settle (lengths, the domain's labels), by the grammar's scanner, whose
    answer the match gives (tests/smtp/test_address.py)."""
    m = _PLAIN_PATH.match(text)
    if m is not None and m.end() <= MAX_PATH and len(m.group(1)) <= MAX_LOCALPART:
        try:
            domain = parse_domain(m.group(2))
        except ParseError:
            pass  # the scanner raises it, with its own position
        else:
            return Address(m.group(1), domain), text[m.end():]
    sc = _Scanner(text)
    addr = _path(sc, allow_null=allow_null, allow_postmaster=allow_postmaster)
    return addr, sc.rest()
