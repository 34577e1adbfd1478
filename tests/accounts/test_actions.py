from __future__ import annotations

import hashlib
import hmac

import pytest

from accounts.actions import (
    AccountError,
    add_address,
    authenticate,
    create_account,
    create_domain,
    resolve_recipient,
)
from accounts.models import Credential
from mailcore.sasl.md5state import cram_md5_digest


def test_it_stores_idna_and_unicode_forms(db):
    d = create_domain("Bücher.Example")
    assert (d.name, d.ascii) == ("bücher.example", "xn--bcher-kva.example")


def test_it_refuses_invalid_domain_names(db):
    with pytest.raises(AccountError, match="invalid domain name"):
        create_domain("-bad-.example")


def test_it_never_stores_the_password(alice):
    cred = Credential.objects.get(account=alice)
    stored = b"".join(
        bytes(getattr(cred, f.name)) if isinstance(getattr(cred, f.name), (bytes, memoryview)) else str(getattr(cred, f.name)).encode()
        for f in Credential._meta.fields
    )
    assert b"alicepassword" not in stored
    challenge = b"<1.2@host>"
    assert cram_md5_digest(bytes(cred.cram_md5_ipad), bytes(cred.cram_md5_opad), challenge) == hmac.new(
        b"alicepassword", challenge, hashlib.md5
    ).hexdigest()


def test_it_authenticates_with_any_address_and_the_catchall_separator(alice):
    assert authenticate("alice@example.test", "alicepassword") == alice
    assert authenticate("Alice+tag@EXAMPLE.test", "alicepassword") == alice
    assert authenticate("alice@example.test", "wrong-password") is None
    assert authenticate("nobody@example.test", "alicepassword") is None


def test_it_resolves_recipients_like_mox(alice, bob, settings):
    settings.MOX_POSTMASTER_ACCOUNT = "bob"
    assert resolve_recipient("ALICE+news", "example.test").account == alice
    assert resolve_recipient("nobody", "example.test") is None
    assert resolve_recipient("postmaster", "").account == bob
    assert resolve_recipient("postmaster", "example.test").account == bob
    add_address(alice, "@example.test")
    assert resolve_recipient("nobody", "example.test").account == alice
    assert resolve_recipient("bob", "example.test").account == bob
    assert resolve_recipient("x", "other.test") is None


def test_it_refuses_a_second_account_name(alice):
    with pytest.raises(AccountError, match="already exists"):
        create_account("alice", "alice2@example.test", "alicepassword")
