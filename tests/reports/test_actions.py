"""Setting a domain's reporting addresses: the Address row that makes delivery reach
the account's DMARC/TLSRPT mailbox, replacing and removing it."""
from __future__ import annotations

import pytest

from accounts.actions import AccountError, resolve_recipient
from accounts.models import Address
from reports.actions import remove_reporting_address, set_reporting_address
from reports.models import ReportingAddress


def test_it_creates_the_address_with_the_default_mailbox(alice, bob):
    ra = set_reporting_address(alice.domain, "dmarc", "DMARC-Reports", bob)
    assert (ra.kind, ra.localpart, ra.account, ra.mailbox) == ("dmarc", "dmarc-reports", bob, "DMARC")
    dest = resolve_recipient("dmarc-reports+google", "example.test")
    assert (dest.account, dest.mailbox) == (bob, "DMARC")
    tls = set_reporting_address(alice.domain, "tlsrpt", "tls-reports", alice, "Reports/TLS")
    assert (tls.mailbox, resolve_recipient("tls-reports", "example.test").mailbox) == ("Reports/TLS", "Reports/TLS")


def test_it_replaces_the_previous_address(alice, bob):
    set_reporting_address(alice.domain, "dmarc", "dmarc-reports", alice)
    set_reporting_address(alice.domain, "dmarc", "rua", bob)
    assert list(ReportingAddress.objects.values_list("localpart", "account__name")) == [("rua", "bob")]
    assert not Address.objects.filter(localpart="dmarc-reports").exists()
    assert resolve_recipient("rua", "example.test").account == bob


def test_it_refuses_an_address_in_use(alice):
    with pytest.raises(AccountError, match="^address alice@example.test already exists$"):
        set_reporting_address(alice.domain, "dmarc", "alice", alice)
    set_reporting_address(alice.domain, "dmarc", "reports", alice)
    with pytest.raises(AccountError, match="^reports@example.test is already the DMARC reporting address$"):
        set_reporting_address(alice.domain, "tlsrpt", "reports", alice)
    with pytest.raises(AccountError, match="contains the domain's catchall separator"):
        set_reporting_address(alice.domain, "tlsrpt", "tls+reports", alice)
    assert ReportingAddress.objects.count() == 1


def test_it_removes_the_address(alice):
    ra = set_reporting_address(alice.domain, "tlsrpt", "tls-reports", alice)
    remove_reporting_address(ra)
    assert not ReportingAddress.objects.exists()
    assert resolve_recipient("tls-reports", "example.test") is None
