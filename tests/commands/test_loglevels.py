"""loglevels: see and change log levels, in this process and in running ones."""
from __future__ import annotations

import json
import logging
import os
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moxweb import loglevels
from tests.commands.helpers import fails, run
from tests.localserve.conftest import ROOT, Localserve, child_env
from tests.localserve.test_localserve import make_message


@pytest.fixture(autouse=True)
def _restore_levels(settings):  # type: ignore[no-untyped-def]
    settings.MOX_LOG_LEVEL = "INFO"
    settings.MOX_LOG_LEVELS = {"mailqueue.delivery": "WARNING"}
    yield
    loglevels.apply({})


def test_it_lists_components_with_their_source(own_data_dir):
    lines = run("loglevels")
    assert "smtpserver               INFO     MOX_LOG_LEVEL" in lines
    assert "mailqueue.delivery       WARNING  MOX_LOG_LEVELS" in lines


def test_it_changes_a_level_here_and_on_disk_and_removes_the_change(own_data_dir):
    lines = run("loglevels", "smtpserver", "debug")
    assert "smtpserver               DEBUG    changed at runtime" in lines
    assert logging.getLogger("smtpserver").level == logging.DEBUG
    assert json.loads((own_data_dir / "loglevels.json").read_text()) == {"smtpserver": "DEBUG"}
    lines = run("loglevels", "--remove", "smtpserver")
    assert "smtpserver               INFO     MOX_LOG_LEVEL" in lines
    assert logging.getLogger("smtpserver").level == logging.INFO
    assert fails("loglevels", "--remove", "smtpserver") == "no log level change for 'smtpserver'"
    assert fails("loglevels", "nginx", "DEBUG").startswith("'nginx' is not one of moxweb, accounts")
    assert fails("loglevels", "smtpserver", "LOUD") == "'LOUD' is not one of CRITICAL, ERROR, WARNING, INFO, DEBUG"
    assert fails("loglevels", "smtpserver") == "give a LEVEL after the component"


def test_a_change_written_by_another_process_is_applied(own_data_dir):
    loglevels.apply_if_changed(0)
    (own_data_dir / "loglevels.json").write_text(json.dumps({"imapserver.session": "ERROR", "bogus": "X"}))
    os.utime(own_data_dir / "loglevels.json", (time.time() + 5, time.time() + 5))
    loglevels.apply_if_changed(0)
    assert logging.getLogger("imapserver.session").level == logging.ERROR
    (own_data_dir / "loglevels.json").unlink()
    loglevels.apply_if_changed(0)
    assert logging.getLogger("imapserver.session").level == logging.NOTSET


def test_a_running_localserve_follows_a_change_made_by_the_command(tmp_path):
    ls = Localserve(tmp_path / "data", MOX_RUN_WORKER="0")
    ls.start()
    try:
        def deliver(subject: str) -> None:
            with smtplib.SMTP("127.0.0.1", ls.ports["smtp"], timeout=10) as c:
                c.sendmail("sender@example.org", ["mox@localhost"], make_message(subject))

        deliver("before")
        env = child_env(MOX_DATA_DIR=str(ls.data_dir))
        out = subprocess.run([sys.executable, "manage.py", "loglevels", "mailstore", "WARNING"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
        assert "mailstore                WARNING  changed at runtime" in out.stdout, out.stderr
        time.sleep(1.5)  # localserve looks every second
        deliver("after")
        # The 250 came after the delivery was logged (or not); the reader thread may lag.
        time.sleep(0.5)
    finally:
        ls.stop()
    delivered = [line for line in ls.output if "message delivered" in line]
    assert any("before@test" in line for line in delivered), delivered
    assert not any("after@test" in line for line in delivered), delivered
    assert Path(ls.data_dir / "loglevels.json").exists()
