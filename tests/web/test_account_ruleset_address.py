"""The rulesets editor's address scope: a choice of the account's own addresses (or all),
shown in the list, kept when editing, refused for another account's address."""
from __future__ import annotations

from accounts.actions import add_address
from accounts.models import Account
from accounts.selfservice import rulesets_version

RULE = {"smtp_mail_from_regexp": "@shop\\.example$", "mailbox": "Orders"}


def _stored(account: Account) -> list[dict[str, object]]:
    return Account.objects.get(pk=account.pk).rulesets


def test_it_offers_the_accounts_addresses_and_stores_the_chosen_one(alice_client, alice, bob):
    add_address(alice, "sales@example.test")
    page = alice_client.get("/account/rulesets/").text
    assert '<option value="" selected>All addresses</option>' in page
    assert '<option value="alice@example.test">alice@example.test</option>' in page
    assert '<option value="sales@example.test">sales@example.test</option>' in page
    assert "bob@example.test" not in page
    resp = alice_client.post(
        "/account/rulesets/", {**RULE, "address": "sales@example.test", "version": rulesets_version([])}
    )
    assert resp.status_code == 302
    assert _stored(alice) == [{**RULE, "address": "sales@example.test"}]
    page = alice_client.get("/account/rulesets/").text
    assert '<td class="address">sales@example.test</td>' in page


def test_another_accounts_address_is_refused(alice_client, alice, bob):
    resp = alice_client.post("/account/rulesets/", {**RULE, "address": "bob@example.test", "version": rulesets_version([])})
    assert resp.status_code == 400
    assert "Select a valid choice. bob@example.test is not one of the available choices." in resp.text
    assert _stored(alice) == []


def test_editing_keeps_or_clears_the_address(alice_client, alice):
    add_address(alice, "@example.test")
    rules = [{**RULE, "address": "@example.test"}]
    Account.objects.filter(pk=alice.pk).update(rulesets=rules)
    page = alice_client.get("/account/rulesets/1/").text
    assert '<option value="@example.test" selected>@example.test</option>' in page
    resp = alice_client.post("/account/rulesets/1/", {**RULE, "address": "", "version": rulesets_version(rules)})
    assert resp.status_code == 302
    assert _stored(alice) == [RULE]
    assert '<td class="address">All</td>' in alice_client.get("/account/rulesets/").text


def test_a_ruleset_for_a_removed_address_stays_editable(alice_client, alice):
    rules = [{**RULE, "address": "gone@example.test"}]
    Account.objects.filter(pk=alice.pk).update(rulesets=rules)
    page = alice_client.get("/account/rulesets/1/").text
    assert '<option value="gone@example.test" selected>gone@example.test (no longer an address of this account)</option>' in page
    resp = alice_client.post(
        "/account/rulesets/1/", {**RULE, "mailbox": "Old", "address": "gone@example.test", "version": rulesets_version(rules)}
    )
    assert resp.status_code == 302
    assert _stored(alice) == [{**RULE, "mailbox": "Old", "address": "gone@example.test"}]
