"""FETCH attributes (RFC 9051 section 6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ)."""
from __future__ import annotations

from dataclasses import dataclass, field

from mailcore.imap.reader import Reader


@dataclass(frozen=True)
class Section:
    # section-part: e.g. (1, 2) for "1.2"; empty for the whole message.
    part: tuple[int, ...] = ()
    # None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT" or "MIME".
    text: str | None = None
    fields: tuple[str, ...] = ()

    def spec(self) -> str:
        out = ".".join(str(p) for p in self.part)
        if self.text:
            out = f"{out}.{self.text}" if out else self.text
            if self.fields:
                out += " (" + " ".join(self.fields) + ")"
        return out


@dataclass(frozen=True)
class FetchAtt:
    # ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE BODY
    # BODYSTRUCTURE UID MODSEQ BINARY BINARY.SIZE; BODY with a section is "BODY[]".
    name: str
    peek: bool = False
    section: Section | None = None
    partial: tuple[int, int] | None = None

    def response_name(self) -> str:
        """The item name in the FETCH response: no .PEEK, partial shows only its origin."""
        if self.name in ("BODY[]", "BINARY", "BINARY.SIZE"):
            base = "BODY" if self.name == "BODY[]" else self.name
            out = f"{base}[{self.section.spec() if self.section else ''}]"
            if self.partial is not None and self.name != "BINARY.SIZE":
                out += f"<{self.partial[0]}>"
            return out
        return self.name

    @property
    def sets_seen(self) -> bool:
        # RFC 9051 6.4.5: BODY[...] and BINARY[...] (not .PEEK), RFC822 and RFC822.TEXT set \Seen.
        return (self.name in ("BODY[]", "BINARY") and not self.peek) or self.name in ("RFC822", "RFC822.TEXT")


@dataclass
class FetchRequest:
    atts: list[FetchAtt] = field(default_factory=list)
    changedsince: int | None = None
    vanished: bool = False


_SIMPLE = (
    "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822.HEADER", "RFC822.TEXT", "RFC822",
    "BODYSTRUCTURE", "UID", "MODSEQ",
)
_MACROS = {
    # RFC 9051 6.4.5 macros.
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}


def _section_part(r: Reader) -> tuple[int, ...]:
    parts = [r.nz_number()]
    while r.peek(b".") and r.pos + 1 < len(r.buf) and r.buf[r.pos + 1 : r.pos + 2].isdigit():
        r.pos += 1
        parts.append(r.nz_number())
    return tuple(parts)


def _section(r: Reader, binary: bool) -> Section:
    r.expect(b"[")
    if r.take(b"]"):
        return Section()
    part: tuple[int, ...] = ()
    if r.peek_byte() in range(0x30, 0x3A):
        part = _section_part(r)
        if binary or r.take(b"]"):
            if binary:
                r.expect(b"]")
            return Section(part)
        r.expect(b".")
    elif binary:
        raise r.error("binary section takes only part numbers")
    for text in ("HEADER.FIELDS.NOT", "HEADER.FIELDS", "HEADER", "TEXT", "MIME"):
        if r.take(text.encode()):
            break
    else:
        raise r.error("unknown section text")
    if text == "MIME" and not part:
        raise r.error("MIME needs a part number")
    fields: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        r.sp()
        r.expect(b"(")
        names = [r.astring().decode("ascii", "replace")]
        while r.take(b" "):
            names.append(r.astring().decode("ascii", "replace"))
        r.expect(b")")
        fields = tuple(names)
    r.expect(b"]")
    return Section(part, text, fields)


def _partial(r: Reader) -> tuple[int, int] | None:
    if not r.take(b"<"):
        return None
    start = r.number32()
    r.expect(b".")
    length = r.nz_number()
    r.expect(b">")
    return start, length


def fetch_att(r: Reader) -> FetchAtt:
    for name in ("BODY.PEEK", "BINARY.PEEK", "BINARY.SIZE", "BINARY"):
        if r.take(name.encode()):
            binary = name.startswith("BINARY")
            section = _section(r, binary)
            if name == "BINARY.SIZE":
                return FetchAtt("BINARY.SIZE", section=section)
            return FetchAtt("BINARY" if binary else "BODY[]", peek=name.endswith(".PEEK"), section=section,
                            partial=_partial(r))
    if r.take(b"BODY["):
        r.pos -= 1
        section = _section(r, False)
        return FetchAtt("BODY[]", section=section, partial=_partial(r))
    word = r.take_atom(*_SIMPLE, "BODY")
    if word is None:
        raise r.error("unknown fetch attribute")
    return FetchAtt(word)


def fetch_request(r: Reader) -> FetchRequest:
    req = FetchRequest()
    macro = r.take_atom(*_MACROS)
    if macro:
        req.atts = [FetchAtt(n) for n in _MACROS[macro]]
    elif r.take(b"("):
        req.atts.append(fetch_att(r))
        while r.take(b" "):
            req.atts.append(fetch_att(r))
        r.expect(b")")
    else:
        req.atts.append(fetch_att(r))
    # RFC 7162 section 3.1.4 / RFC 7162 3.2.6: fetch modifiers.
    if r.take(b" ("):
        while True:
            if r.take_atom("CHANGEDSINCE"):
                r.sp()
                req.changedsince = r.number64()
            elif r.take_atom("VANISHED"):
                req.vanished = True
            else:
                raise r.error("unknown fetch modifier")
            if r.take(b")"):
                break
            r.sp()
    return req
