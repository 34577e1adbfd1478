from __future__ import annotations

import plistlib

from accounts.actions import add_address


def test_it_serves_a_profile_for_the_first_address(alice_client, alice):
    resp = alice_client.get("/account/apple.mobileconfig")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/x-apple-aspen-config"
    assert resp["Content-Disposition"] == 'attachment; filename="alice@example.test.mobileconfig"'
    top = plistlib.loads(resp.content)
    assert (top["PayloadType"], top["PayloadIdentifier"]) == ("Configuration", "org.example.mail.email.alice@example.test")
    [mail] = top["PayloadContent"]
    assert {k: v for k, v in mail.items() if not k.startswith("Payload")} == {
        "EmailAccountDescription": "alice@example.test",
        "EmailAccountName": "alice",
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAddress": "alice@example.test",
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": "mail.example.org",
        "IncomingMailServerPortNumber": 993,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerUsername": "alice@example.test",
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": "mail.example.org",
        "OutgoingMailServerPortNumber": 465,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerUsername": "alice@example.test",
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    assert mail["PayloadType"] == "com.apple.mail.managed"


def test_it_keeps_the_same_uuids_across_downloads(alice_client, alice):
    first = plistlib.loads(alice_client.get("/account/apple.mobileconfig").content)
    second = plistlib.loads(alice_client.get("/account/apple.mobileconfig").content)
    assert first["PayloadUUID"] == second["PayloadUUID"]
    assert first["PayloadContent"][0]["PayloadUUID"] == second["PayloadContent"][0]["PayloadUUID"]


def test_it_serves_another_own_address(alice_client, alice):
    add_address(alice, "sales@example.test")
    resp = alice_client.get("/account/apple.mobileconfig?address=sales@example.test")
    assert plistlib.loads(resp.content)["PayloadContent"][0]["EmailAddress"] == "sales@example.test"


def test_it_refuses_another_accounts_address(alice_client, alice, bob):
    resp = alice_client.get("/account/apple.mobileconfig?address=bob@example.test")
    assert resp.status_code == 404
    assert resp.text == "not an address of this account\n"


def test_it_sends_anonymous_to_the_login_page(client, alice):
    resp = client.get("/account/apple.mobileconfig")
    assert resp.status_code == 302
    assert resp["Location"] == "/account/login/"
