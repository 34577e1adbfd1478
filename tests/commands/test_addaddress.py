from __future__ import annotations

from accounts.actions import resolve_recipient
from tests.commands.helpers import fails, run


def test_it_adds_an_address_and_a_catchall(alice):
    assert run("addaddress", "Info@example.test", "alice", "--mailbox", "Info") == [
        "address info@example.test added to account alice, mailbox Info"
    ]
    assert run("addaddress", "@example.test", "alice@example.test") == [
        "catchall @example.test added to account alice, mailbox Inbox"
    ]
    dest = resolve_recipient("info", "example.test")
    assert (dest.account, dest.mailbox) == (alice, "Info")
    assert resolve_recipient("anything", "example.test").account == alice


def test_it_refuses_taken_addresses_separators_and_unknown_accounts(alice, bob):
    assert fails("addaddress", "bob@example.test", "alice") == "address bob@example.test already exists"
    assert fails("addaddress", "a+b@example.test", "alice") == (
        "localpart 'a+b' contains the domain's catchall separator '+'"
    )
    assert fails("addaddress", "x@example.test", "nobody") == (
        "no account 'nobody' (give an account name or one of its addresses)"
    )
