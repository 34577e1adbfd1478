"""End to end in headless Chromium (Debian's package) driven by Playwright, against
Django's live server. Screenshots go to $MOX_TEST_ARTIFACTS (default: the test's
tmp_path).

Playwright's sync API keeps an event loop in this thread while it runs, and Django
refuses ORM calls from a thread with a running loop: the database is set up before the
browser starts and checked after it stops."""
from __future__ import annotations

import imaplib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from accounts.actions import authenticate
from accounts.models import Account, Domain
from webadmin.actions import set_admin_password

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    path = Path(os.environ.get("MOX_TEST_ARTIFACTS") or tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def browser_page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            yield page
        finally:
            browser.close()


def test_the_admin_adds_a_domain_and_an_account_and_sees_the_dns_records(live_server, artifacts):
    set_admin_password("moxadmin")
    records: str = ""
    with browser_page() as page:
        page.goto(f"{live_server.url}/admin/")
        assert page.url == f"{live_server.url}/admin/login/?next=/admin/"
        page.get_by_label("Password").fill("moxadmin")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/admin/")
        assert page.locator("h1").inner_text() == "Dashboard"

        page.get_by_role("link", name="Domains").click()
        page.get_by_label("Domain").fill("example.org")
        page.get_by_role("button", name="Add domain").click()
        page.wait_for_url(f"{live_server.url}/admin/domains/example.org/")
        assert page.locator("h1").inner_text() == "Domain example.org"
        records = page.locator("#dns-records").inner_text()
        page.screenshot(path=str(artifacts / "admin-domain-records.png"), full_page=True)

        page.get_by_role("link", name="Accounts").click()
        page.get_by_label("Account name").fill("carol")
        page.get_by_label("First address").fill("carol@example.org")
        page.get_by_label("Password").fill("carolpassword")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(f"{live_server.url}/admin/accounts/*/")
        assert page.locator("h1").inner_text() == "Account carol"
        assert page.locator("ul.messages").inner_text() == "Account carol created."
        page.screenshot(path=str(artifacts / "admin-account.png"), full_page=True)

    for line in [
        "example.org. IN MX 10 mail.example.org.",
        'example.org. IN TXT "v=spf1 mx ~all"',
        '_dmarc.example.org. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.org!10m"',
        "mta-sts.example.org. IN CNAME mail.example.org.",
        '_smtp._tls.example.org. IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.org"',
        "_autodiscover._tcp.example.org. IN SRV 0 1 443 autoconfig.example.org.",
        "_submissions._tcp.example.org. IN SRV 0 1 465 mail.example.org.",
        'example.org. IN CAA 0 issue "letsencrypt.org"',
    ]:
        assert line in records.splitlines()
    assert Domain.objects.filter(ascii="example.org").exists()
    carol = Account.objects.get(name="carol")
    assert authenticate("carol@example.org", "carolpassword") == carol


def test_the_account_holder_changes_the_password_and_logs_in_over_imap_with_it(live_server, artifacts, alice, imap):
    with browser_page() as page:
        page.goto(f"{live_server.url}/account/")
        assert page.url == f"{live_server.url}/account/login/"
        page.get_by_label("Email address").fill("alice@example.test")
        page.get_by_label("Password").fill("alicepassword")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/account/")
        assert page.locator("table tbody").inner_text().split("\t") == ["alice@example.test", "Inbox", "configuration profile"]

        page.get_by_role("link", name="Password").click()
        page.get_by_label("Current password").fill("alicepassword")
        page.get_by_label("New password:", exact=True).fill("correct horse battery")
        page.get_by_label("Repeat new password").fill("correct horse battery")
        page.get_by_role("button", name="Change password").click()
        page.wait_for_url(f"{live_server.url}/account/")
        assert page.locator("ul.messages").inner_text() == "Password changed, for the web, IMAP and SMTP alike."
        page.screenshot(path=str(artifacts / "account-password-changed.png"), full_page=True)

    assert authenticate("alice@example.test", "correct horse battery") == alice
    assert authenticate("alice@example.test", "alicepassword") is None
    client = imaplib.IMAP4(imap.host, imap.port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error):
            client.login("alice@example.test", "alicepassword")
        typ, _ = client.login("alice@example.test", "correct horse battery")
        assert typ == "OK"
    finally:
        client.logout()


def test_the_admin_holds_and_drops_queued_messages(live_server, artifacts):
    from django.utils import timezone

    from mailqueue.models import QueuedMessage

    set_admin_password("moxadmin")
    now = timezone.now()
    first, second = (
        QueuedMessage.objects.create(
            recipient_localpart=name, recipient_domain="remote.example", next_attempt=now, size=10, path=f"queue/{name}"
        )
        for name in ("carol", "dave")
    )
    with browser_page() as page:
        page.goto(f"{live_server.url}/admin/login/?next=/admin/queue/")
        page.get_by_label("Password").fill("moxadmin")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/admin/queue/")
        page.locator(f"#queue-{first.pk}").get_by_role("button", name="Hold").click()
        page.wait_for_selector(f"#queue-{first.pk} .tag")
        assert page.locator(f"#queue-{first.pk} .tag").inner_text() == "held"
        page.locator(f"#queue-{second.pk}").get_by_role("button", name="Drop").click()
        page.wait_for_selector(f"#queue-{second.pk}", state="detached")
        assert page.locator("ul.messages").inner_text() == f"Message {second.pk} to dave@remote.example: drop done."
        page.screenshot(path=str(artifacts / "admin-queue.png"), full_page=True)
    assert list(QueuedMessage.objects.values_list("pk", "hold")) == [(first.pk, True)]
