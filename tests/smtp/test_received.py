"""The Received header (RFC 5321 section 4.4) we put in the stored prefix."""
from __future__ import annotations

from datetime import datetime, timezone

from mailcore.smtp.address import parse_address
from smtpserver.received import TraceInfo, received_header, return_path

WHEN = datetime(2026, 11, 25, 14, 0, 0, tzinfo=timezone.utc)


def info(**kw) -> TraceInfo:  # type: ignore[no-untyped-def]
    base = dict(ehlo="client.example", remote_ip="192.0.2.1", local_ip="192.0.2.25", hostname="mail.example.test",
                esmtp=True, smtputf8=False, tls=("TLSv1.3", "TLS_AES_256_GCM_SHA384"), authenticated=False,
                submission=False, received_id="0011223344556677")
    base.update(kw)
    return TraceInfo(**base)


def test_incoming_with_tls_is_folded_and_names_the_cipher():
    header = received_header(info(), parse_address("bob@example.test"), WHEN)
    assert header == (
        b"Received: from client.example ([192.0.2.1]) by mail.example.test\r\n"
        b"\t([192.0.2.25]) via tcp with ESMTPS id 0011223344556677\r\n"
        b"\t(TLS1.3 TLS_AES_256_GCM_SHA384) for <bob@example.test>;\r\n"
        b"\tWed, 25 Nov 2026 14:00:00 +0000\r\n"
    )
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))


def test_protocol_names_follow_rfc_3848_and_6531():
    assert b" with SMTP " in received_header(info(esmtp=False, tls=None), None, WHEN)
    assert b" with UTF8SMTPA " in received_header(info(smtputf8=True, tls=None, authenticated=True), None, WHEN)
    sub = received_header(info(submission=True, authenticated=True, remote_ip="2001:db8::1"), None, WHEN)
    assert sub.startswith(b"Received: from mail.example.test by mail.example.test ([192.0.2.25])")
    assert b"2001:db8::1" not in sub


def test_return_path():
    assert return_path(None, False) == b"Return-Path: <>\r\n"
    assert return_path(parse_address('"a b"@example.org'), False) == b'Return-Path: <"a b"@example.org>\r\n'
