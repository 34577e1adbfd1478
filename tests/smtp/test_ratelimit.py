"""mox's per-network limiter with an injected clock, and the SMTP connection limits."""
from __future__ import annotations

import pytest

from mailcore.ratelimit import Limiter, WindowLimit, auth_failure_limiter, masked_ips


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_masks_ipv4_and_ipv6_networks():
    assert masked_ips("192.0.2.77") == ("192.0.2.77/32", "192.0.2.64/26", "192.0.0.0/21")
    assert masked_ips("2001:db8:1:2:3::4") == ("2001:db8:1:2::/64", "2001:db8:1::/48", "2001:db8::/32")
    assert masked_ips("::ffff:192.0.2.77") == masked_ips("192.0.2.77")


def test_each_network_class_has_its_own_limit_and_windows_reset():
    clock = Clock()
    lim = Limiter([WindowLimit(60, (2, 3, 4))], clock)
    assert [lim.add("192.0.2.1") for _ in range(3)] == [True, True, False]
    assert lim.add("192.0.2.2")  # same /26: 3 of 3
    assert not lim.add("192.0.2.3")  # /26 full
    assert lim.add("192.0.2.200")  # other /26, same /21: 4 of 4
    assert not lim.add("192.0.3.1")  # /21 full
    assert lim.add("192.0.8.1")  # another /21
    clock.now += 60  # next window: all counts start over
    assert lim.add("192.0.2.1") and lim.add("192.0.2.1")


def test_a_refused_request_counts_nothing():
    lim = Limiter([WindowLimit(60, (5, 5, 5))], Clock())
    assert not lim.add("192.0.2.1", 6)
    assert lim.add("192.0.2.1", 5)


def test_reset_removes_only_the_ips_own_count():
    lim = Limiter([WindowLimit(None, (3, 4, 10))], Clock())
    lim.add("192.0.2.1", 3)
    lim.add("192.0.2.2", 1)
    assert not lim.can_add("192.0.2.3")
    lim.reset("192.0.2.1")
    assert lim.add("192.0.2.1", 3)


def test_auth_failures_have_a_minute_and_a_day_window():
    clock = Clock()
    lim = auth_failure_limiter(clock)
    for _ in range(5):
        assert all(lim.add("198.51.100.1") for _ in range(10))
        assert not lim.add("198.51.100.1")
        clock.now += 60
    assert not lim.add("198.51.100.1")  # 50 a day
    clock.now += 24 * 3600
    assert lim.add("198.51.100.1")


@pytest.mark.django_db(transaction=True)
def test_connection_rate_and_open_connections(smtp_listener, raw_smtp, localserve_account):
    from smtpserver.config import Limiters

    clock = Clock()
    lims = Limiters(
        connection_rate=Limiter([WindowLimit(60, (3, 900, 2700))], clock),
        open_connections=Limiter([WindowLimit(None, (2, 90, 270))], clock),
        auth_failures=auth_failure_limiter(clock),
    )
    srv = smtp_listener()
    srv.config.limiters = lims
    first = raw_smtp(srv)
    second = raw_smtp(srv)
    third = raw_smtp(srv, greet=False)
    assert third.reply() == ["421 4.7.0 too many open connections from your ip or network"]
    assert third.closed()
    first.cmd("QUIT")
    assert first.closed()
    fourth = raw_smtp(srv, greet=False)
    assert fourth.reply() == ["421 4.7.0 connection rate from your ip or network too high, slow down please"]
    clock.now += 60
    fifth = raw_smtp(srv)
    assert fifth.cmd("NOOP") == "250 2.0.0 alrighty"
    assert second.cmd("NOOP") == "250 2.0.0 alrighty"
