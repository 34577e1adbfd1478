"""atheris: DMARC records (RFC 7489 section 6.3)."""
from __future__ import annotations

import atheris

import harness

with atheris.instrument_imports():
    from mailcore.authn.dmarcrecord import is_dmarc_record, parse_record
    from mailcore.authn.errors import ParseError


def test_one_input(data: bytes) -> None:
    harness.only((ParseError,), lambda: parse_record(data))
    is_dmarc_record(harness.text(data))


if __name__ == "__main__":
    harness.main(test_one_input)
