"""MOX_LOG_LEVELS: a level per component, validated by `manage.py check` (moxweb.E002)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moxweb.logging import logging_config, parse_component_levels

ROOT = Path(__file__).resolve().parents[2]


def test_parse_levels_per_component_and_module() -> None:
    levels, problems = parse_component_levels(" smtpserver=debug, mailqueue.delivery=WARNING ,")
    assert levels == {"smtpserver": "DEBUG", "mailqueue.delivery": "WARNING"}
    assert problems == []


def test_parse_reports_each_bad_item() -> None:
    levels, problems = parse_component_levels("smtpserver,nosuch=INFO,imapserver=LOUD,mailcore=ERROR")
    assert levels == {"mailcore": "ERROR"}
    assert problems == [
        "MOX_LOG_LEVELS item 'smtpserver' is not component=level",
        "MOX_LOG_LEVELS component 'nosuch' is not one of moxweb, accounts, mailstore, mailqueue, smtpserver, "
        "imapserver, mailcore, webadmin, wellknown, autotls, reports, webserver, deliverylog (or a dotted module below one)",
        "MOX_LOG_LEVELS level 'LOUD' for imapserver is not one of CRITICAL, ERROR, WARNING, INFO, DEBUG",
    ]


def test_config_overrides_default_level() -> None:
    config = logging_config("json", "INFO", {"smtpserver": "DEBUG", "mailqueue.delivery": "ERROR"})
    loggers = config["loggers"]
    assert isinstance(loggers, dict)
    assert loggers["smtpserver"]["level"] == "DEBUG"
    assert loggers["imapserver"]["level"] == "INFO"
    assert loggers["mailqueue.delivery"]["level"] == "ERROR"
    assert config["handlers"]["console"]["formatter"] == "json"  # type: ignore[index]


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "moxweb.settings", **env}
    full.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=60)


def test_levels_take_effect_in_a_process() -> None:
    code = (
        "import django, logging; django.setup();"
        "log = logging.getLogger('smtpserver.connection');"
        "log.debug('visible', extra={'cid': 'c1'});"
        "logging.getLogger('imapserver.session').debug('hidden');"
        "logging.getLogger('mailqueue.delivery').info('hidden too')"
    )
    out = _run(code, MOX_LOG_LEVELS="smtpserver=DEBUG,mailqueue=WARNING", MOX_LOG_LEVEL="INFO")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("time=")]
    assert len(lines) == 1, out.stderr
    assert "level=debug pkg=smtpserver.connection msg=visible cid=c1" in lines[0]


def test_bad_levels_are_a_check_error_not_a_crash() -> None:
    out = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
             "MOX_LOG_LEVELS": "smtpserver=LOUD", "MOX_LOG_LEVEL": "chatty"},
    )
    assert out.returncode != 0
    assert "moxweb.E002" in out.stderr
    assert "MOX_LOG_LEVEL='CHATTY' is not one of CRITICAL, ERROR, WARNING, INFO, DEBUG" in out.stderr
    assert "MOX_LOG_LEVELS level 'LOUD' for smtpserver" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.django_db(transaction=True)
def test_lines_logged_for_a_connection_carry_its_id_remote_ip_and_account(
        smtp_listener, raw_smtp, alice, smtp_tls_context, tls_files, caplog) -> None:  # type: ignore[no-untyped-def]
    """Fields bound by the connection reach lines logged in its database thread too
    (mailqueue's "queued" line), and another connection's lines carry their own."""
    import base64
    import logging

    from moxweb.logging import ContextFilter

    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO)
    srv = smtp_listener(kind="submissions", localserve=False, tls=smtp_tls_context(), hostname="mail.example.test")
    first = raw_smtp(srv, tls=tls_files.client_context())
    second = raw_smtp(srv, tls=tls_files.client_context())
    for c in (first, second):
        c.cmd("EHLO client.example")
    auth = base64.b64encode(b"\0alice@example.test\0alicepassword").decode()
    assert first.cmd(f"AUTH PLAIN {auth}") == "235 2.7.0 nice"
    assert first.cmd("MAIL FROM:<alice@example.test>") == "250 2.1.0 looking good"
    assert first.cmd("RCPT TO:<bob@example.org>").startswith("250")
    assert first.cmd("DATA") == "354 see you at the bare dot"
    assert first.cmd("From: alice@example.test\r\nTo: bob@example.org\r\nSubject: s\r\n\r\nbody\r\n.").startswith("250")
    assert second.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==").startswith("535")
    first.cmd("QUIT")
    second.cmd("QUIT")
    authenticated = [r for r in caplog.records if r.getMessage() == "authenticated"]
    queued = [r for r in caplog.records if r.name.startswith("mailqueue")]
    failed = [r for r in caplog.records if "failed authentication" in r.getMessage()]
    assert len(authenticated) == 1 and queued and failed
    cid = authenticated[0].cid  # type: ignore[attr-defined]
    for record in queued:
        assert (record.cid, record.remote, record.account, record.listener) == (  # type: ignore[attr-defined]
            cid, "127.0.0.1", "alice", "submissions")
    assert failed[0].cid != cid  # type: ignore[attr-defined]
    assert not hasattr(failed[0], "account")
