"""The pages as the real server serves them: `manage.py localserve` (uvicorn inside the
mail process, HTTPS with its self-signed certificate). Checks what only the ASGI path
shows: Secure cookies over HTTPS, the security headers, an import started over HTTP
upload, and an export streamed through the async iterator."""
from __future__ import annotations

import http.cookiejar
import io
import json
import re
import ssl
import time
import urllib.parse
import urllib.request
import uuid
import zipfile

import pytest

from tests.localserve.conftest import localserve  # noqa: F401 - a fixture
from webadmin.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.slow


class Browser:
    """urllib with cookies, sending Referer as a browser does (Django's CSRF check over
    HTTPS requires it)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), urllib.request.HTTPSHandler(context=ctx)
        )

    def open(self, path: str, data: bytes | None = None, content_type: str = "") -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base + path, data=data, headers={"Referer": self.base + path})
        if content_type:
            req.add_header("Content-Type", content_type)
        with self.opener.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()

    def csrf(self, path: str) -> str:
        _, _, body = self.open(path)
        m = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        assert m is not None
        return m.group(1).decode()

    def cookie(self, name: str) -> http.cookiejar.Cookie:
        return next(c for c in self.jar if c.name == name)


def _log_in(b: Browser) -> None:
    token = b.csrf("/account/login/")
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": "mox@localhost", "password": "moxmoxmox"})
    status, _, body = b.open("/account/login/", form.encode(), "application/x-www-form-urlencoded")
    assert status == 200 and b"<h1>Account mox</h1>" in body


def test_https_pages_send_the_policy_and_secure_cookies(localserve):  # noqa: F811
    https = Browser(f"https://127.0.0.1:{localserve.ports['https']}")
    status, headers, _ = https.open("/account/login/")
    assert status == 200
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Frame-Options"] == "DENY"
    assert https.cookie("csrftoken").secure
    _log_in(https)
    session = https.cookie("sessionid")
    assert session.secure and session.has_nonstandard_attr("HttpOnly")
    plain = Browser(f"http://127.0.0.1:{localserve.ports['http']}")
    plain.open("/account/login/")
    assert not plain.cookie("csrftoken").secure


def test_an_upload_is_imported_and_an_export_streams_back(localserve):  # noqa: F811
    b = Browser(f"https://127.0.0.1:{localserve.ports['https']}")
    _log_in(b)
    mbox = b"".join(
        b"From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: served %d\n\nbody\n\n" % i for i in range(5)
    )
    boundary = uuid.uuid4().hex
    token = b.csrf("/account/import/")
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="format"\r\n\r\nmbox\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="mailbox"\r\n\r\n\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="Served.mbox"\r\n'
        "Content-Type: application/mbox\r\n\r\n".encode() + mbox + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    status, _, body = b.open("/account/import/", b"".join(parts), f"multipart/form-data; boundary={boundary}")
    job = re.search(rb'data-url="(/account/import/[0-9a-f]+/progress.json)"', body)
    assert status == 200 and job is not None
    deadline = time.monotonic() + 60  # hang guard
    while (p := json.loads(b.open(job.group(1).decode())[2]))["state"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (p["state"], p["counts"]) == ("done", {"Served": 5})

    status, headers, data = b.open("/account/export/download/?format=mbox&archive=zip&mailbox=Served")
    assert status == 200
    assert headers["Content-Disposition"] == 'attachment; filename="mox-Served-mbox.zip"'
    exported = zipfile.ZipFile(io.BytesIO(data)).read("Served.mbox")
    assert [int(n) for n in re.findall(rb"Subject: served (\d)", exported)] == [0, 1, 2, 3, 4]
