"""Rulesets scoped to one address of the account (mox keeps rulesets per destination,
domains.conf `Destinations.<address>.Rulesets`): a ruleset with an address files only
mail delivered through that address (or that `@domain` catchall)."""
from __future__ import annotations

import pytest

from accounts.actions import add_address
from mailstore import rulesets
from mailstore.models import Message
from mailstore.rulesets import RulesetError
from tests.smtp.incoming import message, send
from tests.smtp.incoming import listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def stored(account) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return sorted(
        (m.mailbox.name, m.subject) for m in Message.objects.filter(account=account).select_related("mailbox")
    )


def test_a_scoped_ruleset_files_only_mail_for_its_address(listener, raw_smtp, alice):
    add_address(alice, "sales@example.test")
    alice.rulesets = [
        {"address": "sales@example.test", "headers_regexp": {"^subject$": "order"}, "mailbox": "Sales"},
        {"headers_regexp": {"^subject$": "weekly"}, "mailbox": "Weekly"},
    ]
    alice.save(update_fields=["rulesets"])
    c = raw_smtp(listener)
    data = message("bob@sender.example", subject="order 12", to="alice@example.test, sales@example.test")
    both = ("alice@example.test", "sales@example.test")
    assert send(c, "bob@sender.example", data, rcpts=both) == "250 2.2.0 it is done"
    # The catchall separator and case reach the same address, and its ruleset.
    tagged = message("bob@sender.example", subject="order 13", to="Sales+web@example.test")
    assert send(c, "bob@sender.example", tagged, rcpts=("Sales+web@example.test",)) == "250 2.2.0 it is done"
    # A ruleset without an address still applies to every address.
    weekly = message("bob@sender.example", subject="weekly news")
    assert send(c, "bob@sender.example", weekly, rcpts=both) == "250 2.2.0 it is done"
    assert stored(alice) == [
        ("Inbox", "order 12"), ("Sales", "order 12"), ("Sales", "order 13"), ("Weekly", "weekly news"),
        ("Weekly", "weekly news"),
    ]  # fmt: skip


def test_a_catchall_scope_files_mail_to_addresses_the_account_does_not_have(listener, raw_smtp, alice):
    add_address(alice, "@example.test")
    alice.rulesets = [{"address": "@EXAMPLE.test", "smtp_mail_from_regexp": "", "headers_regexp": {"^subject$": "."},
                       "mailbox": "Catchall"}]
    alice.rulesets = rulesets.normalize(alice.rulesets)
    assert alice.rulesets[0]["address"] == "@example.test"
    alice.save(update_fields=["rulesets"])
    c = raw_smtp(listener)
    assert send(c, "bob@sender.example", message("bob@sender.example", subject="to alice")) == "250 2.2.0 it is done"
    data = message("bob@sender.example", subject="to nobody", to="nobody@example.test")
    assert send(c, "bob@sender.example", data, rcpts=("nobody@example.test",)) == "250 2.2.0 it is done"
    assert stored(alice) == [("Catchall", "to nobody"), ("Inbox", "to alice")]


def test_the_address_is_validated_and_stored_with_an_ascii_domain():
    raw = [{"address": " info@Bücher.Example ", "smtp_mail_from_regexp": "x", "mailbox": "X"}]
    assert rulesets.normalize(raw) == [{"mailbox": "X", "smtp_mail_from_regexp": "x", "address": "info@xn--bcher-kva.example"}]
    assert rulesets.normalize([{"address": "", "smtp_mail_from_regexp": "x", "mailbox": "X"}]) == [
        {"mailbox": "X", "smtp_mail_from_regexp": "x"}
    ]
    for value, error in [
        ("no-at-sign", "ruleset 1: invalid address 'no-at-sign': write localpart@domain, or @domain"),
        ("x@", "ruleset 1: invalid address 'x@'"),
        ("x@a..b", "ruleset 1: invalid address domain 'a..b'"),
        (7, "ruleset 1: address must be a string"),
    ]:
        with pytest.raises(RulesetError) as exc:
            rulesets.normalize([{"address": value, "smtp_mail_from_regexp": "x", "mailbox": "X"}])
        assert str(exc.value).startswith(error)


def test_for_destination_keeps_unscoped_rulesets_and_those_of_the_address():
    found = rulesets.parse([
        {"smtp_mail_from_regexp": "a", "mailbox": "All"},
        {"smtp_mail_from_regexp": "b", "mailbox": "Sales", "address": "sales@example.test"},
        {"smtp_mail_from_regexp": "c", "mailbox": "Info", "address": "info@example.test"},
    ])
    assert rulesets.scoped(found) and not rulesets.scoped(found[:1])
    assert [rs.mailbox for rs in rulesets.for_destination(found, "sales@example.test")] == ["All", "Sales"]
    assert [rs.mailbox for rs in rulesets.for_destination(found, "")] == ["All"]
