from __future__ import annotations

from datetime import date

from accounts.models import Account, DKIMKey, Domain
from tests.commands.helpers import fails, run


def test_it_adds_a_domain_with_dkim_keys(db):
    year = date.today().year
    assert run("adddomain", "Example.ORG", "--catchall-separator", "+") == [
        f"domain example.org added, DKIM selectors {year}a (ed25519), {year}b (rsa), {year}c (ed25519), {year}d (rsa)"
    ]
    domain = Domain.objects.get(ascii="example.org")
    assert domain.localpart_catchall_separator == "+"
    assert DKIMKey.objects.filter(domain=domain, sign=True).count() == 2


def test_it_creates_the_account_or_adds_the_address(alice):
    lines = run("adddomain", "example.org", "carol", "c")
    assert lines[1:] == [
        "account carol created with address c@example.org",
        "set its password with: manage.py setaccountpassword carol",
    ]
    assert [str(a) for a in Account.objects.get(name="carol").addresses.all()] == ["c@example.org"]
    lines = run("adddomain", "bücher.example", "alice")
    assert lines[1:] == ["account alice now has address alice@bücher.example"]
    assert Domain.objects.get(name="bücher.example").ascii == "xn--bcher-kva.example"


def test_it_refuses_an_existing_domain_without_changing_anything(alice):
    assert fails("adddomain", "example.test", "zed") == "domain example.test already exists"
    assert fails("adddomain", "bad..name") .startswith("invalid domain name 'bad..name'")
    assert not Account.objects.filter(name="zed").exists()
    assert DKIMKey.objects.count() == 0
