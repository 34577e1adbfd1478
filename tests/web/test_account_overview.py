from __future__ import annotations

from accounts.actions import add_address, create_domain


def test_it_sends_anonymous_to_the_login_page(client):
    resp = client.get("/account/")
    assert resp.status_code == 302
    assert resp["Location"] == "/account/login/"


def test_it_lists_addresses_and_where_they_deliver(alice_client, alice):
    create_domain("example.org")
    add_address(alice, "sales@example.org", mailbox="Sales")
    add_address(alice, "@example.org", mailbox="Catchall")
    resp = alice_client.get("/account/")
    assert resp.status_code == 200
    assert "<h1>Account alice</h1>" in resp.text
    assert (
        "<tr><td>alice@example.test</td><td>Inbox</td>\n"
        '<td><a href="/account/apple.mobileconfig?address=alice%40example.test">configuration profile</a></td></tr>'
    ) in resp.text
    assert "<tr><td>sales@example.org</td><td>Sales</td>\n" in resp.text
    assert (
        '<tr><td>@example.org <span class="tag">catchall: any other address in example.org</span></td>'
        "<td>Catchall</td>\n<td></td></tr>"
    ) in resp.text
    assert [a.localpart for a in resp.context["addresses"]] == ["", "sales", "alice"]


def test_it_never_shows_another_accounts_data(alice_client, bob_client, alice, bob):
    alice_page = alice_client.get("/account/").text
    bob_page = bob_client.get("/account/").text
    assert "alice@example.test" in alice_page and "bob@example.test" not in alice_page
    assert "bob@example.test" in bob_page and "alice@example.test" not in bob_page


def test_it_ends_the_session_of_a_deleted_account(alice_client, alice):
    from accounts.actions import delete_account

    delete_account(alice)
    resp = alice_client.get("/account/")
    assert resp.status_code == 302
    assert "moxweb_account_id" not in alice_client.session


def test_it_shows_junk_filter_statistics_of_this_account_only(alice_client, alice, bob):
    from mailstore.models import JunkWord

    JunkWord.objects.bulk_create(
        [JunkWord(account=alice, word="-", ham=3, spam=1), JunkWord(account=alice, word="viagra", spam=1),
         JunkWord(account=alice, word="meeting", ham=2), JunkWord(account=bob, word="-", ham=40, spam=50),
         JunkWord(account=bob, word="lottery", spam=50)]
    )
    resp = alice_client.get("/account/")
    assert (
        '<p id="junk-stats">Messages scoring above 0.95 are considered junk. Trained on 3 good messages '
        "and 1 junk message, 2 distinct words.</p>"
    ) in resp.text


def test_it_says_when_the_junk_filter_is_off(alice_client, alice, bob):
    from mailstore.models import JunkWord

    alice.junk_filter = {}
    alice.save(update_fields=["junk_filter"])
    JunkWord.objects.create(account=bob, word="-", ham=5, spam=5)
    assert '<p id="junk-stats">The junk filter is off for this account.</p>' in alice_client.get("/account/").text
