"""The RFC 7208 SPF test suite (openspf.org, release 2014.04) through our resolver
path: each document's zone is served by a real test DNS server, pyspf's lookups go
through mailcore.dns. The suite ships in pyspf's source distribution, not in this
repository: `make test` (scripts/fetch-test-data.sh) puts it in .venv/testdata;
MOX_SPF_TESTSUITE may point elsewhere. Without it these tests fail, they do not skip.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailcore.authn.spf import check_mailfrom
from tests.fixtures_dns import DNSTestServer

SUITE = os.environ.get(
    "MOX_SPF_TESTSUITE", str(Path(__file__).resolve().parents[2] / ".venv" / "testdata" / "rfc7208-tests.yml")
)

# Known differences, each with its reason.
EXPECTED_FAILURES: dict[str, str] = {}


def _documents() -> list[dict[str, Any]]:
    if not SUITE or not Path(SUITE).is_file():
        return []
    import yaml

    with open(SUITE, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


DOCS = _documents()
CASES = [(i, name) for i, doc in enumerate(DOCS) for name in doc["tests"]]


def _load(server: DNSTestServer, zonedata: dict[str, list[Any]]) -> None:
    from dnslib import AAAA, CNAME, MX, PTR, QTYPE, RR, TXT, A

    def txt(value: str | list[str]) -> TXT:
        # A TXT without strings is illegal (RFC 1035 3.3.14) and no DNS message can
        # carry it parseably; serve the nearest legal record, one empty string.
        parts = (value if isinstance(value, list) else [value]) or [""]
        return TXT([p.encode("utf-8") for p in parts])

    for name, records in zonedata.items():
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        for rec in records:
            if rec == "TIMEOUT":
                # The suite's TIMEOUT: queries for types the name has no records of
                # time out (for a name without records: every query).
                server.drop(name, keep_records=True)
                continue
            ((rtype, value),) = rec.items()
            if value == "NONE":
                continue  # "no records of this type" (with TIMEOUT: its queries time out)
            if rtype == "SPF":
                # Type SPF is gone in RFC 7208; the suite asks drivers to serve
                # such records as TXT where the name has no TXT of its own.
                if has_txt:
                    continue
                rtype = "TXT"
            if rtype == "TXT":
                rdata: Any = txt(value)
            elif rtype == "A":
                rdata = A(value)
            elif rtype == "AAAA":
                rdata = AAAA(value)
            elif rtype == "PTR":
                rdata = PTR(value)
            elif rtype == "CNAME":
                rdata = CNAME(value)
            elif rtype == "MX":
                rdata = MX(value[1], value[0])
            else:  # pragma: no cover
                raise AssertionError(rtype)
            server.add_rr(RR(name, getattr(QTYPE, rtype), rdata=rdata, ttl=300))


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[int, DNSTestServer]]:
    started: dict[int, DNSTestServer] = {}
    yield started
    for s in started.values():
        s.stop()


def test_the_rfc7208_suite_is_present() -> None:
    assert len(CASES) > 200, f"RFC 7208 suite not found at {SUITE}: run scripts/fetch-test-data.sh"


@pytest.mark.parametrize(("doc", "name"), CASES)
def test_rfc7208_suite(servers: dict[int, DNSTestServer], doc: int, name: str) -> None:
    if doc not in servers:
        servers[doc] = DNSTestServer()
        _load(servers[doc], DOCS[doc].get("zonedata") or {})
    case = DOCS[doc]["tests"][name]
    want = case["result"] if isinstance(case["result"], list) else [case["result"]]
    if name in EXPECTED_FAILURES:
        pytest.xfail(EXPECTED_FAILURES[name])
    resolver = servers[doc].resolver(timeout=0.3, lifetime=0.5)
    res = asyncio.run(check_mailfrom(resolver, case["host"], case["mailfrom"], case["helo"]))
    assert str(res.status) in want, f"{name} (RFC 7208 {case['spec']}): got {res.status}, want {want}"
