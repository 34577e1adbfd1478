"""`manage.py dmarc parsereportmsg` and `manage.py tlsrpt parsereportmsg`, run as a
person would: a subprocess, JSON on stdout, a clear error and exit status 1 on bad input."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.reports import samples

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_dmarc_parsereportmsg_prints_json_and_fails_on_bad_files(tmp_path):
    good = tmp_path / "google.eml"
    good.write_bytes(samples.google_dmarc(samples.feedback_xml()))
    bad = tmp_path / "bad.eml"
    bad.write_bytes(samples.plain_dmarc(b"<feedback><oops>"))
    res = _run("dmarc", "parsereportmsg", str(good), str(bad), str(tmp_path / "missing.eml"))
    assert res.returncode == 1
    report = json.loads(res.stdout)
    assert report["report_metadata"]["org_name"] == "google.com"
    assert [r["row"]["count"] for r in report["records"]] == [12, 3, 5]
    lines = res.stderr.splitlines()
    assert lines[0].startswith(f"{bad}: malformed XML: ")
    assert lines[1] == f"{tmp_path / 'missing.eml'}: cannot read: No such file or directory"
    assert lines[2] == "CommandError: 2 of 3 file(s) had no readable DMARC aggregate report"


def test_tlsrpt_parsereportmsg(tmp_path):
    good = tmp_path / "tls.eml"
    good.write_bytes(samples.tls_message(samples.tls_report()))
    out = io.StringIO()
    call_command("tlsrpt", "parsereportmsg", str(good), stdout=out)
    assert json.loads(out.getvalue())["policies"][0]["successful"] == 40
    dmarc = tmp_path / "dmarc.eml"
    dmarc.write_bytes(samples.google_dmarc(samples.feedback_xml()))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"^1 of 1 file\(s\) had no readable TLS report$"):
        call_command("tlsrpt", "parsereportmsg", str(dmarc), stdout=out, stderr=err)
    assert (out.getvalue(), err.getvalue()) == (
        "", f"{dmarc}: no TLS report found in message (no application/tlsrpt+json or +gzip part)\n")
