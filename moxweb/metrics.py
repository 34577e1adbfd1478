"""Prometheus metrics (mox v0.0.5 reference 1.3.9), served on MOX_METRICS_PORT.

Counters and the IMAP gauge are module globals registered once at import and
incremented by one-line hooks in the listeners and the queue. Queue size,
certificate expiry and data-directory free space are computed at scrape time by
`StateCollector`, so they are right in every process without bookkeeping.
Metric names and their meaning: docs/metrics.md; alert rules: docs/prometheus.rules.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from mailcore.dns import resolver as resolver_module

log = logging.getLogger(__name__)

SMTP_CONNECTIONS = Counter(
    "mox_smtpserver_connection", "Incoming SMTP connections, by listener kind.", ["kind"])
SMTP_DELIVERIES = Counter(
    "mox_smtpserver_delivery",
    "Messages received on incoming SMTP (port 25, localserve): delivered, or rejected with "
    "the reply's enhanced status code as reason.", ["result", "reason"])
SMTP_SUBMISSIONS = Counter(
    "mox_smtpserver_submission", "Messages submitted by authenticated clients: queued or rejected.", ["result"])
AUTH_FAILURES = Counter(
    "mox_authentication_failures", "Failed login attempts, by protocol (smtp, imap).", ["protocol"])
IMAP_CONNECTIONS_OPEN = Gauge("mox_imap_connections_open", "IMAP connections open now in this process.")
IMAP_COMMANDS = Counter("mox_imap_command", "IMAP commands run, by command name.", ["cmd"])
WEB_REQUESTS = Counter(
    "mox_httpserver_request",
    "Requests answered by the web server's domain redirects and web handlers (not the built-in "
    "pages), by handler (its log name or id, or (domainredirect)) and status code.", ["handler", "code"])
JUNK_VERDICTS = Counter(
    "mox_junkfilter_verdict",
    "Junk filter classifications of incoming messages, per recipient account: ham (accepted) or junk "
    "(over the threshold).", ["verdict"])
DNS_LOOKUPS = Histogram(
    "mox_dns_request_duration_seconds",
    "DNS lookups by record type and result (ok, nxdomain, nodata, temperror), cache hits included.",
    ["type", "result"])


def _dns_lookup(kind: str, status: str, seconds: float) -> None:
    DNS_LOOKUPS.labels(kind, status).observe(seconds)


resolver_module.observe_lookups(_dns_lookup)

QUEUE_DELIVERIES = Counter(
    "mox_queue_delivery",
    "Outgoing delivery attempts by result: success, temporary_failure, permanent_failure.", ["result"])


def smtp_message(config: Any, result: Any) -> None:
    """Count one DATA/BDAT outcome (`result` is the final Reply) for a listener config."""
    if config.submission and not config.localserve:
        SMTP_SUBMISSIONS.labels("queued" if result.code == 250 else "rejected").inc()
    elif result.code == 250:
        SMTP_DELIVERIES.labels("delivered", "").inc()
    else:
        # The enhanced code keeps the label set small and says why (e.g. 5.7.1 policy).
        SMTP_DELIVERIES.labels("rejected", result.enhanced or str(result.code)).inc()


def queue_attempt(outcome: Any) -> None:
    """Count one queue delivery attempt from its mailqueue.transports.Outcome."""
    if outcome.ok:
        result = "success"
    elif outcome.permanent:
        result = "permanent_failure"
    else:
        result = "temporary_failure"
    QUEUE_DELIVERIES.labels(result).inc()


def queue_size() -> int:
    from mailqueue.models import QueuedMessage

    return QueuedMessage.objects.count()


def certificate_expiry() -> dict[str, float]:
    """Hostname -> certificate notAfter as a Unix timestamp: ACME-managed names when
    MOX_ACME_DIRECTORY is set, else the MOX_TLS_CERT file (labelled MOX_HOSTNAME)."""
    from django.conf import settings

    out: dict[str, float] = {}
    if settings.MOX_ACME_DIRECTORY:
        from autotls.manager import status

        for host in status():
            if host.not_after is not None:
                out[host.hostname] = host.not_after.timestamp()
    elif settings.MOX_TLS_CERT:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(Path(settings.MOX_TLS_CERT).read_bytes())
        out[settings.MOX_HOSTNAME] = cert.not_valid_after_utc.timestamp()
    return out


# Certificate files configured by hand for one group of listeners (moxweb.serve).
LISTENER_CERT_SETTINGS = (("smtp", "MOX_SMTP_TLS_CERT"), ("imap", "MOX_IMAP_TLS_CERT"), ("https", "MOX_HTTPS_TLS_CERT"))


def listener_certificate_expiry() -> dict[str, float]:
    """Listener group (smtp, imap, https) -> notAfter of its own certificate file."""
    from cryptography import x509
    from django.conf import settings

    out: dict[str, float] = {}
    for group, name in LISTENER_CERT_SETTINGS:
        path = getattr(settings, name, "")
        if path:
            cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
            out[group] = cert.not_valid_after_utc.timestamp()
    return out


def disk_space(path: Path) -> tuple[int, int]:
    """(free bytes for unprivileged users, total bytes) of the filesystem holding path."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


def _off_loop(fn: Any) -> Any:
    """Django's ORM refuses to run in an event loop's thread; a scrape from inside one
    (tests, an unwrapped ASGI app) runs the query in a short-lived thread instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    box: dict[str, Any] = {}

    def run() -> None:
        from django.db import connection

        try:
            box["value"] = fn()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            box["error"] = e
        finally:
            connection.close()

    t = threading.Thread(target=run, name="metrics-scrape")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class StateCollector(Collector):
    """Gauges read at scrape time. A failing source is logged and left out, so one
    broken part never hides the others."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Given so that registering does not call collect() (no database at import).
        yield GaugeMetricFamily("mox_queue_messages", "")
        yield GaugeMetricFamily("mox_tls_certificate_expiry_timestamp_seconds", "", labels=["hostname"])
        yield GaugeMetricFamily("mox_tls_listener_certificate_expiry_timestamp_seconds", "", labels=["listener"])
        yield GaugeMetricFamily("mox_data_dir_free_bytes", "")
        yield GaugeMetricFamily("mox_data_dir_size_bytes", "")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.conf import settings

        try:
            size = _off_loop(queue_size)
        except Exception:  # noqa: BLE001
            log.exception("metrics: queue size")
        else:
            g = GaugeMetricFamily("mox_queue_messages", "Messages (one per recipient) in the outgoing queue.")
            g.add_metric([], size)
            yield g
        try:
            expiry = _off_loop(certificate_expiry)
        except Exception:  # noqa: BLE001
            log.exception("metrics: certificate expiry")
        else:
            g = GaugeMetricFamily("mox_tls_certificate_expiry_timestamp_seconds",
                                  "Unix time at which the TLS certificate for a hostname expires.",
                                  labels=["hostname"])
            for host, ts in sorted(expiry.items()):
                g.add_metric([host], ts)
            yield g
        try:
            per_listener = listener_certificate_expiry()
        except Exception:  # noqa: BLE001
            log.exception("metrics: listener certificate expiry")
        else:
            g = GaugeMetricFamily("mox_tls_listener_certificate_expiry_timestamp_seconds",
                                  "Unix time at which a listener group's own certificate file "
                                  "(MOX_SMTP_TLS_CERT, MOX_IMAP_TLS_CERT, MOX_HTTPS_TLS_CERT) expires.",
                                  labels=["listener"])
            for group, ts in sorted(per_listener.items()):
                g.add_metric([group], ts)
            yield g
        try:
            free, total = disk_space(Path(settings.DATA_DIR))
        except OSError:
            log.exception("metrics: disk space")
        else:
            g = GaugeMetricFamily("mox_data_dir_free_bytes", "Free bytes on the data directory's filesystem.")
            g.add_metric([], free)
            yield g
            g = GaugeMetricFamily("mox_data_dir_size_bytes", "Total bytes of the data directory's filesystem.")
            g.add_metric([], total)
            yield g


STATE = StateCollector()
REGISTRY.register(STATE)


def scrape() -> bytes:
    """The exposition text of the default registry, run in a worker thread by the app."""
    from django.db import connection

    try:
        return generate_latest(REGISTRY)
    finally:
        connection.close()


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The metrics listener's app: any GET path returns the exposition text; it is
    generated in a worker thread so the database count never blocks the event loop."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope.get("method") not in ("GET", "HEAD"):
        await send({"type": "http.response.start", "status": 405, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"method not allowed\n"})
        return
    body = await asyncio.to_thread(scrape)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())]})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
