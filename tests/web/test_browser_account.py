"""Account and console pages in headless Chromium (Debian's package) driven by
Playwright against Django's live server; screenshots in $MOX_TEST_ARTIFACTS. The
database is prepared before the browser starts and checked after it stops (Playwright
keeps an event loop in this thread, where Django refuses ORM calls)."""
from __future__ import annotations

import imaplib

import pytest

from tests.web.test_browser import artifacts, browser_page  # noqa: F401 - artifacts is a fixture
from webadmin.actions import set_admin_password

pytestmark = pytest.mark.slow


def _log_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/account/login/")
    page.get_by_label("Email address").fill("alice@example.test")
    page.get_by_label("Password").fill("alicepassword")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/account/")


def _csp_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if "Content Security Policy" in m.text else None)
    return found


@pytest.mark.timeout(600)  # a hang guard: a thousand fsynced deliveries on a loaded machine
def test_a_thousand_message_mbox_import_reaches_100_percent_and_is_seen_over_imap(live_server, artifacts, alice, imap, tmp_path):  # noqa: F811
    mbox = tmp_path / "Old Mail.mbox"
    with open(mbox, "wb") as fh:
        for i in range(1000):
            fh.write(
                b"From someone@example.org Mon Jan  1 00:00:00 2024\n"
                + f"From: someone@example.org\nTo: alice@example.test\nSubject: old {i}\nMessage-Id: <old-{i}@example.org>\n\nmessage {i}\n\n".encode()
            )
    with browser_page() as page:
        violations = _csp_violations(page)
        _log_in(page, live_server.url)
        page.get_by_role("navigation").get_by_role("link", name="Import").click()
        page.get_by_label("File").set_input_files(str(mbox))
        page.get_by_role("button", name="Import").click()
        page.wait_for_url(f"{live_server.url}/account/import/?job=*")
        # The bar moves as the background import reports (the script polls the JSON).
        # A selector, not wait_for_function: the Content-Security-Policy forbids eval.
        page.wait_for_selector("#import-progress[data-state=done]", timeout=500_000)
        assert page.locator("#import-bar").get_attribute("value") == "100"
        assert page.locator("#import-status").inner_text() == "Done: 1000 messages imported."
        assert page.locator("#import-counts").inner_text() == "Old Mail: 1000"
        page.screenshot(path=str(artifacts / "account-import-done.png"), full_page=True)
        assert violations == []

    client = imaplib.IMAP4(imap.host, imap.port, timeout=10)
    try:
        client.login("alice@example.test", "alicepassword")
        typ, data = client.select('"Old Mail"', readonly=True)
        assert (typ, data) == ("OK", [b"1000"])
        typ, data = client.fetch("1000", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1] == b"Subject: old 999\r\n\r\n"  # type: ignore[index]
    finally:
        client.logout()


def test_the_account_holder_adds_and_reorders_rulesets(live_server, artifacts, alice):  # noqa: F811
    from accounts.models import Account

    with browser_page() as page:
        _log_in(page, live_server.url)
        page.get_by_role("navigation").get_by_role("link", name="Rulesets").click()
        for domain, mailbox in [("lists.example.org", "Lists"), ("example.net", "Net")]:
            page.get_by_label("Verified domain").fill(domain)
            page.get_by_label("Mailbox").fill(mailbox)
            page.get_by_role("button", name="Add ruleset").click()
            page.wait_for_selector("ul.messages")
        page.locator("#ruleset-2").get_by_role("button", name="Up").click()
        page.wait_for_selector("text=Ruleset 2 moved up.")
        assert page.locator("#ruleset-1 td").nth(2).inner_text() == "example.net"
        page.screenshot(path=str(artifacts / "account-rulesets.png"), full_page=True)
    assert [r["mailbox"] for r in Account.objects.get(pk=alice.pk).rulesets] == ["Net", "Lists"]


def test_the_admin_adds_a_transport_and_a_route_and_sees_the_queue_picture(live_server, artifacts, db, make_queued):  # noqa: F811
    from mailqueue.models import Route, Transport

    set_admin_password("moxadmin")
    make_queued()
    with browser_page() as page:
        violations = _csp_violations(page)
        page.goto(f"{live_server.url}/admin/login/")
        page.get_by_label("Password").fill("moxadmin")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/admin/")
        assert page.locator("#queue-chart g.due").get_attribute("data-count") == "1"
        page.get_by_role("navigation").get_by_role("link", name="Transports").click()
        page.get_by_role("link", name="Add transport").click()
        page.get_by_label("Name:", exact=True).fill("relay")
        page.get_by_label("Kind:", exact=True).select_option("submission")
        page.get_by_label("Host:", exact=True).fill("smtp.relay.example")
        page.get_by_role("button", name="Save transport").click()
        page.wait_for_url(f"{live_server.url}/admin/transports/")
        page.get_by_role("navigation").get_by_role("link", name="Routes").click()
        page.get_by_role("link", name="Add route").click()
        page.get_by_label("To domains:", exact=True).fill("gmail.com")
        page.get_by_label("Transport:", exact=True).select_option(label="relay")
        page.get_by_role("button", name="Save route").click()
        page.wait_for_url(f"{live_server.url}/admin/routes/")
        page.screenshot(path=str(artifacts / "admin-routes.png"), full_page=True)
        assert violations == []
    route = Route.objects.select_related("transport").get()
    assert (route.to_domains, route.transport.name, Transport.objects.get().host) == (["gmail.com"], "relay", "smtp.relay.example")
