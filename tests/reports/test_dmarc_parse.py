"""DMARC aggregate report parsing (RFC 7489 appendix C) from the message shapes the
big reporters send, and the refusals: bombs, nested archives, entities, bad XML."""
from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from mailcore.reports import ParseError, dmarcrpt
from mailcore.reports.dmarcrpt import DKIMAuthResult, PolicyEvaluated, Reason, SPFAuthResult
from mailcore.reports.mime import MAX_REPORT_SIZE
from tests.reports import samples


@pytest.mark.parametrize("shape", [samples.google_dmarc, samples.outlook_dmarc, samples.yahoo_dmarc,
                                   samples.plain_dmarc])
def test_it_reads_each_reporter_shape(shape):
    fb = dmarcrpt.parse_report_message(shape(samples.feedback_xml()))
    md = fb.report_metadata
    assert (md.org_name, md.email, md.report_id, md.date_range.begin, md.date_range.end) == (
        "google.com", "noreply-dmarc-support@google.com", "11811442233355566677", samples.BEGIN, samples.END)
    pp = fb.policy_published
    assert (pp.domain, pp.p, pp.sp, pp.adkim, pp.aspf, pp.pct) == ("example.test", "reject", "reject", "r", "r", 100)
    assert [(r.row.source_ip, r.row.count, r.row.policy_evaluated) for r in fb.records] == [
        ("192.0.2.10", 12, PolicyEvaluated("none", "pass", "pass")),
        ("198.51.100.7", 3, PolicyEvaluated("none", "pass", "fail")),
        ("203.0.113.9", 5, PolicyEvaluated("reject", "fail", "fail")),
    ]
    assert fb.records[1].dkim == (DKIMAuthResult("example.test", "pass", "2025a"),)
    assert fb.records[2].spf == (SPFAuthResult("spoofer.example", "softfail"),)
    assert fb.records[2].dkim == ()


def test_it_reads_application_xml_and_sniffs_octet_stream():
    xml = samples.feedback_xml(report_id="r-1")
    assert dmarcrpt.parse_report_message(samples.plain_dmarc(xml, maintype="application")).report_metadata.report_id == "r-1"
    gz = samples.plain_dmarc(gzip.compress(xml), maintype="application", subtype="octet-stream")
    assert dmarcrpt.parse_report_message(gz).report_metadata.report_id == "r-1"
    z = samples.plain_dmarc(samples.zipped("r.xml", xml), maintype="application", subtype="octet-stream")
    assert dmarcrpt.parse_report_message(z).report_metadata.report_id == "r-1"


def test_it_reads_overrides():
    rec = ("192.0.2.1", 2, "none", "fail", "fail", [], [], ("forwarded", "list.example"), ("local_policy", ""))
    [r] = dmarcrpt.parse_report_xml(samples.feedback_xml(records=[rec])).records
    assert r.row.policy_evaluated.reasons == (Reason("forwarded", "list.example"), Reason("local_policy", ""))


def test_it_reads_namespaced_dmarcbis_reports():
    xml = samples.feedback_xml(namespace="urn:ietf:params:xml:ns:dmarc-2.0")
    assert dmarcrpt.parse_report_xml(xml).policy_published.domain == "example.test"


def test_to_json_has_the_fields():
    d = dmarcrpt.parse_report_xml(samples.feedback_xml()).to_json()
    assert d["report_metadata"]["date_range"] == {"begin": samples.BEGIN, "end": samples.END}
    assert d["records"][0]["row"]["policy_evaluated"] == {"disposition": "none", "dkim": "pass", "spf": "pass",
                                                          "reasons": []}


def _err(message: bytes) -> str:
    with pytest.raises(ParseError) as exc:
        dmarcrpt.parse_report_message(message)
    return str(exc.value)


def test_it_refuses_entity_expansion():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><feedback>&b;</feedback>')
    assert _err(samples.plain_dmarc(bomb)) == "refused XML construct: DTDForbidden"


def test_it_refuses_external_entities():
    xxe = b'<?xml version="1.0"?><!DOCTYPE f SYSTEM "file:///etc/passwd"><feedback></feedback>'
    assert _err(samples.plain_dmarc(xxe)) == "refused XML construct: DTDForbidden"


def test_it_refuses_a_gzip_bomb():
    bomb = gzip.compress(b"<feedback>" + b" " * (MAX_REPORT_SIZE + 10))
    msg = samples.plain_dmarc(bomb, maintype="application", subtype="gzip")
    assert _err(msg) == f"decompressed report larger than {MAX_REPORT_SIZE} bytes"


def test_it_refuses_a_zip_bomb():
    z = samples.zipped("r.xml", b"<feedback>" + b" " * (MAX_REPORT_SIZE + 10))
    assert len(z) < 100_000
    assert _err(samples.plain_dmarc(z, maintype="application", subtype="zip")) == (
        f"decompressed report larger than {MAX_REPORT_SIZE} bytes")


def test_it_refuses_nested_and_multi_file_archives():
    inner = samples.zipped("r.xml", samples.feedback_xml())
    nested = gzip.compress(inner)
    assert _err(samples.plain_dmarc(nested, maintype="application", subtype="gzip")).startswith("malformed XML: ")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.xml", samples.feedback_xml())
        z.writestr("b.xml", samples.feedback_xml())
    assert _err(samples.plain_dmarc(buf.getvalue(), maintype="application", subtype="zip")) == (
        "zip archive has 2 files, expected exactly one")


def test_it_names_what_is_wrong():
    assert _err(samples.plain_dmarc(b"<feedback><report_metadata>")).startswith("malformed XML: ")
    assert _err(samples.plain_dmarc(b"<aggregate/>")) == "root element is 'aggregate', expected 'feedback'"
    no_policy = samples.feedback_xml().replace(b"<policy_published>", b"<policy_x>").replace(
        b"</policy_published>", b"</policy_x>")
    assert _err(samples.plain_dmarc(no_policy)) == "missing element feedback/policy_published"
    bad_count = samples.feedback_xml().replace(b"<count>12</count>", b"<count>many</count>")
    assert _err(samples.plain_dmarc(bad_count)) == (
        "feedback/record/row/count: not an integer: 'many'")
    backwards = samples.feedback_xml(begin=samples.END, end=samples.BEGIN)
    assert _err(samples.plain_dmarc(backwards)) == "report_metadata/date_range: end before begin"
    assert _err(samples.plain_dmarc(gzip.compress(b"x")[:8], maintype="application", subtype="gzip")).startswith(
        "bad gzip data: ")
    assert _err(b"Subject: hi\r\n\r\nno report here\r\n") == "no DMARC aggregate report found in message"
