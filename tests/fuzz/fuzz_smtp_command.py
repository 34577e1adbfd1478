"""atheris: SMTP MAIL/RCPT arguments, their parameters and addresses (RFC 5321 4.1.2)."""
from __future__ import annotations

import atheris

import harness

with atheris.instrument_imports():
    from mailcore.smtp.address import parse_address, parse_path
    from mailcore.smtp.command import decode_xtext, parse_mail, parse_params, parse_rcpt
    from mailcore.smtp.errors import ParseError


def test_one_input(data: bytes) -> None:
    arg = harness.text(data)
    for fn in (lambda: parse_mail(arg), lambda: parse_rcpt(arg, smtputf8=True), lambda: parse_rcpt(arg, smtputf8=False),
               lambda: parse_params(arg), lambda: decode_xtext(arg), lambda: parse_address(arg),
               lambda: parse_path(arg, allow_null=True, allow_postmaster=True)):
        harness.only((ParseError,), fn)


if __name__ == "__main__":
    harness.main(test_one_input)
