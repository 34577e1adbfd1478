"""Renewal driven by an injected clock, and CA errors and timeouts that leave the old
certificate serving, with backoff."""
from __future__ import annotations

import datetime
import logging
import socket
import time

import pytest

from autotls import acmeclient, manager, store, tls
from tests.autotls.conftest import free_port
from tests.autotls.servers import django_web, peer_serial, tls_server

NAME = "mail.example.test"


@pytest.fixture
def issued(acme_settings, pebble, loop) -> store.StoredCert:
    acme_settings.MOX_ACME_CHALLENGES = ["http-01"]
    with django_web(loop, pebble.http_port):
        assert manager.renew_due([NAME]).obtained == [NAME]
    cert = store.read_cert(NAME)
    assert cert is not None
    return cert


def test_it_renews_30_days_before_expiry_without_a_restart(issued, pebble, loop) -> None:
    with tls_server(loop, free_port(), tls.server_context()) as port:
        assert peer_serial(port, NAME) == issued.serial

        early = manager.renew_due([NAME], clock=lambda: issued.not_after - datetime.timedelta(days=31))
        assert early.not_due == [NAME] and early.obtained == []
        assert store.read_cert(NAME).serial == issued.serial  # type: ignore[union-attr]

        with django_web(loop, pebble.http_port):
            due = manager.renew_due([NAME], clock=lambda: issued.not_after - datetime.timedelta(days=29))
        assert due.obtained == [NAME], due.failed
        renewed = store.read_cert(NAME)
        assert renewed is not None and renewed.serial != issued.serial
        # The running listener's context serves the new certificate.
        assert peer_serial(port, NAME) == renewed.serial
    (status,) = manager.status([NAME])
    assert (status.state, status.not_after, status.failures) == ("valid", renewed.not_after, 0)
    assert status.renew_at == renewed.not_after - datetime.timedelta(days=30)


def test_it_keeps_serving_the_old_certificate_when_the_ca_fails(issued, pebble, loop, caplog) -> None:
    broken = acmeclient.ACMEConfig(directory=pebble.directory + "-missing", ca_bundle=pebble.ca_bundle)
    now = issued.not_after - datetime.timedelta(days=1)
    caplog.set_level(logging.INFO, logger="moxweb.autotls")
    with tls_server(loop, free_port(), tls.server_context()) as port:
        result = manager.renew_due([NAME], clock=lambda: now, config=broken)
        assert list(result.failed) == [NAME]
        assert "cannot fetch ACME directory" in result.failed[NAME]
        assert peer_serial(port, NAME) == issued.serial
    assert store.read_cert(NAME).serial == issued.serial  # type: ignore[union-attr]
    failure = [r for r in caplog.records if r.message == "acme certificate request failed"]
    assert failure and failure[0].levelno == logging.ERROR
    assert failure[0].serving == f"keeps serving the certificate valid until {issued.not_after.isoformat()}"  # type: ignore[attr-defined]

    # Backoff: nothing is asked of the CA for 5 minutes, then 10 after the next failure.
    state = store.load_state()[NAME]
    assert state["failures"] == 1
    assert state["next_attempt"] == (now + datetime.timedelta(minutes=5)).isoformat()
    again = manager.renew_due([NAME], clock=lambda: now + datetime.timedelta(minutes=4), config=broken)
    assert again.backing_off == [NAME] and not again.failed
    later = now + datetime.timedelta(minutes=6)
    third = manager.renew_due([NAME], clock=lambda: later, config=broken)
    assert list(third.failed) == [NAME]
    assert store.load_state()[NAME]["next_attempt"] == (later + datetime.timedelta(minutes=10)).isoformat()

    (status,) = manager.status([NAME], clock=lambda: later)
    assert status.state == "backing off"
    assert status.failures == 2
    assert "cannot fetch ACME directory" in status.last_error
    assert status.not_after == issued.not_after


def test_it_keeps_serving_the_old_certificate_when_the_ca_times_out(issued, pebble, loop) -> None:
    # A CA that accepts connections and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        stuck = acmeclient.ACMEConfig(
            directory=f"https://127.0.0.1:{port}/dir", ca_bundle=pebble.ca_bundle, request_timeout=1
        )
        start = time.monotonic()
        result = manager.renew_due([NAME], clock=lambda: issued.not_after, config=stuck)
        assert time.monotonic() - start < 10
    assert list(result.failed) == [NAME]
    assert "timed out" in result.failed[NAME]
    with tls_server(loop, free_port(), tls.server_context()) as tls_port:
        assert peer_serial(tls_port, NAME) == issued.serial


def test_it_reports_a_failed_validation(acme_settings, pebble) -> None:
    # Nothing listens on Pebble's httpPort: the CA cannot fetch the key authorization.
    acme_settings.MOX_ACME_CHALLENGES = ["http-01"]
    result = manager.renew_due(["mta-sts.example.test"])
    assert list(result.failed) == ["mta-sts.example.test"]
    assert result.failed["mta-sts.example.test"].startswith("http-01 validation of mta-sts.example.test failed: ")
    assert store.read_cert("mta-sts.example.test") is None
    assert list((store.acme_dir() / "http01").iterdir()) == []


def test_it_does_nothing_when_acme_is_off(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path
    settings.MOX_ACME_DIRECTORY = ""
    result = manager.renew_due([NAME])
    assert (result.obtained, result.failed, result.not_due) == ([], {}, [])
    assert not (tmp_path / "tls").exists()


def test_it_removes_challenge_files_left_by_a_crashed_run(acme_settings) -> None:
    acme_settings.MOX_ACME_DIRECTORY = "https://127.0.0.1:1/dir"  # never reached
    stale = [store.http01_path("old-token"), store.alpn_path(NAME)]
    for path in stale:
        store.write_private(path, b"stale")  # type: ignore[arg-type]
    manager.renew_due([], clock=lambda: datetime.datetime.now(datetime.timezone.utc))
    assert [p.exists() for p in stale] == [False, False]  # type: ignore[union-attr]
