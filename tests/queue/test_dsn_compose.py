"""DSN composition (RFC 3464, RFC 6522, RFC 6533), exact bytes."""
from __future__ import annotations

from datetime import datetime, timezone

from mailcore.dsn import DSN, Action, Recipient, compose, enhanced_status

T0 = datetime(2026, 1, 2, 3, 0, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _dsn(**kw):  # type: ignore[no-untyped-def]
    base = dict(
        reporting_mta="mox.example",
        from_address="postmaster@mox.example",
        to_address="alice@example.test",
        subject="mail delivery failed",
        text="Your message could not be delivered.\n",
        recipients=[Recipient("bob@example.org", Action.failed, "5.1.1", remote_mta="mx.example.org",
                              diagnostic="550 5.1.1 no such user", last_attempt=T1)],
        original=b"From: alice@example.test\nSubject: hi\n\nbody\n",
        envelope_id="x1",
        arrival_date=T0,
        date=T1,
        message_id="m@mox.example",
        boundary="B",
    )
    base.update(kw)
    return DSN(**base)


def test_it_composes_an_ascii_failure_report_with_the_header_only():
    assert compose(_dsn()) == (
        b"From: <postmaster@mox.example>\r\n"
        b"To: <alice@example.test>\r\n"
        b"Subject: mail delivery failed\r\n"
        b"Message-Id: <m@mox.example>\r\n"
        b"Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type="delivery-status"; boundary="B"\r\n'
        b"Auto-Submitted: auto-replied\r\n"
        b"\r\n"
        b"This is a MIME-formatted message.\r\n"
        b"\r\n"
        b"--B\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"\r\n"
        b"Your message could not be delivered.\r\n"
        b"\r\n"
        b"--B\r\n"
        b"Content-Type: message/delivery-status\r\n"
        b"\r\n"
        b"Reporting-MTA: dns; mox.example\r\n"
        b"Original-Envelope-Id: x1\r\n"
        b"Arrival-Date: Fri, 02 Jan 2026 03:00:00 +0000\r\n"
        b"\r\n"
        b"Final-Recipient: rfc822; bob@example.org\r\n"
        b"Action: failed\r\n"
        b"Status: 5.1.1\r\n"
        b"Remote-MTA: dns; mx.example.org\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
        b"Last-Attempt-Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n"
        b"\r\n"
        b"--B\r\n"
        b"Content-Type: text/rfc822-headers\r\n"
        b"Content-Disposition: inline\r\n"
        b"\r\n"
        b"From: alice@example.test\r\n"
        b"Subject: hi\r\n"
        b"\r\n"
        b"\r\n"
        b"--B--\r\n"
    )


def test_it_uses_the_utf8_variant_for_utf8_addresses_and_headers():
    out = compose(_dsn(
        to_address="zoë@example.test",
        recipients=[Recipient("bjørn@example.org", Action.delayed, "4.2.0", will_retry_until=T1)],
        original="Subject: grüße\r\n\r\nbody\r\n".encode(),
        headers_only=False,
    ))
    assert "To: <zoë@example.test>\r\n".encode() in out
    assert b"Content-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n" in out
    assert "Final-Recipient: utf-8; bjørn@example.org\r\nAction: delayed\r\nStatus: 4.2.0\r\n".encode() in out
    assert b"Will-Retry-Until: Fri, 02 Jan 2026 03:04:05 +0000\r\n" in out
    assert b"Content-Type: message/global\r\nContent-Transfer-Encoding: 8bit\r\n" in out
    assert "Subject: grüße\r\n\r\nbody\r\n".encode() in out


def test_an_8bit_body_alone_keeps_the_ascii_variant():
    out = compose(_dsn(original="Subject: x\r\n\r\ngrüße\r\n".encode(), headers_only=False))
    assert b"Content-Type: message/delivery-status\r\n" in out
    assert b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n" in out


def test_enhanced_status_comes_from_the_reply_or_the_code_class():
    assert enhanced_status(550, "5.7.1 denied") == "5.7.1"
    assert enhanced_status(550, "denied") == "5.0.0"
    assert enhanced_status(451, "4.4.1 later") == "4.4.1"
    assert enhanced_status(451, "5.4.1 mismatched class") == "4.0.0"
    assert enhanced_status(0, "", permanent=False) == "4.0.0"


from email import message_from_bytes, policy  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    st.text(min_size=1, max_size=20).filter(lambda s: "\r" not in s and "\n" not in s),
    st.text(max_size=200),
    st.binary(max_size=300),
    st.booleans(),
)
def test_every_dsn_parses_as_a_multipart_report(local, text, original, headers_only):
    out = compose(_dsn(
        recipients=[Recipient(f"{local}@example.org", Action.failed, "5.0.0", diagnostic=text)],
        text=text or "x", original=original, headers_only=headers_only,
    ))
    msg = message_from_bytes(out, policy=policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    parts = msg.get_payload()
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() in ("message/delivery-status", "message/global-delivery-status")
    assert all(len(line) <= 998 for line in out.split(b"\r\n")[:8])


def test_the_seven_bit_variant_encodes_what_is_not_ascii():
    from mailcore.dsn import DSN, Action, Recipient, compose
    from mailcore.dsn.compose import ascii_possible

    dsn = DSN(reporting_mta="mx.example", from_address="postmaster@example.test", to_address="carol@sender.example",
              subject="mail delivery failure", text="Fehler für bob\n", recipients=[
                  Recipient(final_recipient="bob@example.test", action=Action.failed, status="5.1.1",
                            diagnostic="550 5.1.1 unbekannt: Müller")],
              original="Subject: Grüße\r\nFrom: x@y\r\n\r\nbody\r\n".encode(), headers_only=True,
              boundary="b", message_id="m@mx.example")
    assert ascii_possible(dsn)
    out = compose(dsn, seven_bit=True)
    assert out.isascii()
    parts = out.split(b"\r\n--b")
    assert parts[1] == (b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"
                        b"\r\n\r\nFehler f=C3=BCr bob\r\n")
    assert b"Diagnostic-Code: smtp; 550 5.1.1 unbekannt: M?ller\r\n" in parts[2]
    assert parts[3] == (b"\r\nContent-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: quoted-printable\r\n"
                        b"Content-Disposition: inline\r\n\r\nSubject: Gr=C3=BC=C3=9Fe\r\nFrom: x@y\r\n\r\n")
    utf8 = DSN(**{**dsn.__dict__, "to_address": "zoë@sender.example"})
    assert not ascii_possible(utf8)
