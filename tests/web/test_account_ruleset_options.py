"""The account pages for mox v0.0.6's ruleset options IsForward and
AcceptRejectsToMailbox, and the account's KeepRejects on the junk settings page."""
from __future__ import annotations

from accounts.models import Account
from accounts.selfservice import rulesets_version
from tests.web.test_account_junk import SETTINGS

FORWARD = {"smtp_mail_from_regexp": r"^you@forward\.example$", "verified_domain": "forward.example", "mailbox": "Inbox"}


def _stored(account: Account) -> list[dict[str, object]]:
    return Account.objects.get(pk=account.pk).rulesets


def test_it_adds_lists_and_edits_a_ruleset_with_the_options(alice_client, alice):
    resp = alice_client.post("/account/rulesets/", {
        **FORWARD, "is_forward": "on", "accept_rejects_to_mailbox": "Forwarded/Junk", "version": rulesets_version([])})
    assert resp.status_code == 302
    assert _stored(alice) == [{**FORWARD, "is_forward": True, "accept_rejects_to_mailbox": "Forwarded/Junk"}]
    html = alice_client.get("/account/rulesets/").text
    assert '<td class="forward">yes</td>' in html
    assert '<td class="accept-rejects">Forwarded/Junk</td>' in html
    page = alice_client.get("/account/rulesets/1/").text
    assert 'name="is_forward" aria-describedby="id_is_forward_helptext" id="id_is_forward" checked' in page
    assert 'name="accept_rejects_to_mailbox" value="Forwarded/Junk"' in page
    # Unchecked and emptied: both are left out of the stored ruleset.
    version = rulesets_version(_stored(alice))
    resp = alice_client.post("/account/rulesets/1/", {**FORWARD, "accept_rejects_to_mailbox": "", "version": version})
    assert resp.status_code == 302
    assert _stored(alice) == [FORWARD]
    assert '<td class="forward"></td>' in alice_client.get("/account/rulesets/").text


def test_it_refuses_the_options_where_delivery_would(alice_client, alice):
    version = rulesets_version([])
    resp = alice_client.post("/account/rulesets/", {"verified_domain": "forward.example", "is_forward": "on",
                                                    "mailbox": "Inbox", "version": version})
    assert resp.status_code == 400
    assert "ruleset 1: is_forward needs smtp_mail_from_regexp and verified_domain too" in resp.text
    resp = alice_client.post("/account/rulesets/", {**FORWARD, "accept_rejects_to_mailbox": "INBOX", "version": version})
    assert resp.status_code == 400
    assert "ruleset 1: accept_rejects_to_mailbox cannot be Inbox" in resp.text
    assert _stored(alice) == []


def test_the_junk_page_sets_keep_rejects(alice_client, alice):
    page = alice_client.get("/account/junk/").text
    assert 'name="keep_rejects" aria-describedby="id_keep_rejects_helptext" id="id_keep_rejects">' in page
    assert "removed after 14 days" in page
    assert alice_client.post("/account/junk/", {**SETTINGS, "keep_rejects": "on"}).status_code == 302
    assert Account.objects.get(pk=alice.pk).keep_rejects is True
    assert 'name="keep_rejects" aria-describedby="id_keep_rejects_helptext" id="id_keep_rejects" checked' in alice_client.get("/account/junk/").text
    assert alice_client.post("/account/junk/", SETTINGS).status_code == 302
    assert Account.objects.get(pk=alice.pk).keep_rejects is False
