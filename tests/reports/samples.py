"""Report messages in the shapes the big reporters send (written for these tests):
Google (a zip attachment as the whole message), Outlook (multipart with a gzip
attachment), Yahoo (multipart with a zip), plain XML, and TLS reports (multipart/report
with application/tlsrpt+gzip, or +json)."""
from __future__ import annotations

import gzip
import io
import json
import zipfile
import zlib
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

BEGIN = 1_764_028_800  # 2025-11-25T00:00:00Z
END = BEGIN + 86_399

RECORDS = [
    # source ip, count, disposition, dkim, spf, auth dkim (domain, selector, result), auth spf (domain, result),
    # then any overrides (type, comment)
    ("192.0.2.10", 12, "none", "pass", "pass", [("example.test", "2025a", "pass")], [("example.test", "pass")]),
    ("198.51.100.7", 3, "none", "pass", "fail", [("example.test", "2025a", "pass")], [("bounce.example", "fail")]),
    ("203.0.113.9", 5, "reject", "fail", "fail", [], [("spoofer.example", "softfail")]),
]


def feedback_xml(*, org: str = "google.com", report_id: str = "11811442233355566677", domain: str = "example.test",
                 begin: int = BEGIN, end: int = END, records: list[Any] | None = None,
                 namespace: str = "") -> bytes:
    rows = []
    for rec in RECORDS if records is None else records:
        ip, count, disp, dkim, spf, adkim, aspf = rec[:7]
        reason = "".join(f"<reason><type>{t}</type><comment>{c}</comment></reason>" for t, c in rec[7:])
        auth = "".join(
            f"<dkim><domain>{d}</domain><selector>{s}</selector><result>{r}</result></dkim>" for d, s, r in adkim
        ) + "".join(f"<spf><domain>{d}</domain><result>{r}</result></spf>" for d, r in aspf)
        rows.append(
            f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
            f"<disposition>{disp}</disposition><dkim>{dkim}</dkim><spf>{spf}</spf>{reason}</policy_evaluated></row>"
            f"<identifiers><header_from>{domain}</header_from></identifiers>"
            f"<auth_results>{auth}</auth_results></record>"
        )
    ns = f' xmlns="{namespace}"' if namespace else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8" ?>\n<feedback{ns}>\n'
        f"<report_metadata><org_name>{org}</org_name><email>noreply-dmarc-support@{org}</email>"
        f"<extra_contact_info>https://support.{org}/a/answer/2466580</extra_contact_info>"
        f"<report_id>{report_id}</report_id><date_range><begin>{begin}</begin><end>{end}</end></date_range>"
        f"</report_metadata>\n"
        f"<policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p><sp>reject</sp>"
        f"<pct>100</pct><np>reject</np></policy_published>\n" + "\n".join(rows) + "\n</feedback>\n"
    ).encode()


def zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def _headers(msg: EmailMessage, sender: str, to: str, subject: str) -> None:
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Wed, 26 Nov 2025 03:12:45 -0800"
    msg["Message-ID"] = f"<{zlib.crc32(subject.encode())}@reports.example>"


def google_dmarc(xml: bytes, *, to: str = "dmarc-reports@example.test", domain: str = "example.test",
                 sender: str = "noreply-dmarc-support@google.com") -> bytes:
    """Google: the whole message is one base64 application/zip part."""
    msg = EmailMessage(policy=SMTP)
    _headers(msg, sender, to, f"Report domain: {domain} Submitter: google.com Report-ID: 11811442233355566677")
    name = f"google.com!{domain}!{BEGIN}!{END}.zip"
    msg.set_content(zipped(name.removesuffix(".zip") + ".xml", xml), maintype="application", subtype="zip",
                    filename=name)
    return msg.as_bytes()


def outlook_dmarc(xml: bytes, *, to: str = "dmarc-reports@example.test", domain: str = "example.test",
                  sender: str = "dmarcreport@microsoft.com") -> bytes:
    """Outlook: multipart/mixed, a text part and a gzip attachment."""
    msg = EmailMessage(policy=SMTP)
    _headers(msg, sender, to, f"Report Domain: {domain} Submitter: protection.outlook.com Report-ID: 7a9f0e")
    msg.set_content("This is a DMARC aggregate report from Microsoft Corporation.\r\n")
    msg.add_attachment(gzip.compress(xml), maintype="application", subtype="gzip",
                       filename=f"protection.outlook.com!{domain}!{BEGIN}!{END}.xml.gz")
    return msg.as_bytes()


def yahoo_dmarc(xml: bytes, *, to: str = "dmarc-reports@example.test", domain: str = "example.test",
                sender: str = "noreply@dmarc.yahoo.com") -> bytes:
    """Yahoo: multipart/mixed with a zip attachment."""
    msg = EmailMessage(policy=SMTP)
    _headers(msg, sender, to, f"Report Domain: {domain} Submitter: Yahoo Report-ID: <1764028800.123456>")
    msg.set_content("\r\n")
    msg.add_attachment(zipped(f"yahoo.com!{domain}!{BEGIN}!{END}.xml", xml), maintype="application",
                       subtype="zip", filename=f"yahoo.com!{domain}!{BEGIN}!{END}.zip")
    return msg.as_bytes()


def plain_dmarc(xml: bytes, *, subtype: str = "xml", maintype: str = "text",
                to: str = "dmarc-reports@example.test", sender: str = "dmarc@reporter.example") -> bytes:
    msg = EmailMessage(policy=SMTP)
    _headers(msg, sender, to, "Report Domain: example.test Submitter: reporter.example")
    msg.set_content(xml, maintype=maintype, subtype=subtype, filename="report.xml")
    return msg.as_bytes()


def tls_report(*, org: str = "Google Inc.", report_id: str = "2025-11-25T00:00:00Z_example.test",
               domains: tuple[str, ...] = ("example.test",), success: int = 40, failures: int = 2,
               start: str = "2025-11-25T00:00:00Z", end: str = "2025-11-25T23:59:59Z") -> dict[str, Any]:
    policies = []
    for d in domains:
        policies.append({
            "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: enforce", f"mx: mail.{d}",
                                                               "max_age: 86400"],
                       "policy-domain": d, "mx-host": [f"mail.{d}"]},
            "summary": {"total-successful-session-count": success, "total-failure-session-count": failures},
            "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "209.85.220.41",
                                 "receiving-mx-hostname": f"mail.{d}", "receiving-ip": "192.0.2.25",
                                 "failed-session-count": failures}] if failures else [],
        })
    return {"organization-name": org, "date-range": {"start-datetime": start, "end-datetime": end},
            "contact-info": "smtp-tls-reporting@google.com", "report-id": report_id, "policies": policies}


def tls_message(report: dict[str, Any] | bytes, *, gzipped: bool = True, to: str = "tls-reports@example.test",
                sender: str = "noreply-smtp-tls-reporting@google.com", domain: str = "example.test") -> bytes:
    """Google's shape: multipart/report; report-type=tlsrpt, a text part and the report."""
    data = report if isinstance(report, bytes) else json.dumps(report).encode()
    msg = EmailMessage(policy=SMTP)
    _headers(msg, sender, to, f"Report Domain: {domain} Submitter: google.com Report-ID: <2025.11.25T00.00.00Z>")
    msg["TLS-Report-Domain"] = domain
    msg["TLS-Report-Submitter"] = "google.com"
    msg.set_content("This is an aggregate TLS report from google.com\r\n")
    if gzipped:
        msg.add_attachment(gzip.compress(data), maintype="application", subtype="tlsrpt+gzip",
                           filename=f"google.com!{domain}!1764028800!1764115199!001.json.gz")
    else:
        msg.add_attachment(data, maintype="application", subtype="tlsrpt+json", filename="report.json")
    msg.set_type("multipart/report")
    msg.set_param("report-type", "tlsrpt")
    return msg.as_bytes()
