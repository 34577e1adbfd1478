"""removeaddress, removeaccount and removedomain (mox config address|account|domain rm)."""
from __future__ import annotations

from accounts.actions import add_address, create_domain, resolve_recipient
from accounts.models import Account, Domain
from mailstore import files
from mailstore.actions import deliver_bytes
from mailstore.models import Message
from tests.commands.helpers import fails, run

MSG = b"Subject: hi\r\n\r\nbody\r\n"


def test_removeaddress_removes_an_address_and_a_catchall_but_not_the_last(alice):
    add_address(alice, "Info@example.test")
    add_address(alice, "@example.test")
    assert run("removeaddress", "INFO@example.test") == ["address INFO@example.test removed from account alice"]
    assert resolve_recipient("info", "example.test").account == alice  # the catchall now takes it
    assert run("removeaddress", "@example.test") == ["address @example.test removed from account alice"]
    assert resolve_recipient("info", "example.test") is None
    assert fails("removeaddress", "alice@example.test") == "an account needs at least one address"
    assert fails("removeaddress", "nobody@example.test") == "no address nobody@example.test is configured"
    assert fails("removeaddress", "x@other.test") == "domain other.test is not configured"
    assert fails("removeaddress", "nonsense") == (
        "'nonsense' is not an email address (localpart@domain, or @domain for the catchall)"
    )


def test_removeaccount_removes_the_account_with_its_mail_and_files(alice, bob):
    kept = deliver_bytes(bob, "Inbox", MSG)
    paths = [deliver_bytes(alice, "Inbox", MSG).path for _ in range(3)]
    assert run("removeaccount", "alice") == ["account alice removed with its 3 messages"]
    assert not Account.objects.filter(name="alice").exists()
    assert resolve_recipient("alice", "example.test") is None
    assert not Message.objects.filter(path__in=paths).exists()
    assert not any(files.message_path(p).exists() for p in paths)
    assert files.message_path(kept.path).exists()
    assert fails("removeaccount", "alice") == "no account named 'alice'"
    assert fails("removeaccount", "bob@example.test") == "no account named 'bob@example.test'"


def test_removedomain_refuses_while_used_and_removes_when_free(alice):
    create_domain("spare.test")
    assert run("removedomain", "spare.test") == ["domain spare.test removed"]
    assert not Domain.objects.filter(name="spare.test").exists()
    assert fails("removedomain", "example.test").startswith("domain example.test is still used by account alice")
    assert fails("removedomain", "spare.test") == "domain spare.test is not configured"
