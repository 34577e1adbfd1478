"""Gauges computed at scrape time: certificate expiry, disk space; and the listener's app."""
from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from moxweb import metrics
from tests.metrics.helpers import value


def test_it_reports_the_configured_certificates_expiry(settings, tls_files):
    settings.MOX_ACME_DIRECTORY = ""
    settings.MOX_TLS_CERT = str(tls_files.cert_path)
    settings.MOX_HOSTNAME = "mail.example.test"
    cert = x509.load_pem_x509_certificate(tls_files.cert_path.read_bytes())

    assert value("mox_tls_certificate_expiry_timestamp_seconds", hostname="mail.example.test") == (
        cert.not_valid_after_utc.timestamp())


def test_it_reports_no_certificate_without_tls(settings):
    settings.MOX_ACME_DIRECTORY = ""
    settings.MOX_TLS_CERT = ""
    assert metrics.certificate_expiry() == {}


def test_it_reports_the_data_directorys_disk_space(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    st = os.statvfs(tmp_path)

    assert value("mox_data_dir_size_bytes") == st.f_blocks * st.f_frsize
    free = value("mox_data_dir_free_bytes")
    # Other processes write meanwhile: the same order of magnitude, within 64 MiB.
    assert abs(free - st.f_bavail * st.f_frsize) < 64 * 1024 * 1024


@pytest.mark.django_db(transaction=True)
async def test_the_listener_app_scrapes_off_the_event_loop(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await metrics.asgi_app({"type": "http", "method": "GET", "path": "/metrics"}, receive, send)

    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-type"].startswith(b"text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(sent[1]["body"].decode())}
    assert [s.value for s in families["mox_queue_messages"].samples] == [0.0]
    assert "mox_smtpserver_connection" in families
    assert "mox_data_dir_free_bytes" in families
