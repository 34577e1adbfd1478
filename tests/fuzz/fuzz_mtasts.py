"""atheris: MTA-STS TXT records and policy files (RFC 8461 sections 3.1, 3.2)."""
from __future__ import annotations

import atheris

import harness

with atheris.instrument_imports():
    from mailcore.mtasts import PolicyError, parse_policy, parse_record


def test_one_input(data: bytes) -> None:
    text = harness.text(data)
    harness.only((PolicyError,), lambda: parse_record(text))
    harness.only((PolicyError,), lambda: parse_policy(text))


if __name__ == "__main__":
    harness.main(test_one_input)
