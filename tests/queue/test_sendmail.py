"""manage.py sendmail: stdin, -t (Bcc dropped), -f, CRLF, SASL choice, failures kept."""
from __future__ import annotations

import io
import sys

import pytest
from django.core.management import CommandError, call_command

from tests.listeners import bound_socket
from tests.queue.conftest import start_sink

pytestmark = pytest.mark.django_db

RAW = b"From: cron <cron@example.test>\nTo: a@example.org\nBcc: hidden@example.org,\n  other@example.org\nSubject: report\n\nall good\n"


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_it_submits_with_header_recipients_and_without_bcc(loop_thread, settings, tls_files, monkeypatch):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), scram={"cron@example.test": "pw"})
    settings.MOX_SENDMAIL_PORT = sink.port
    settings.MOX_SENDMAIL_USERNAME = "cron@example.test"
    settings.MOX_SENDMAIL_PASSWORD = "pw"
    monkeypatch.setattr(sys, "stdin", _Stdin(RAW))

    call_command("sendmail", "-t", "-i", "-f", "bounces@example.test", "extra@example.net")

    (got,) = sink.messages
    assert got.mail_from == "bounces@example.test"
    assert got.rcpt_tos == ["extra@example.net", "a@example.org", "hidden@example.org", "other@example.org"]
    assert got.data == b"From: cron <cron@example.test>\r\nTo: a@example.org\r\nSubject: report\r\n\r\nall good\r\n"
    assert (got.tls, got.auth) == (True, "SCRAM-SHA-256:cron@example.test")


def test_without_configuration_it_logs_in_as_the_localserve_account(loop_thread, settings, tls_files, monkeypatch):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), auth={"mox@localhost": "moxmoxmox"})
    settings.MOX_SENDMAIL_PORT = sink.port
    monkeypatch.setattr(sys, "stdin", _Stdin(b"Subject: x\n\nhi\n"))

    call_command("sendmail", "root@example.org")

    assert sink.messages[0].auth == "mox@localhost"
    assert sink.messages[0].mail_from == "mox@localhost"


def test_a_refused_submission_exits_with_the_reply_and_keeps_the_message(loop_thread, settings, tls_files, monkeypatch, tmp_path):
    sink = start_sink(loop_thread, bound_socket(), tls_context=tls_files.server_context(), auth={"u": "p"},
                      rcpt_reply=lambda a: "550 5.7.1 relaying denied")
    settings.MOX_SENDMAIL_PORT = sink.port
    settings.MOX_SENDMAIL_USERNAME = "u"
    settings.MOX_SENDMAIL_PASSWORD = "p"
    settings.MOX_SENDMAIL_TLS_VERIFY = False
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "stdin", _Stdin(b"Subject: x\n\nhi\n"))

    with pytest.raises(CommandError) as exc:
        call_command("sendmail", "root@example.org")
    assert str(exc.value).startswith(f"submitting to 127.0.0.1:{sink.port}: RCPT TO: 550 5.7.1 relaying denied (message saved in ")
    (saved,) = (tmp_path / "moxsubmit.failures").iterdir()
    assert saved.read_bytes() == b"Subject: x\r\n\r\nhi\r\n"


def test_plain_is_never_sent_without_tls(loop_thread, settings, monkeypatch, tmp_path):
    sink = start_sink(loop_thread, bound_socket())
    settings.MOX_SENDMAIL_PORT = sink.port
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "stdin", _Stdin(b"Subject: x\n\nhi\n"))

    with pytest.raises(CommandError) as exc:
        call_command("sendmail", "root@example.org")
    assert "no usable authentication mechanism (server offers none)" in str(exc.value)
    assert sink.messages == []


def test_the_console_entry_point_reads_stdin_and_exits_1_on_failure(tmp_path):
    import os
    import subprocess
    from pathlib import Path

    closed = bound_socket()
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    env = dict(
        os.environ, HOME=str(tmp_path), MOX_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="moxweb.settings",
        MOX_SENDMAIL_PORT=str(port), PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    p = subprocess.run(
        [sys.executable, "-c", "from mailqueue.sendmail import main; main()", "-oi", "root@example.org"],
        input=b"Subject: x\n\nhi\n", env=env, capture_output=True, timeout=60,
    )
    assert p.returncode == 1
    assert p.stderr.startswith(f"sendmail: submitting to 127.0.0.1:{port}: ".encode())
    (saved,) = (tmp_path / "moxsubmit.failures").iterdir()
    assert saved.read_bytes() == b"Subject: x\r\n\r\nhi\r\n"
