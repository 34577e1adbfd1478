"""Account rulesets at delivery (mox-v0.0.5 domains.conf Rulesets): the first matching
ruleset chooses the mailbox; its ListAllowDomain lets a mailing list in (analysis step 1);
the stored JSON is validated with clear errors."""
from __future__ import annotations

import pytest

from mailstore import rulesets
from mailstore.models import Message
from mailstore.rulesets import MessageFacts, RulesetError
from tests.smtp.incoming import message, reason_of, send
from tests.smtp.incoming import listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def stored(account) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(m.mailbox.name, m.subject) for m in
            Message.objects.filter(account=account).select_related("mailbox").order_by("id")]


def test_the_first_matching_ruleset_files_the_message(listener, raw_smtp, alice):
    alice.rulesets = [
        {"headers_regexp": {"^list-id$": "<dev\\.other\\.example>"}, "mailbox": "Lists/Dev"},
        {"smtp_mail_from_regexp": "@other\\.example$", "mailbox": "Other"},
        {"verified_domain": "other.example", "mailbox": "Never"},
    ]
    alice.save(update_fields=["rulesets"])
    c = raw_smtp(listener)
    listmail = message("x@other.example", subject="dev", extra="List-Id: Dev list\r\n <DEV.other.example>\r\n")
    assert send(c, "x@other.example", listmail) == "250 2.2.0 it is done"
    assert send(c, "x@other.example", message("x@other.example", subject="plain")) == "250 2.2.0 it is done"
    assert send(c, "bob@sender.example", message("bob@sender.example", subject="inbox")) == "250 2.2.0 it is done"
    assert stored(alice) == [("Lists/Dev", "dev"), ("Other", "plain"), ("Inbox", "inbox")]


def test_list_allow_domain_accepts_a_list_that_breaks_dmarc(listener, raw_smtp, alice):
    # A list at other.example relays mail From sender.example, whose DMARC says reject.
    data = message("bob@sender.example", subject="via list", extra="List-Id: <news.other.example>\r\n")
    c = raw_smtp(listener)
    assert send(c, "list-bounces@other.example", data) == "550 5.7.26 rejecting per dmarc policy"
    alice.rulesets = [{"headers_regexp": {"^list-id$": "news\\.other\\.example"},
                       "list_allow_domain": "other.example", "mailbox": "News"}]
    alice.save(update_fields=["rulesets"])
    assert send(c, "list-bounces@other.example", data) == "250 2.2.0 it is done"
    [msg] = Message.objects.filter(account=alice, mailbox__name="News")
    assert reason_of(msg) == "list-allow"
    # Not SPF-verified for that domain: no allowance, DMARC applies.
    assert send(c, "list@soft.example", data) == "550 5.7.26 rejecting per dmarc policy"


def test_localserve_files_by_ruleset_too(smtp_listener, raw_smtp, localserve_account):
    localserve_account.rulesets = [{"headers_regexp": {"^subject$": "^\\[ci\\]"}, "mailbox": "CI"}]
    localserve_account.save(update_fields=["rulesets"])
    c = raw_smtp(smtp_listener(kind="smtp", localserve=True))
    assert send(c, "a@example.org", message("a@example.org", subject="[CI] build ok", to="x@x"), rcpts=("x@x.example",)) == (
        "250 2.2.0 it is done")
    [msg] = Message.objects.filter(account=localserve_account)
    assert msg.mailbox.name == "CI"
    assert not bytes(msg.prefix).startswith(b"X-Mox-Reason")


def test_rulesets_are_validated_with_clear_errors():
    good = [{"smtp_mail_from_regexp": "@x\\.example$", "verified_domain": "Bücher.Example.",
             "headers_regexp": {"^list-id$": "x"}, "list_allow_domain": "lists.example", "mailbox": "inbox/x"}]
    assert rulesets.normalize(good) == [{"smtp_mail_from_regexp": "@x\\.example$",
                                         "verified_domain": "xn--bcher-kva.example",
                                         "headers_regexp": {"^list-id$": "x"},
                                         "list_allow_domain": "lists.example", "mailbox": "Inbox/x"}]
    cases = [
        ({"mailbox": "X"}, "ruleset 1: must have at least one rule"),
        ({"smtp_mail_from_regexp": "x"}, "ruleset 1: mailbox is required"),
        ({"smtp_mail_from_regexp": "(", "mailbox": "X"}, "ruleset 1: invalid smtp_mail_from_regexp regular expression"),
        ({"headers_regexp": {"^List-Id$": "x"}, "mailbox": "X"}, "must only have lower case characters"),
        ({"verified_domain": "a..b", "mailbox": "X"}, "ruleset 1: invalid verified_domain"),
        ({"smtp_mail_from_regexp": "x", "mailbox": "a//b"}, "ruleset 1: bad slashes in mailbox name"),
        ({"smtp_mail_from_regexp": "x", "mailbox": "X", "colour": "red"}, "ruleset 1: unknown keys colour"),
        ("x", "ruleset 1: must be an object"),
    ]
    for raw, error in cases:
        with pytest.raises(RulesetError) as exc:
            rulesets.parse([raw])
        assert error in str(exc.value)
    with pytest.raises(RulesetError, match="rulesets must be a list"):
        rulesets.parse({"mailbox": "X"})
    # At delivery, a broken stored ruleset is skipped, the others still apply.
    live = rulesets.for_account([{"mailbox": "X"}, {"smtp_mail_from_regexp": "^a@", "mailbox": "A"}])
    assert rulesets.first_match(live, MessageFacts(mail_from="a@b.example")).mailbox == "A"


def test_verified_domain_matches_subdomains_of_verified_identities_only():
    [rs] = rulesets.parse([{"verified_domain": "example.org", "mailbox": "V"}])
    assert rulesets.matches(rs, MessageFacts(dkim_domains=("mail.example.org",)))
    assert rulesets.matches(rs, MessageFacts(mail_from_domain="example.org", mail_from_validated=True))
    assert not rulesets.matches(rs, MessageFacts(mail_from_domain="example.org", mail_from_validated=False))
    assert not rulesets.matches(rs, MessageFacts(ehlo_domain="badexample.org", ehlo_validated=True))
