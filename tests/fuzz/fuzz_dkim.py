"""atheris: DKIM-Signature header values and DKIM key records (RFC 6376 3.5, 3.6.1)."""
from __future__ import annotations

import atheris

import harness

with atheris.instrument_imports():
    from mailcore.authn.dkim import parse_key_record, parse_signature
    from mailcore.authn.errors import ParseError


def test_one_input(data: bytes) -> None:
    harness.only((ParseError,), lambda: parse_signature(data))
    harness.only((ParseError,), lambda: parse_key_record(data))


if __name__ == "__main__":
    harness.main(test_one_input)
