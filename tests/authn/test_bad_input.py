"""Hostile input to the checks: every call returns a result, never raises."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcore.authn import dkim, dmarc, incoming, spf
from tests.fixtures_dns import DNSTestServer


@pytest.fixture(scope="module")
def server() -> Iterator[DNSTestServer]:
    s = DNSTestServer()
    s.add_zone(
        """
        $ORIGIN example.test.
        @       TXT "v=spf1 include:%{l}.example.test exists:%{i}.%{h}.example.test -all"
        _dmarc  TXT "v=DMARC1; p=reject"
        """
    )
    yield s
    s.stop()


_header_value = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_sig = st.lists(
    st.sampled_from(["v=1", "a=rsa-sha256", "a=ed25519-sha256", "d=example.test", "s=sel", "h=from:subject",
                     "bh=AAAA", "b=AAAA", "l=5", "x=1", "c=relaxed/relaxed", "i=@example.test", "t=99999999999"]),
    max_size=9,
).map("; ".join)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sig=st.one_of(_sig, _header_value), body=st.binary(max_size=200), extra=_header_value)
def test_dkim_and_authenticate_never_raise(server: DNSTestServer, sig: str, body: bytes, extra: str) -> None:
    msg = (
        b"DKIM-Signature: " + sig.encode("utf-8", "surrogateescape") + b"\r\n"
        b"From: " + extra.encode() + b"\r\n"
        b"Subject: " + extra.encode() + b"\r\n\r\n" + body
    )
    r = server.resolver(timeout=0.2, lifetime=0.3)
    results = asyncio.run(dkim.verify(r, msg))
    assert all(x.status != dkim.DKIMStatus.pass_ for x in results)
    v = asyncio.run(incoming.authenticate(r, msg, ip="192.0.2.1", helo="x.example", mail_from="a@example.test", authserv_id="mx"))
    assert v.authentication_results.startswith("Authentication-Results: mx;\r\n")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(local=st.text(max_size=20), helo=st.text(max_size=30), domain=st.text(max_size=30))
def test_spf_and_dmarc_never_raise(server: DNSTestServer, local: str, helo: str, domain: str) -> None:
    r = server.resolver(timeout=0.2, lifetime=0.3)
    res = asyncio.run(spf.check_mailfrom(r, "192.0.2.1", f"{local}@example.test", helo))
    assert res.status in set(spf.SPFStatus)
    res = asyncio.run(spf.check_mailfrom(r, "2001:db8::1", f"{local}@{domain}", helo))
    assert res.status in set(spf.SPFStatus)
    d = asyncio.run(dmarc.evaluate(r, domain))
    assert d.status in set(dmarc.DMARCStatus)


async def test_huge_folded_headers(server: DNSTestServer) -> None:
    folded = b"X-Long: " + b"\r\n ".join([b"word"] * 20000) + b"\r\n"
    msg = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=none; h=from:subject; bh=AAAA; b=AAAA\r\n" + folded
    msg += b"From: a@example.test\r\nSubject: x\r\n\r\nbody\r\n"
    [res] = await dkim.verify(server.resolver(), msg)
    assert (res.status, res.error) == (dkim.DKIMStatus.permerror, "no key record")


async def test_a_message_starting_with_a_continuation_line_has_no_signature(server: DNSTestServer) -> None:
    # dkimpy raises IndexError on a folded line before any field; that is "no signature".
    msg = b" folded\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=x; h=from; bh=AAAA; b=AAAA\r\n\r\nbody\r\n"
    assert await dkim.verify(server.resolver(), msg) == []
