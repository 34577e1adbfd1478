"""atheris: message headers and MIME structure (RFC 5322, RFC 2045/2046), the From
domain and the summary. None of these may raise on any input."""
from __future__ import annotations

import atheris

import harness

with atheris.instrument_imports():
    from mailcore.authn.fromheader import from_domain
    from mailcore.message.headers import field_value, header_end, split_fields
    from mailcore.message.structure import find_part, parse_structure
    from mailcore.message.summary import summarize


def test_one_input(data: bytes) -> None:
    root = parse_structure(data)
    for path in ((1,), (1, 1), (2, 1, 1), (3,)):
        find_part(root, path)
    header_end(data)
    for _, raw in split_fields(data):
        field_value(raw)
    from_domain(data)
    summarize(data)


if __name__ == "__main__":
    harness.main(test_one_input)
