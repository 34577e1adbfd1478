"""DMARC aggregate reports (RFC 7489 section 7.2 and appendix C, the `feedback` XML).

`parse_report_xml(data)` reads the XML, `parse_report_message(message)` finds it in a
report message: a part of type application/zip (one file), application/gzip,
application/x-gzip, text/xml or application/xml; application/octet-stream and parts
without a type are sniffed, as mox does. XML with a DTD, entities or external
references is refused (defusedxml), and decompressed reports are limited to 20 MiB.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Any

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from mailcore.reports import mime
from mailcore.reports.errors import ParseError

XML_TYPES = ("application/xml", "text/xml")
GZIP_TYPES = ("application/gzip", "application/x-gzip")
ZIP_TYPES = ("application/zip", "application/x-zip-compressed")
SNIFF_TYPES = ("application/octet-stream", "text/plain", "")
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z, the last a datetime can hold


@dataclass(frozen=True)
class DateRange:
    begin: int  # seconds since the epoch, UTC (RFC 7489 appendix C)
    end: int


@dataclass(frozen=True)
class ReportMetadata:
    org_name: str
    email: str
    report_id: str
    date_range: DateRange
    extra_contact_info: str = ""
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyPublished:
    domain: str
    p: str
    adkim: str = ""
    aspf: str = ""
    sp: str = ""
    pct: int | None = None
    fo: str = ""


@dataclass(frozen=True)
class Reason:
    type: str
    comment: str = ""


@dataclass(frozen=True)
class PolicyEvaluated:
    disposition: str  # none, quarantine, reject
    dkim: str  # pass, fail
    spf: str
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Row:
    source_ip: str
    count: int
    policy_evaluated: PolicyEvaluated


@dataclass(frozen=True)
class Identifiers:
    header_from: str
    envelope_from: str = ""
    envelope_to: str = ""


@dataclass(frozen=True)
class DKIMAuthResult:
    domain: str
    result: str
    selector: str = ""
    human_result: str = ""


@dataclass(frozen=True)
class SPFAuthResult:
    domain: str
    result: str
    scope: str = ""


@dataclass(frozen=True)
class Record:
    row: Row
    identifiers: Identifiers
    dkim: tuple[DKIMAuthResult, ...] = ()
    spf: tuple[SPFAuthResult, ...] = ()


@dataclass(frozen=True)
class Feedback:
    version: str
    report_metadata: ReportMetadata
    policy_published: PolicyPublished
    records: tuple[Record, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (lists, not tuples)."""
        return json.loads(json.dumps(asdict(self)))


def _local(tag: str) -> str:
    # Reports following the DMARCbis draft put the elements in a namespace.
    return tag.rsplit("}", 1)[-1]


class _Node:
    """An element with children looked up by local name, and errors naming the path."""

    __slots__ = ("el", "path", "_by_name")

    def __init__(self, el: ET.Element, path: str) -> None:
        self.el = el
        self.path = path
        self._by_name: dict[str, list[ET.Element]] | None = None

    def _elements(self, name: str) -> list[ET.Element]:
        # One pass over the children, grouped by local name: reports with many records
        # look up several names in each.
        if self._by_name is None:
            self._by_name = {}
            for c in self.el:
                if isinstance(c.tag, str):
                    self._by_name.setdefault(_local(c.tag), []).append(c)
        return self._by_name.get(name, [])

    def children(self, name: str) -> list[_Node]:
        path = f"{self.path}/{name}"
        return [_Node(c, path) for c in self._elements(name)]

    def child(self, name: str) -> _Node | None:
        found = self._elements(name)
        return _Node(found[0], f"{self.path}/{name}") if found else None

    def need(self, name: str) -> _Node:
        c = self.child(name)
        if c is None:
            raise ParseError(f"missing element {self.path}/{name}")
        return c

    def text(self, name: str, default: str | None = None) -> str:
        c = self.child(name)
        if c is None:
            if default is None:
                raise ParseError(f"missing element {self.path}/{name}")
            return default
        return (c.el.text or "").strip()

    def int(self, name: str, default: int | None = None) -> int | None:
        value = self.text(name, "" if default is None else str(default))
        if value == "":
            return default
        try:
            n = int(value)
        except ValueError as e:
            raise ParseError(f"{self.path}/{name}: not an integer: {value[:40]!r}") from e
        if n < 0 or n > 2**63 - 1:
            raise ParseError(f"{self.path}/{name}: out of range: {n}")
        return n


def _need_int(node: _Node, name: str) -> int:
    n = node.int(name)
    if n is None:
        raise ParseError(f"missing element {node.path}/{name}")
    return n


def parse_report_xml(data: bytes) -> Feedback:
    """Parse a `feedback` document (RFC 7489 appendix C)."""
    if len(data) > mime.MAX_REPORT_SIZE:
        raise ParseError(f"report larger than {mime.MAX_REPORT_SIZE} bytes")
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise ParseError(f"refused XML construct: {type(e).__name__}") from e
    except (ET.ParseError, ValueError, LookupError, RecursionError) as e:
        # LookupError: an encoding declaration Python does not know.
        raise ParseError(f"malformed XML: {e}") from e
    if _local(root.tag) != "feedback":
        raise ParseError(f"root element is {_local(root.tag)!r}, expected 'feedback'")
    fb = _Node(root, "feedback")

    md = fb.need("report_metadata")
    dr = md.need("date_range")
    begin, end = _need_int(dr, "begin"), _need_int(dr, "end")
    if end < begin:
        raise ParseError("report_metadata/date_range: end before begin")
    if end > MAX_TIMESTAMP:
        raise ParseError("report_metadata/date_range: end after the year 9999")
    metadata = ReportMetadata(
        org_name=md.text("org_name"),
        email=md.text("email", ""),
        report_id=md.text("report_id"),
        date_range=DateRange(begin, end),
        extra_contact_info=md.text("extra_contact_info", ""),
        errors=tuple((e.el.text or "").strip() for e in md.children("error")),
    )
    if not metadata.org_name or not metadata.report_id:
        raise ParseError("report_metadata: empty org_name or report_id")

    pp = fb.need("policy_published")
    policy = PolicyPublished(
        domain=pp.text("domain").lower().rstrip("."),
        p=pp.text("p", ""),
        adkim=pp.text("adkim", ""),
        aspf=pp.text("aspf", ""),
        sp=pp.text("sp", ""),
        pct=pp.int("pct"),
        fo=pp.text("fo", ""),
    )
    if not policy.domain:
        raise ParseError("policy_published/domain is empty")

    records = tuple(_record(r) for r in fb.children("record"))
    return Feedback(fb.text("version", ""), metadata, policy, records)


def _record(r: _Node) -> Record:
    row = r.need("row")
    pe = row.need("policy_evaluated")
    evaluated = PolicyEvaluated(
        disposition=pe.text("disposition").lower(),
        dkim=pe.text("dkim", "").lower(),
        spf=pe.text("spf", "").lower(),
        reasons=tuple(Reason(x.text("type", ""), x.text("comment", "")) for x in pe.children("reason")),
    )
    ids = r.need("identifiers")
    identifiers = Identifiers(
        header_from=ids.text("header_from", "").lower(),
        envelope_from=ids.text("envelope_from", "").lower(),
        envelope_to=ids.text("envelope_to", "").lower(),
    )
    auth = r.child("auth_results")
    dkim: tuple[DKIMAuthResult, ...] = ()
    spf: tuple[SPFAuthResult, ...] = ()
    if auth is not None:
        dkim = tuple(
            DKIMAuthResult(d.text("domain", "").lower(), d.text("result", "").lower(), d.text("selector", ""),
                           d.text("human_result", ""))
            for d in auth.children("dkim")
        )
        spf = tuple(
            SPFAuthResult(s.text("domain", "").lower(), s.text("result", "").lower(), s.text("scope", ""))
            for s in auth.children("spf")
        )
    return Record(Row(row.text("source_ip"), _need_int(row, "count"), evaluated), identifiers, dkim, spf)


def report_xml_from_part(part: mime.Part) -> bytes | None:
    """The XML of a part that can hold a report, or None for parts that cannot."""
    media = part.media_type
    if media not in SNIFF_TYPES + XML_TYPES + GZIP_TYPES + ZIP_TYPES:
        return None
    body = part.decoded()
    if media in SNIFF_TYPES:
        kind = mime.sniff_compressed(body)
        if kind == "gzip":
            media = GZIP_TYPES[0]
        elif kind == "zip":
            media = ZIP_TYPES[0]
        elif body.lstrip()[:1] == b"<":
            media = XML_TYPES[0]
        else:
            return None
    if media in GZIP_TYPES:
        return mime.gunzip(body)
    if media in ZIP_TYPES:
        return mime.unzip_single(body)
    return body


def parse_report_message(message: bytes) -> Feedback:
    """The aggregate report carried by a report message (RFC 7489 section 7.2.1.1)."""
    first_error: ParseError | None = None
    for part in mime.parts(message):
        try:
            xml = report_xml_from_part(part)
            if xml is None:
                continue
            return parse_report_xml(xml)
        except ParseError as e:
            first_error = first_error or e
    if first_error is not None:
        raise first_error
    raise ParseError("no DMARC aggregate report found in message")
