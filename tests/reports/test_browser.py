"""The report pages in headless Chromium against Django's live server: log in, open
the domain's reports, read the table rows and the chart's bars, set the DMARC address.
(Database set up before the browser starts and checked after, as tests/web/test_browser.)"""
from __future__ import annotations

import pytest

from reports.models import ReportingAddress
from tests.reports.test_pages import stored  # noqa: F401  the stored reports fixture
from tests.web.test_browser import artifacts, browser_page  # noqa: F401
from webadmin.actions import set_admin_password

pytestmark = pytest.mark.slow


def test_the_admin_reads_the_reports_and_sets_the_dmarc_address(live_server, stored, artifacts):  # noqa: F811
    set_admin_password("moxadmin")
    d3, d2, d1 = stored["days"]
    pk = stored["dmarc"][0].pk
    with browser_page() as page:
        page.goto(f"{live_server.url}/admin/reports/")
        assert page.url == f"{live_server.url}/admin/login/?next=/admin/reports/"
        page.get_by_label("Password").fill("moxadmin")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/admin/reports/")
        assert page.locator("#summary tbody tr").all_inner_texts() == [
            "example.test\t2\t27\t15\t12\t7\t5\t7\t1\t40\t2"]

        page.get_by_role("link", name="example.test").click()
        page.wait_for_url(f"{live_server.url}/admin/reports/domains/example.test/")
        bars = page.locator("#dmarc-chart rect")
        assert [(b.get_attribute("class"), b.get_attribute("data-day"), b.get_attribute("data-count"))
                for b in bars.all()] == [("pass", d3, "15"), ("fail", d3, "5"), ("fail", d1, "7")]
        # Stacked: the fail bar sits right on top of the pass bar of the same day, and
        # the busiest day (20 messages) fills the chart's 130 of 160 units in height.
        scale = page.locator("#dmarc-chart").bounding_box()["height"] / 160
        pass3, fail3 = bars.nth(0).bounding_box(), bars.nth(1).bounding_box()
        assert abs(fail3["y"] + fail3["height"] - pass3["y"]) < 0.5
        assert abs((pass3["height"] + fail3["height"]) / scale - 130) < 0.5
        assert abs(pass3["height"] / fail3["height"] - 15 / 5) < 0.01
        tls = page.locator("#tls-chart rect")
        assert [(b.get_attribute("class"), b.get_attribute("data-count")) for b in tls.all()] == [
            ("pass", "40"), ("fail", "2")]
        page.screenshot(path=str(artifacts / "reports-domain.png"), full_page=True)

        page.locator("#dmarc-reports").get_by_role("link", name="11811442233355566677").click()
        page.wait_for_url(f"{live_server.url}/admin/reports/dmarc/{pk}/")
        assert page.locator("#records tbody tr").nth(2).inner_text().split("\t")[:5] == [
            "203.0.113.9", "5", "reject", "fail", "fail"]

        page.go_back()
        form = page.locator("#address-dmarc")
        form.get_by_label("Localpart").fill("rua")
        form.get_by_label("Account").fill("alice")
        form.get_by_role("button", name="Set DMARC address").click()
        page.wait_for_url(f"{live_server.url}/admin/reports/domains/example.test/")
        assert page.locator("ul.messages").inner_text() == (
            "DMARC reports for example.test go to rua@example.test, mailbox DMARC of account alice.")
    ra = ReportingAddress.objects.get()
    assert (ra.kind, ra.localpart, ra.account.name, ra.mailbox) == ("dmarc", "rua", "alice", "DMARC")
