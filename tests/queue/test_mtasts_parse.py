"""MTA-STS record and policy parsing and MX matching (RFC 8461 sections 3.1, 3.2, 4.1)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcore.mtasts import Mode, Policy, PolicyError, Record, mx_matches, parse_policy, parse_record


def test_it_parses_a_record_with_extensions():
    assert parse_record("v=STSv1; id=20160831085700Z; ext=1;") == Record("20160831085700Z", (("ext", "1"),))


@pytest.mark.parametrize(
    "txt",
    ["v=STSv2; id=1", "id=1; v=STSv1", "v=STSv1", "v=STSv1; id=", "v=STSv1; id=a-b", "v=STSv1; id=1; id=2", "v=STSv1; id=" + "a" * 33],
)
def test_it_rejects_bad_records(txt):
    with pytest.raises(PolicyError):
        parse_record(txt)


def test_it_parses_the_rfc_example_policy():
    text = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"
    assert parse_policy(text) == Policy(Mode.enforce, 604800, ("mail.example.com", "*.example.net", "backupmx.example.com"))


def test_it_caps_max_age_at_one_year_and_allows_no_mx_with_mode_none():
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 99999999999\n".replace("99999999999", "9999999999")) == Policy(Mode.none, 31557600)


@pytest.mark.parametrize(
    "text",
    [
        "mode: enforce\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: enforce\nmax_age: 1\n",
        "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
        "version: STSv1\nmode: testing\nmx: a.example\nmax_age: -1\n",
        "version: STSv1\nmode: testing\nmx: a.example\n",
        "version: STSv1\nmode: testing\nmx: a..example\nmax_age: 1\n",
        "version STSv1\n",
    ],
)
def test_it_rejects_bad_policies(text):
    with pytest.raises(PolicyError):
        parse_policy(text)


def test_mx_patterns_match_exactly_one_leftmost_label():
    p = Policy(Mode.enforce, 1, ("mail.example.com", "*.example.net"))
    assert mx_matches(p, "MAIL.example.com.")
    assert mx_matches(p, "mx1.example.net")
    assert not mx_matches(p, "example.net")
    assert not mx_matches(p, "a.b.example.net")
    assert not mx_matches(p, "mail.example.org")


@given(st.text(max_size=300))
def test_policy_parsing_raises_only_policyerror(text):
    try:
        parse_policy(text)
    except PolicyError:
        pass


@given(st.text(max_size=200))
def test_record_parsing_raises_only_policyerror(text):
    try:
        parse_record(text)
    except PolicyError:
        pass
