from __future__ import annotations

import hashlib
import hmac

from accounts.actions import authenticate
from accounts.models import Credential
from mailcore.sasl.md5state import cram_md5_digest
from tests.web.conftest import account_client


def _change(c, current: str, new: str, repeat: str | None = None):  # type: ignore[no-untyped-def]
    return c.post("/account/password/", {"current": current, "new": new, "repeat": new if repeat is None else repeat})


def test_it_shows_the_form(alice_client):
    resp = alice_client.get("/account/password/")
    assert resp.status_code == 200
    assert "used for this web page, IMAP and SMTP submission alike" in resp.text


def test_it_changes_every_secret_together(alice_client, alice):
    old = Credential.objects.get(account=alice)
    resp = _change(alice_client, "alicepassword", "correct horse battery")
    assert resp.status_code == 302
    assert resp["Location"] == "/account/"
    assert authenticate("alice@example.test", "correct horse battery") == alice
    assert authenticate("alice@example.test", "alicepassword") is None
    cred = Credential.objects.get(account=alice)
    assert bytes(cred.scram_sha256_stored_key) != bytes(old.scram_sha256_stored_key)
    assert bytes(cred.scram_sha1_stored_key) != bytes(old.scram_sha1_stored_key)
    challenge = b"<7.8@mail.example.org>"
    assert cram_md5_digest(bytes(cred.cram_md5_ipad), bytes(cred.cram_md5_opad), challenge) == hmac.new(
        b"correct horse battery", challenge, hashlib.md5
    ).hexdigest()
    assert "Password changed, for the web, IMAP and SMTP alike." in alice_client.get("/account/").text


def test_it_requires_the_current_password(alice_client, alice):
    resp = _change(alice_client, "wrongpassword", "correct horse battery")
    assert resp.status_code == 400
    assert "The current password is not correct." in resp.text
    assert authenticate("alice@example.test", "alicepassword") == alice


def test_it_requires_matching_repeats(alice_client, alice):
    resp = _change(alice_client, "alicepassword", "correct horse battery", "correct horse batery")
    assert resp.status_code == 400
    assert "The two new passwords differ." in resp.text
    assert authenticate("alice@example.test", "alicepassword") == alice


def test_it_requires_eight_characters(alice_client, alice):
    resp = _change(alice_client, "alicepassword", "short")
    assert resp.status_code == 400
    assert "Ensure this value has at least 8 characters (it has 5)." in resp.text


def test_it_ends_other_sessions_but_keeps_this_one(alice):
    this = account_client("alice@example.test", "alicepassword")
    other = account_client("alice@example.test", "alicepassword")
    _change(this, "alicepassword", "correct horse battery")
    assert this.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302


def test_it_changes_only_the_sessions_account(alice_client, alice, bob):
    _change(alice_client, "alicepassword", "correct horse battery")
    assert authenticate("bob@example.test", "bobpassword") == bob


def test_it_refuses_anonymous(client, alice):
    resp = _change(client, "alicepassword", "correct horse battery")
    assert resp.status_code == 302
    assert resp["Location"] == "/account/login/"
    assert authenticate("alice@example.test", "alicepassword") == alice
