from __future__ import annotations

from accounts.models import Account
from mailstore.models import Mailbox
from tests.commands.helpers import fails, run


def test_it_creates_an_account_with_its_address_and_mailboxes(domain):
    assert run("addaccount", "carol", "Carol@example.test") == [
        "account carol created with address carol@example.test",
        "set its password with: manage.py setaccountpassword carol",
    ]
    account = Account.objects.get(name="carol")
    assert [str(a) for a in account.addresses.all()] == ["carol@example.test"]
    assert sorted(Mailbox.objects.filter(account=account).values_list("name", flat=True)) == [
        "Archive", "Drafts", "Inbox", "Junk", "Sent", "Trash",
    ]
    assert not hasattr(account, "credential")


def test_it_explains_unknown_domains_and_duplicates(alice):
    assert fails("addaccount", "dave", "dave@nowhere.test") == "domain nowhere.test is not configured"
    assert fails("addaccount", "alice", "alice2@example.test") == "account alice already exists"
    assert fails("addaccount", "dave", "not-an-address") == "'not-an-address' is not an email address (localpart@domain)"
