"""IMAP connection gauge, command counter and failed logins, over loopback."""
from __future__ import annotations

from tests.fixtures_imap import RawClient, imap_db
from tests.metrics.helpers import value, wait_for

pytestmark = imap_db


def test_it_counts_a_failed_login_and_commands_and_open_connections(imap):
    failures = value("mox_authentication_failures_total", protocol="imap")
    logins = value("mox_imap_command_total", cmd="login")
    noops = value("mox_imap_command_total", cmd="noop")
    open_before = value("mox_imap_connections_open")

    client = RawClient(imap.host, imap.port)
    try:
        assert client.line().startswith("* OK [CAPABILITY IMAP4rev2 ")
        assert value("mox_imap_connections_open") == open_before + 1
        assert client.cmd("a1 LOGIN alice@example.test wrongpassword")[-1].startswith("a1 NO ")
        assert client.cmd("a2 NOOP")[-1].startswith("a2 OK")
    finally:
        client.close()

    assert value("mox_authentication_failures_total", protocol="imap") == failures + 1
    assert value("mox_imap_command_total", cmd="login") == logins + 1
    assert value("mox_imap_command_total", cmd="noop") == noops + 1
    assert wait_for(lambda: value("mox_imap_connections_open") == open_before)
