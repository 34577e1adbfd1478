"""Which servers and ports mail clients should use, for autoconfig and autodiscover.

Implicit TLS is preferred (RFC 8314 section 3): IMAPS and submissions when their
listeners are enabled (port not 0), else IMAP and submission with STARTTLS.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from accounts.actions import domain_forms_safe


@dataclass(frozen=True)
class Server:
    hostname: str
    port: int
    # "SSL" for implicit TLS, "STARTTLS" otherwise (Thunderbird's socketType words).
    socket_type: str


def imap_server() -> Server:
    host = domain_forms_safe(settings.MOX_HOSTNAME)
    if settings.MOX_IMAPS_PORT:
        return Server(host, settings.MOX_IMAPS_PORT, "SSL")
    return Server(host, settings.MOX_IMAP_PORT, "STARTTLS")


def submission_server() -> Server:
    host = domain_forms_safe(settings.MOX_HOSTNAME)
    if settings.MOX_SUBMISSIONS_PORT:
        return Server(host, settings.MOX_SUBMISSIONS_PORT, "SSL")
    return Server(host, settings.MOX_SUBMISSION_PORT, "STARTTLS")
