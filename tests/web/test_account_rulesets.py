"""The rulesets editor: list, add, edit, delete, reorder; validation is delivery's."""
from __future__ import annotations

from accounts.models import Account
from accounts.selfservice import rulesets_version

LIST_RULE = {"smtp_mail_from_regexp": r"^.*@lists\.example\.org$", "mailbox": "Lists"}
DKIM_RULE = {"verified_domain": "example.net", "headers_regexp": {"^list-id$": "dev"}, "list_allow_domain": "example.net", "mailbox": "Dev"}


def _set(account: Account, rulesets: list[dict[str, object]]) -> str:
    Account.objects.filter(pk=account.pk).update(rulesets=rulesets)
    return rulesets_version(rulesets)


def _stored(account: Account) -> list[dict[str, object]]:
    return Account.objects.get(pk=account.pk).rulesets


def test_it_lists_rulesets_in_order(alice_client, alice):
    _set(alice, [LIST_RULE, DKIM_RULE])
    resp = alice_client.get("/account/rulesets/")
    assert resp.status_code == 200
    html = resp.text
    assert html.index('id="ruleset-1"') < html.index('id="ruleset-2"')
    assert r"<code>^.*@lists\.example\.org$</code>" in html
    assert '<pre class="inline">^list-id$: dev</pre>' in html


def test_it_adds_a_ruleset(alice_client, alice):
    version = rulesets_version([])
    resp = alice_client.post(
        "/account/rulesets/",
        {"smtp_mail_from_regexp": "", "verified_domain": "Example.NET", "headers_regexp": "^list-id$: <dev\\.example\\.net>\n\n^x-spam$:yes",
         "list_allow_domain": "example.net", "mailbox": "Lists/Dev", "version": version},
    )
    assert resp.status_code == 302
    assert _stored(alice) == [
        {"mailbox": "Lists/Dev", "verified_domain": "example.net", "headers_regexp": {"^list-id$": "<dev\\.example\\.net>", "^x-spam$": "yes"}, "list_allow_domain": "example.net"}
    ]
    assert "Ruleset added." in alice_client.get("/account/rulesets/").text


def test_it_refuses_an_invalid_ruleset_with_delivery_s_message(alice_client, alice):
    version = _set(alice, [LIST_RULE])
    resp = alice_client.post("/account/rulesets/", {"smtp_mail_from_regexp": "([", "mailbox": "Inbox", "version": version})
    assert resp.status_code == 400
    assert "ruleset 2: invalid smtp_mail_from_regexp regular expression &#x27;([&#x27;" in resp.text
    resp = alice_client.post("/account/rulesets/", {"mailbox": "Inbox", "version": version})
    assert "ruleset 2: must have at least one rule" in resp.text
    resp = alice_client.post("/account/rulesets/", {"headers_regexp": "no colon here", "mailbox": "Inbox", "version": version})
    assert "Line 1: write header name regexp, a colon, then the value regexp." in resp.text
    assert _stored(alice) == [LIST_RULE]


def test_it_edits_a_ruleset(alice_client, alice):
    version = _set(alice, [LIST_RULE, DKIM_RULE])
    page = alice_client.get("/account/rulesets/2/")
    assert 'value="example.net"' in page.text
    assert "^list-id$: dev</textarea>" in page.text
    resp = alice_client.post("/account/rulesets/2/", {"verified_domain": "example.com", "mailbox": "Other", "version": version})
    assert resp.status_code == 302
    assert _stored(alice) == [LIST_RULE, {"verified_domain": "example.com", "mailbox": "Other"}]


def test_it_moves_and_deletes_rulesets(alice_client, alice):
    version = _set(alice, [LIST_RULE, DKIM_RULE])
    assert alice_client.post("/account/rulesets/2/up/", {"version": version}).status_code == 302
    assert _stored(alice) == [DKIM_RULE, LIST_RULE]
    version = rulesets_version(_stored(alice))
    alice_client.post("/account/rulesets/1/delete/", {"version": version})
    assert _stored(alice) == [LIST_RULE]


def test_a_change_made_meanwhile_is_not_overwritten(alice_client, alice):
    old = _set(alice, [LIST_RULE, DKIM_RULE])
    _set(alice, [DKIM_RULE])  # another window deleted the first
    alice_client.post("/account/rulesets/1/delete/", {"version": old})
    assert _stored(alice) == [DKIM_RULE]
    page = alice_client.get("/account/rulesets/").text
    assert "Not changed: the rulesets were changed meanwhile (in another window?): reload the page and try again." in page


def test_an_unknown_ruleset_is_not_found(alice_client, alice):
    assert alice_client.get("/account/rulesets/1/").status_code == 404
    assert alice_client.post("/account/rulesets/3/delete/", {"version": ""}).status_code == 404


def test_one_account_edits_only_its_own_rulesets(alice_client, bob_client, alice, bob):
    _set(alice, [LIST_RULE])
    assert "No rulesets: all mail goes to the mailbox of the address it was sent to." in bob_client.get("/account/rulesets/").text
    assert bob_client.get("/account/rulesets/1/").status_code == 404
    bob_client.post("/account/rulesets/", {"verified_domain": "bob.example", "mailbox": "Bob", "version": rulesets_version([])})
    assert _stored(alice) == [LIST_RULE]
    assert _stored(bob) == [{"verified_domain": "bob.example", "mailbox": "Bob"}]
