"""MAIL/RCPT arguments and ESMTP parameters (pure)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.smtp.command import decode_xtext, encode_xtext, parse_mail, parse_params, parse_rcpt
from mailcore.smtp.errors import NonASCIIAddress, ParseError, UnknownParameter


def test_it_parses_every_mail_parameter():
    cmd = parse_mail("FROM:<a@example.org> SIZE=1234 BODY=8bitmime SMTPUTF8 AUTH=a+2Bb@example.org RET=hdrs "
                     "ENVID=QQ+2B1 REQUIRETLS")
    p = cmd.params
    assert (cmd.sender.format(), p.size, p.body, p.smtputf8, p.auth, p.ret, p.envid, p.requiretls) == (
        "a@example.org", 1234, "8BITMIME", True, "a+b@example.org", "HDRS", "QQ+1", True)


def test_it_parses_the_null_sender_and_tolerates_a_space():
    assert parse_mail("FROM:<>").sender is None
    assert parse_mail("from: <a@example.org>").sender.format() == "a@example.org"


def test_it_parses_rcpt_dsn_parameters():
    cmd = parse_rcpt("TO:<b@example.org> NOTIFY=SUCCESS,failure ORCPT=rfc822;b+2Bx@example.org", smtputf8=False)
    assert cmd.params.notify == ["SUCCESS", "FAILURE"]
    assert (cmd.params.orcpt, cmd.params.orcpt_type, cmd.params.orcpt_address) == (
        "rfc822;b+2Bx@example.org", "rfc822", "b+x@example.org")
    utf8 = parse_rcpt("TO:<b@example.org> ORCPT=utf-8;j\\x{F6}rg@example.org", smtputf8=False)
    assert utf8.params.orcpt_address == "jörg@example.org"
    assert parse_rcpt("TO:<b@example.org> NOTIFY=NEVER", smtputf8=False).params.notify == ["NEVER"]


@pytest.mark.parametrize(
    ("arg", "error"),
    [
        ("FROM:<a@example.org> FOO=1", UnknownParameter),
        ("FROM:<a@example.org> BODY=BINARYMIME", UnknownParameter),
        ("FROM:<a@example.org> SIZE=1 SIZE=2", ParseError),
        ("FROM:<a@example.org> SIZE=x", ParseError),
        ("FROM:<a@example.org> SMTPUTF8=yes", ParseError),
        ("FROM:<a@example.org> RET=ALL", ParseError),
        ("FROM:<a@example.org> ENVID=" + "x" * 101, ParseError),
        ("FROM:<a@example.org> ENVID=a+zz", ParseError),
        ("FROM:<jörg@example.org>", NonASCIIAddress),
        ("FROM:a@example.org", ParseError),
        ("TO:<a@example.org>", ParseError),
        ("FROM:<a@example.org>SIZE=1", ParseError),
    ],
)
def test_it_refuses_bad_mail_arguments(arg, error):
    with pytest.raises(error):
        parse_mail(arg)


@pytest.mark.parametrize(
    ("arg", "error"),
    [
        ("TO:<b@example.org> NOTIFY=NEVER,SUCCESS", ParseError),
        ("TO:<b@example.org> NOTIFY=SOMETIMES", ParseError),
        ("TO:<b@example.org> ORCPT=rfc822", ParseError),
        ("TO:<b@example.org> XYZ", UnknownParameter),
        ("TO:<jörg@example.org>", NonASCIIAddress),
        ("TO:<>", ParseError),
    ],
)
def test_it_refuses_bad_rcpt_arguments(arg, error):
    with pytest.raises(error):
        parse_rcpt(arg, smtputf8=False)


def test_utf8_addresses_with_smtputf8():
    assert parse_mail("FROM:<jörg@bücher.example> SMTPUTF8").sender.format() == "jörg@bücher.example"
    assert parse_rcpt("TO:<jörg@example.org>", smtputf8=True).recipient.localpart == "jörg"


def test_parameter_values_keep_their_case():
    assert parse_params(" ENVID=AbC x-Y=Zz") == [("ENVID", "AbC"), ("X-Y", "Zz")]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_xtext_round_trips(value):
    assert decode_xtext(encode_xtext(value)) == value


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120), st.booleans())
def test_only_parse_error_escapes_the_command_parsers(text, utf8):
    for fn in (parse_mail, lambda t: parse_rcpt(t, smtputf8=utf8), decode_xtext, parse_params):
        try:
            fn(text)
        except ParseError:
            pass


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["SIZE=10", "BODY=7BIT", "SMTPUTF8", "RET=FULL", "ENVID=x", "AUTH=<>",
                                 "REQUIRETLS", "SIZE=", "=", "BODY", "NOTIFY=NEVER", "ORCPT=rfc822;x@y"]),
                max_size=6), st.sampled_from(["FROM:<a@example.org>", "FROM:<>", "TO:<b@example.org>"]))
def test_only_parse_error_escapes_for_parameter_combinations(params, head):
    arg = " ".join([head, *params])
    try:
        if head.startswith("FROM"):
            parse_mail(arg)
        else:
            parse_rcpt(arg, smtputf8=False)
    except ParseError:
        pass


def test_idna_a_label_domains_need_no_smtputf8_but_u_labels_do():
    """RFC 6531 section 3.4: only UTF-8 on the wire needs SMTPUTF8; xn-- labels are ASCII."""
    rcpt = parse_rcpt("TO:<x@xn--mnchen-3ya.test>", smtputf8=False).recipient
    assert (rcpt.domain.ascii, rcpt.domain.unicode) == ("xn--mnchen-3ya.test", "münchen.test")
    assert parse_mail("FROM:<x@xn--mnchen-3ya.test>").sender.domain.unicode == "münchen.test"
    with pytest.raises(NonASCIIAddress):
        parse_rcpt("TO:<x@münchen.test>", smtputf8=False)
    with pytest.raises(NonASCIIAddress):
        parse_mail("FROM:<x@münchen.test>")
    assert parse_mail("FROM:<x@münchen.test> SMTPUTF8").sender.domain.ascii == "xn--mnchen-3ya.test"
