"""MAIL FROM and RCPT TO arguments with their ESMTP parameters.

- RFC 5321 section 4.1.1.2-3 and 4.1.2 (syntax), section 4.1.1.11 (parameters).
- SIZE: RFC 1870. BODY: RFC 6152 (8BITMIME) and RFC 3030 (BINARYMIME, not offered).
- SMTPUTF8: RFC 6531 section 3.4. AUTH=: RFC 4954 section 5. REQUIRETLS: RFC 8689.
- DSN: RET and ENVID (MAIL), NOTIFY and ORCPT (RCPT), RFC 3461 section 4; xtext
  (RFC 3461 section 4) and utf-8-addr-xtext (RFC 6533 section 3).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mailcore.smtp.address import Address, parse_address, parse_path
from mailcore.smtp.errors import NonASCIIAddress, ParseError, UnknownParameter

MAX_ENVID = 100  # RFC 3461 section 4.4
MAX_SIZE_DIGITS = 20  # RFC 1870 section 4


@dataclass
class MailParams:
    size: int | None = None
    body: str = ""  # "", "7BIT" or "8BITMIME"
    smtputf8: bool = False
    auth: str | None = None  # decoded AUTH= value: "<>" or a mailbox
    ret: str = ""  # "", "FULL" or "HDRS"
    envid: str = ""  # decoded xtext
    requiretls: bool = False


@dataclass
class RcptParams:
    notify: list[str] = field(default_factory=list)  # NEVER, or some of SUCCESS/FAILURE/DELAY
    orcpt: str = ""  # as sent: "addr-type;xtext"
    orcpt_type: str = ""
    orcpt_address: str = ""  # decoded


@dataclass
class MailCommand:
    sender: Address | None  # None is the null reverse-path "<>"
    params: MailParams


@dataclass
class RcptCommand:
    recipient: Address
    params: RcptParams


def decode_xtext(value: str) -> str:
    """RFC 3461 section 4: xchar (ASCII 33-126 except "+" and "=") and "+" HEXCHAR
    (two upper-case hex digits)."""
    out = bytearray()
    i = 0
    while i < len(value):
        c = value[i]
        if c == "+":
            h = value[i + 1 : i + 3]
            if len(h) != 2 or not all(x in "0123456789ABCDEF" for x in h):
                raise ParseError(f"invalid xtext hexchar in {value!r}")
            out.append(int(h, 16))
            i += 3
            continue
        if not (33 <= ord(c) <= 126) or c == "=":
            raise ParseError(f"invalid xtext character {c!r}")
        out.append(ord(c))
        i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("xtext does not decode to utf-8") from None


def encode_xtext(value: str) -> str:
    out = []
    for b in value.encode("utf-8"):
        if 33 <= b <= 126 and b not in (ord("+"), ord("=")):
            out.append(chr(b))
        else:
            out.append(f"+{b:02X}")
    return "".join(out)


def decode_utf8_addr_xtext(value: str) -> str:
    """RFC 6533 section 3: utf-8-addr-xtext/unitext with "\\x{HEX}" escapes; plain
    xtext "+HH" is accepted too since it is the older encoding of the same field."""
    out = []
    i = 0
    while i < len(value):
        if value.startswith("\\x{", i):
            end = value.find("}", i)
            if end < 0:
                raise ParseError("unterminated \\x{ in ORCPT")
            hexs = value[i + 3 : end]
            if not hexs or len(hexs) > 6 or not all(x in "0123456789ABCDEFabcdef" for x in hexs):
                raise ParseError("invalid \\x{} escape in ORCPT")
            cp = int(hexs, 16)
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise ParseError("invalid code point in ORCPT")
            out.append(chr(cp))
            i = end + 1
            continue
        c = value[i]
        if c == "+":
            return decode_xtext(value)
        if c == "=" or (ord(c) < 33) or ord(c) == 127:
            raise ParseError(f"invalid character {c!r} in ORCPT")
        out.append(c)
        i += 1
    return "".join(out)


def _keyword_ok(k: str) -> bool:
    # esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    return bool(k) and k.isascii() and k[0].isalnum() and all(c.isalnum() or c == "-" for c in k)


def _value_ok(v: str) -> bool:
    # esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 adds UTF8-non-ascii.
    return bool(v) and all(33 <= ord(c) <= 126 and c != "=" or ord(c) > 127 for c in v)


def parse_params(text: str) -> list[tuple[str, str | None]]:
    """RFC 5321 Mail-parameters/Rcpt-parameters after a path: upper-cased keywords with
    their values exactly as sent. Duplicates are a syntax error (mox: 501)."""
    params: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    if not text.strip():
        return params
    if not text.startswith(" "):
        raise ParseError(f"expected space before parameters in {text!r}")
    for word in text.split(" "):
        if not word:
            continue
        key, eq, value = word.partition("=")
        if not _keyword_ok(key):
            raise ParseError(f"invalid parameter keyword {key!r}")
        if eq and not _value_ok(value):
            raise ParseError(f"invalid value for parameter {key}")
        key = key.upper()
        if key in seen:
            raise ParseError(f"duplicate parameter {key}")
        seen.add(key)
        params.append((key, value if eq else None))
    return params


def _no_value(key: str, value: str | None) -> None:
    if value is not None:
        raise ParseError(f"parameter {key} takes no value")


def _value(key: str, value: str | None) -> str:
    if value is None:
        raise ParseError(f"parameter {key} needs a value")
    return value


def _strip_keyword(arg: str, keyword: str) -> str:
    if arg[: len(keyword)].upper() != keyword:
        raise ParseError(f"expected {keyword}")
    rest = arg[len(keyword) :]
    # Tolerated although not in RFC 5321: "MAIL FROM: <x>" (sent by some clients).
    return rest.lstrip(" ")


def parse_mail(arg: str) -> MailCommand:
    """The argument of MAIL (`FROM:<path> [params]`). Non-ASCII senders without
    SMTPUTF8 raise NonASCIIAddress (mox answers 550 5.6.7)."""
    path = _strip_keyword(arg, "FROM:")
    sender, rest = parse_path(path, allow_null=True)
    path = path[: len(path) - len(rest)]
    mp = MailParams()
    for key, value in parse_params(rest):
        if key == "SIZE":
            v = _value(key, value)
            if not v.isascii() or not v.isdigit() or len(v) > MAX_SIZE_DIGITS:
                raise ParseError("SIZE must be a number")
            mp.size = int(v)
        elif key == "BODY":
            v = _value(key, value).upper()
            if v not in ("7BIT", "8BITMIME"):
                raise UnknownParameter(f"unrecognized parameter BODY={value}")
            mp.body = v
        elif key == "SMTPUTF8":
            _no_value(key, value)
            mp.smtputf8 = True
        elif key == "AUTH":
            # RFC 4954 section 5: xtext-encoded mailbox or "<>"; decoded and kept only.
            v = decode_xtext(_value(key, value))
            if v != "<>":
                parse_address(v)
            mp.auth = v
        elif key == "RET":
            v = _value(key, value).upper()
            if v not in ("FULL", "HDRS"):
                raise ParseError("RET must be FULL or HDRS")
            mp.ret = v
        elif key == "ENVID":
            v = decode_xtext(_value(key, value))
            if len(_value(key, value)) > MAX_ENVID:
                raise ParseError(f"ENVID longer than {MAX_ENVID} characters")
            if not v.isascii() or not v.isprintable():
                raise ParseError("ENVID must be printable ascii")
            mp.envid = v
        elif key == "REQUIRETLS":
            _no_value(key, value)
            mp.requiretls = True
        else:
            raise UnknownParameter(f"unrecognized parameter {key}")
    # RFC 6531 section 3.4: UTF-8 on the wire needs SMTPUTF8; an IDNA A-label domain
    # (xn--...) is plain ASCII and does not.
    if sender is not None and not mp.smtputf8 and not path.isascii():
        raise NonASCIIAddress("non-ascii address not permitted without smtputf8")
    return MailCommand(sender, mp)


def parse_rcpt(arg: str, *, smtputf8: bool) -> RcptCommand:
    """The argument of RCPT (`TO:<path> [params]`); `<Postmaster>` alone is allowed."""
    path = _strip_keyword(arg, "TO:")
    recipient, rest = parse_path(path, allow_postmaster=True)
    path = path[: len(path) - len(rest)]
    assert recipient is not None
    rp = RcptParams()
    for key, value in parse_params(rest):
        if key == "NOTIFY":
            # RFC 3461 section 4.1: "NEVER" alone, or a list of SUCCESS, FAILURE, DELAY.
            items = [x.upper() for x in _value(key, value).split(",")]
            if items == ["NEVER"]:
                rp.notify = items
            elif items and all(x in ("SUCCESS", "FAILURE", "DELAY") for x in items) and len(set(items)) == len(items):
                rp.notify = items
            else:
                raise ParseError("NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY")
        elif key == "ORCPT":
            # RFC 3461 section 4.2: addr-type ";" xtext; RFC 6533 for utf-8.
            v = _value(key, value)
            addr_type, semi, encoded = v.partition(";")
            if not semi or not addr_type or not encoded or not addr_type.isascii():
                raise ParseError("ORCPT must be addr-type;address")
            if addr_type.lower() == "utf-8":
                decoded = decode_utf8_addr_xtext(encoded)
            else:
                decoded = decode_xtext(encoded)
            rp.orcpt, rp.orcpt_type, rp.orcpt_address = v, addr_type.lower(), decoded
        else:
            raise UnknownParameter(f"unrecognized parameter {key}")
    if not smtputf8 and not path.isascii():
        raise NonASCIIAddress("non-ascii address not permitted without smtputf8")
    return RcptCommand(recipient, rp)
