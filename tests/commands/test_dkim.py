from __future__ import annotations

import re
from datetime import date

from accounts.models import DKIMKey
from mailcore.authn import dkimsign
from tests.commands.helpers import fails, run


def test_it_generates_a_key_that_does_not_sign_until_published(domain):
    year = date.today().year
    lines = run("dkim", "genkey", "example.test")
    assert lines[0] == f"ed25519 key {year}a added to example.test (not signing yet: publish the record, then `dkim sign`)"
    key = DKIMKey.objects.get(domain=domain)
    assert (key.selector, key.algorithm, key.sign) == (f"{year}a", "ed25519", False)
    assert lines[1] == f'{year}a._domainkey.example.test. IN TXT "{dkimsign.dns_record(key.private_key_pem.encode())}"'
    assert run("dkim", "sign", "example.test", f"{year}a") == [f"example.test {year}a: signing"]
    assert DKIMKey.objects.get(pk=key.pk).sign is True


def test_it_splits_long_rsa_records_and_lists_keys(domain):
    year = date.today().year
    run("dkim", "genkey", "example.test")
    lines = run("dkim", "genkey", "example.test", "--algorithm", "rsa", "--selector", "big", "--sign")
    assert lines[0] == "rsa key big added to example.test (signing)"
    strings = re.findall(r'"([^"]*)"', lines[1])
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    key = DKIMKey.objects.get(selector="big")
    assert "".join(strings) == dkimsign.dns_record(key.private_key_pem.encode())
    listed = run("dkim", "list", "example.test")
    assert listed[0::2] == [f"; {year}a ed25519 not signing", "; big rsa signing"]


def test_it_names_what_is_wrong(domain):
    run("dkim", "genkey", "example.test", "--selector", "s1")
    assert fails("dkim", "genkey", "example.test", "--selector", "s1") == "domain example.test already has selector s1"
    assert fails("dkim", "genkey", "example.test", "--selector", "bad_sel") == (
        "invalid selector 'bad_sel': letters, digits and hyphens, dot-separated"
    )
    assert fails("dkim", "unsign", "example.test", "nope") == "domain example.test has no selector nope"
    assert fails("dkim", "list", "nowhere.test") == "domain nowhere.test is not configured"
