from __future__ import annotations

from tests.commands.helpers import fails, run


def test_it_prints_implicit_tls_ports_first_and_starttls_as_alternatives(domain, settings):
    settings.MOX_HOSTNAME = "mail.example.test"
    settings.MOX_IMAPS_PORT, settings.MOX_IMAP_PORT = 993, 143
    settings.MOX_SUBMISSIONS_PORT, settings.MOX_SUBMISSION_PORT = 465, 587
    assert run("clientconfig", "example.test") == [
        "IMAP        mail.example.test port 993, TLS from the start (implicit TLS)",
        "submission  mail.example.test port 465, TLS from the start (implicit TLS)",
        "username    the full email address (e.g. you@example.test)",
        "password    the account's password",
        "also        IMAP port 143 with STARTTLS",
        "also        submission port 587 with STARTTLS",
    ]


def test_it_falls_back_to_starttls_when_implicit_tls_is_off(domain, settings):
    settings.MOX_HOSTNAME = "mail.example.test"
    settings.MOX_IMAPS_PORT, settings.MOX_IMAP_PORT = 0, 143
    settings.MOX_SUBMISSIONS_PORT, settings.MOX_SUBMISSION_PORT = 0, 587
    assert run("clientconfig", "example.test")[:2] == [
        "IMAP        mail.example.test port 143, STARTTLS",
        "submission  mail.example.test port 587, STARTTLS",
    ]
    assert fails("clientconfig", "other.test") == "domain other.test is not configured"
