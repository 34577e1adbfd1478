"""Gauges computed at scrape time: certificate expiry, disk space; and the listener's app."""
from __future__ import annotations

import datetime
import os
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from autotls import store
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
    settings.MOX_SMTP_TLS_CERT = settings.MOX_IMAP_TLS_CERT = settings.MOX_HTTPS_TLS_CERT = ""
    assert metrics.certificate_expiry() == {}
    assert metrics.listener_certificate_expiry() == {}


def test_it_reports_per_listener_certificate_files(settings, tls_files):
    settings.MOX_SMTP_TLS_CERT = str(tls_files.cert_path)
    settings.MOX_IMAP_TLS_CERT = settings.MOX_HTTPS_TLS_CERT = ""
    cert = x509.load_pem_x509_certificate(tls_files.cert_path.read_bytes())

    assert value("mox_tls_listener_certificate_expiry_timestamp_seconds", listener="smtp") == (
        cert.not_valid_after_utc.timestamp())
    assert REGISTRY.get_sample_value("mox_tls_listener_certificate_expiry_timestamp_seconds",
                                     {"listener": "imap"}) is None


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


@pytest.mark.django_db
def test_it_reports_acme_certificates_per_hostname(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.MOX_ACME_DIRECTORY = "https://acme.example/directory"
    settings.MOX_HOSTNAME = "mail.example.test"
    settings.MOX_ACME_HOSTNAMES = ["other.example.test"]
    key = store.new_private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.test")])
    not_after = datetime.datetime(2027, 2, 1, 12, 0, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(not_after - datetime.timedelta(days=90)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    store.save_cert("mail.example.test", key, cert.public_bytes(Encoding.PEM))

    # other.example.test has no certificate yet: it is left out, not reported as 0.
    assert metrics.certificate_expiry() == {"mail.example.test": not_after.timestamp()}
    assert value("mox_tls_certificate_expiry_timestamp_seconds", hostname="mail.example.test") == (
        not_after.timestamp())
