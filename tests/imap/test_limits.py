"""Protection (issue 4): failed logins count in the shared limiter, open connections
are limited per IP network, lines have a maximum length."""
from __future__ import annotations

import pytest

from tests.fixtures_imap import RawClient, imap_db

pytestmark = imap_db


def test_it_refuses_connections_after_too_many_failed_logins(imap):
    for round_ in range(4):
        c = RawClient(imap.host, imap.port)
        c.line()
        for i in range(3 if round_ < 3 else 1):
            assert c.cmd(f"a{i} LOGIN alice@example.test wrong") == [
                f"a{i} NO [AUTHENTICATIONFAILED] invalid credentials"
            ]
        c.close()
    c = RawClient(imap.host, imap.port)
    assert c.line() == "* BYE too many auth failures"
    assert c.file.readline() == b""
    c.close()


def test_it_limits_open_connections_and_line_length(imap):
    clients = []
    for _ in range(30):
        c = RawClient(imap.host, imap.port)
        assert c.line().startswith("* OK ")
        clients.append(c)
    extra = RawClient(imap.host, imap.port)
    assert extra.line() == "* BYE too many open connections from your ip or network"
    extra.close()
    clients[0].send("a1 NOOP " + "x" * 20000)
    assert clients[0].line() == "* BYE line too long"
    for c in clients:
        c.close()
