"""Composing outgoing DMARC aggregate reports (RFC 7489 section 7.2 and appendix C): the
`feedback` XML from the dataclasses `dmarcrpt` parses into, and the report message of
section 7.2.1.1. Pure: records in, bytes out."""
from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from mailcore.reports.dmarcrpt import Feedback


def _add(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = str(text)
    return node


def feedback_xml(fb: Feedback) -> bytes:
    """Appendix C's schema, elements in its order; optional ones only when set."""
    root = ET.Element("feedback")
    _add(root, "version", fb.version)
    md = _add(root, "report_metadata")
    m = fb.report_metadata
    _add(md, "org_name", m.org_name)
    _add(md, "email", m.email)
    if m.extra_contact_info:
        _add(md, "extra_contact_info", m.extra_contact_info)
    _add(md, "report_id", m.report_id)
    dr = _add(md, "date_range")
    _add(dr, "begin", m.date_range.begin)
    _add(dr, "end", m.date_range.end)
    for error in m.errors:
        _add(md, "error", error)
    pp = _add(root, "policy_published")
    p = fb.policy_published
    _add(pp, "domain", p.domain)
    for tag, value in (("adkim", p.adkim), ("aspf", p.aspf), ("p", p.p), ("sp", p.sp), ("pct", p.pct), ("fo", p.fo)):
        if value not in ("", None):
            _add(pp, tag, value)
    for r in fb.records:
        rec = _add(root, "record")
        row = _add(rec, "row")
        _add(row, "source_ip", r.row.source_ip)
        _add(row, "count", r.row.count)
        pe = _add(row, "policy_evaluated")
        _add(pe, "disposition", r.row.policy_evaluated.disposition)
        _add(pe, "dkim", r.row.policy_evaluated.dkim)
        _add(pe, "spf", r.row.policy_evaluated.spf)
        for reason in r.row.policy_evaluated.reasons:
            rn = _add(pe, "reason")
            _add(rn, "type", reason.type)
            if reason.comment:
                _add(rn, "comment", reason.comment)
        ids = _add(rec, "identifiers")
        if r.identifiers.envelope_to:
            _add(ids, "envelope_to", r.identifiers.envelope_to)
        if r.identifiers.envelope_from:
            _add(ids, "envelope_from", r.identifiers.envelope_from)
        _add(ids, "header_from", r.identifiers.header_from)
        auth = _add(rec, "auth_results")
        for d in r.dkim:
            dn = _add(auth, "dkim")
            _add(dn, "domain", d.domain)
            if d.selector:
                _add(dn, "selector", d.selector)
            _add(dn, "result", d.result)
            if d.human_result:
                _add(dn, "human_result", d.human_result)
        for s in r.spf:
            sn = _add(auth, "spf")
            _add(sn, "domain", s.domain)
            if s.scope:
                _add(sn, "scope", s.scope)
            _add(sn, "result", s.result)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def report_filename(receiver: str, policy_domain: str, begin: int, end: int) -> str:
    """Section 7.2.1.1: receiver "!" policy-domain "!" begin "!" end "." extension."""
    return f"{receiver}!{policy_domain}!{begin}!{end}.xml.gz"


def gzipped_feedback(fb: Feedback) -> bytes:
    return gzip.compress(feedback_xml(fb), mtime=0)


def compose_message(fb: Feedback, receiver: str, from_address: str, recipients: list[str], now: datetime,
                    attachment: bytes | None = None) -> tuple[bytes, str]:
    """Section 7.2.1.1: the report as a gzip attachment; the subject names the policy
    domain, the submitter and the report id. Returns (message with CRLF, Message-ID)."""
    m, policy_domain = fb.report_metadata, fb.policy_published.domain
    msg = EmailMessage()
    msg["From"] = from_address
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = f"Report Domain: {policy_domain} Submitter: {receiver} Report-ID: <{m.report_id}>"
    msg["Date"] = format_datetime(now)
    message_id = make_msgid(domain=receiver)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    begin = datetime.fromtimestamp(m.date_range.begin, timezone.utc)
    end = datetime.fromtimestamp(m.date_range.end, timezone.utc)
    messages = sum(r.row.count for r in fb.records)
    msg.set_content(
        f"This is a DMARC aggregate report (RFC 7489) from {receiver} for mail with\n"
        f"From: {policy_domain} (or its subdomains) received from {begin:%Y-%m-%d %H:%M:%S} to\n"
        f"{end:%Y-%m-%d %H:%M:%S} UTC: {messages} messages in {len(fb.records)} rows. The details are attached.\n",
        cte="7bit",
    )
    msg.add_attachment(
        attachment if attachment is not None else gzipped_feedback(fb), maintype="application", subtype="gzip",
        filename=report_filename(receiver, policy_domain, m.date_range.begin, m.date_range.end),
    )
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")), message_id
