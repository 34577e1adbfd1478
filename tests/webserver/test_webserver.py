"""The web server in front of Django (mox WebDomainRedirects and WebHandlers), served by
uvicorn on loopback over HTTP and HTTPS (trustme), with a real backend for forwarding."""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme
import uvicorn
from django.core.exceptions import ValidationError

from webserver.models import WebDomainRedirect, WebHandler

pytestmark = pytest.mark.django_db(transaction=True)


class _Servers:
    def __init__(self, http_port: int, https_port: int, ca: trustme.CA) -> None:
        self.http_port, self.https_port = http_port, https_port
        self.client_ctx = ssl.create_default_context()
        ca.configure_trust(self.client_ctx)

    def request(self, method: str, path: str, host: str, *, https: bool = False, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        if https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.https_port, context=self.client_ctx, timeout=10)
            conn.sock = None
            # The certificate is for the names below, not 127.0.0.1: check it against the Host.
            conn._context = self.client_ctx  # type: ignore[attr-defined]
            conn.connect = lambda: _connect_tls(conn, self.client_ctx, host)  # type: ignore[method-assign]
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def _connect_tls(conn: http.client.HTTPConnection, ctx: ssl.SSLContext, host: str) -> None:
    sock = socket.create_connection((conn.host, conn.port), 10)
    conn.sock = ctx.wrap_socket(sock, server_hostname=host.split(":")[0])


def _serve(app: Any, sock: socket.socket, certfile: str = "", keyfile: str = "") -> uvicorn.Server:
    # proxy_headers off: the test client is on 127.0.0.1, whose X-Forwarded-For uvicorn
    # would otherwise trust (as runmail does, for a reverse proxy on the same machine).
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, log_config=None,
                            proxy_headers=False, ssl_certfile=certfile or None, ssl_keyfile=keyfile or None)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    return server


def _bound() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Servers]:
    from moxweb.asgi import application

    ca = trustme.CA()
    cert = ca.issue_cert("example.test", "www.example.test", "other.test")
    d = tmp_path_factory.mktemp("tls")
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    plain, tls = _bound(), _bound()
    s1 = _serve(application, plain)
    s2 = _serve(application, tls, str(d / "cert.pem"), str(d / "key.pem"))
    yield _Servers(plain.getsockname()[1], tls.getsockname()[1], ca)
    s1.should_exit = s2.should_exit = True


@pytest.fixture
def site(tmp_path) -> Any:  # type: ignore[no-untyped-def]
    root = tmp_path / "site"
    (root / "docs").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_text("<p>home</p>")
    (root / "style.css").write_text("body{}")
    (root / "docs" / "a.txt").write_text("0123456789")
    (tmp_path / "secret.txt").write_text("do not serve")
    return root


def handler(**fields: Any) -> WebHandler:
    h = WebHandler(**fields)
    h.full_clean()
    h.save()
    return h


def test_static_files_directories_listings_and_no_escape(servers, site):
    handler(domain="example.test", path_regexp="^/", kind="static", static_root=str(site),
            response_headers={"Cache-Control": "max-age=60"})
    status, headers, body = servers.request("GET", "/style.css", "example.test", https=True)
    assert (status, headers["content-type"], headers["cache-control"], body) == (200, "text/css; charset=utf-8", "max-age=60", b"body{}")
    assert servers.request("GET", "/", "example.test", https=True)[2] == b"<p>home</p>"
    status, headers, _ = servers.request("GET", "/docs", "example.test", https=True)
    assert (status, headers["location"]) == (307, "/docs/")
    assert servers.request("GET", "/docs/", "example.test", https=True)[0] == 403  # no index, no listing
    assert servers.request("GET", "/nope.txt", "example.test", https=True)[0] == 404
    assert servers.request("GET", "/style.css/", "example.test", https=True)[0] == 404
    for escape in ("/../secret.txt", "/docs/../../secret.txt", "/%2e%2e/secret.txt"):
        assert servers.request("GET", escape, "example.test", https=True)[0] == 404, escape
    assert servers.request("POST", "/style.css", "example.test", https=True, body=b"")[0] == 405
    status, headers, body = servers.request("HEAD", "/docs/a.txt", "example.test", https=True)
    assert (status, headers["content-length"], body) == (200, "10", b"")


def test_answers_are_counted_per_handler_and_status(servers, site):
    from prometheus_client import REGISTRY

    def count(code: str) -> float:
        return REGISTRY.get_sample_value("mox_httpserver_request_total", {"handler": "site", "code": code}) or 0.0

    before = (count("200"), count("404"))
    handler(log_name="site", domain="example.test", path_regexp="^/", kind="static", static_root=str(site))
    servers.request("GET", "/style.css", "example.test", https=True)
    servers.request("GET", "/nope", "example.test", https=True)
    servers.request("GET", "/nope", "nobody.test")  # no handler: Django's 404, not counted
    assert (count("200"), count("404")) == (before[0] + 1, before[1] + 1)


def test_static_ranges_and_conditional_requests(servers, site):
    handler(domain="example.test", path_regexp="^/", kind="static", static_root=str(site))
    status, headers, body = servers.request("GET", "/docs/a.txt", "example.test", https=True, headers={"Range": "bytes=2-4"})
    assert (status, headers["content-range"], body) == (206, "bytes 2-4/10", b"234")
    assert servers.request("GET", "/docs/a.txt", "example.test", https=True, headers={"Range": "bytes=-3"})[2] == b"789"
    assert servers.request("GET", "/docs/a.txt", "example.test", https=True, headers={"Range": "bytes=20-"})[0] == 416
    last = servers.request("GET", "/docs/a.txt", "example.test", https=True)[1]["last-modified"]
    status, _, body = servers.request("GET", "/docs/a.txt", "example.test", https=True, headers={"If-Modified-Since": last})
    assert (status, body) == (304, b"")


def test_listing_and_strip_prefix(servers, site):
    handler(domain="example.test", path_regexp="^/files/", kind="static", static_root=str(site),
            static_strip_prefix="/files", static_list_files=True)
    status, headers, body = servers.request("GET", "/files/docs/", "example.test", https=True)
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b'<a href="a.txt">a.txt</a>' in body and b'<a href="../">../</a>' in body
    empty = servers.request("GET", "/files/empty/", "example.test", https=True)[2]
    assert empty.count(b"<tr><td") == 1 and b'<a href="../">../</a>' in empty
    assert servers.request("GET", "/files/docs/a.txt", "example.test", https=True)[2] == b"0123456789"


def test_plain_http_is_redirected_to_https_unless_the_handler_says_not(servers, site):
    handler(domain="example.test", path_regexp="^/", kind="static", static_root=str(site))
    status, headers, _ = servers.request("GET", "/style.css?v=1", "example.test:8080")
    assert (status, headers["location"]) == (308, "https://example.test/style.css?v=1")
    handler(domain="other.test", path_regexp="^/", kind="static", static_root=str(site), dont_redirect_plain_http=True)
    assert servers.request("GET", "/style.css", "other.test")[:1] == (200,)


def test_domain_redirects_keep_path_and_query(servers):
    r = WebDomainRedirect(from_domain="WWW.Example.Test", to_domain="example.test")
    r.full_clean()
    r.save()
    status, headers, _ = servers.request("GET", "/a/b?x=1", "www.example.test")
    assert (status, headers["location"]) == (308, "https://example.test/a/b?x=1")


def test_redirects_rewrite_paths_combine_queries_and_avoid_loops(servers, site):
    handler(position=1, domain="example.test", path_regexp="^/old/", kind="redirect",
            redirect_orig_path_regexp="^/old/(.*)$", redirect_replace_path="/new/$1", redirect_status_code=301,
            dont_redirect_plain_http=True)
    handler(position=2, domain="example.test", path_regexp="^/", kind="redirect",
            redirect_base_url="https://example.test?from=http", dont_redirect_plain_http=True)
    handler(position=3, domain="example.test", path_regexp="^/", kind="static", static_root=str(site))
    status, headers, _ = servers.request("GET", "/old/page?y=2", "example.test", https=True)
    assert (status, headers["location"]) == (301, "/new/page?y=2")
    status, headers, _ = servers.request("GET", "/style.css?y=2", "example.test")
    assert (status, headers["location"]) == (308, "https://example.test/style.css?from=http&y=2")
    # Over HTTPS the second handler would redirect to itself: it does not match, the static one serves.
    assert servers.request("GET", "/style.css", "example.test", https=True)[2] == b"body{}"


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        data = json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_forward_passes_the_request_and_sets_forwarded_headers(servers, site, backend):
    handler(position=1, domain="example.test", path_regexp="^/static-first/", kind="static", static_root=str(site),
            static_strip_prefix="/static-first", static_continue_not_found=True)
    handler(position=2, domain="example.test", path_regexp="^/app/", kind="forward",
            forward_url=f"http://127.0.0.1:{backend}/base/", forward_strip_path=True,
            response_headers={"X-Frame-Options": "sameorigin"})
    handler(position=3, domain="example.test", path_regexp="^/", kind="forward", forward_url=f"http://127.0.0.1:{backend}")
    status, headers, body = servers.request(
        "POST", "/app/items?id=7", "example.test", https=True, body=b"payload",
        headers={"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6"},
    )
    seen = json.loads(body)
    assert (status, headers["x-backend"], headers["x-frame-options"]) == (201, "yes", "sameorigin")
    assert (seen["method"], seen["path"], seen["body"]) == ("POST", "/base/items?id=7", "payload")
    assert seen["headers"]["host"] == "example.test"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert (seen["headers"]["x-forwarded-host"], seen["headers"]["x-forwarded-proto"]) == ("example.test", "https")
    assert "forwarded" not in seen["headers"]
    # try_files: a file that exists is served, one that does not goes on to the backend.
    assert servers.request("GET", "/static-first/style.css", "example.test", https=True)[2] == b"body{}"
    assert json.loads(servers.request("GET", "/static-first/gen.css", "example.test", https=True)[2])["path"] == "/static-first/gen.css"


def test_forward_to_a_dead_backend_is_a_502(servers):
    dead = _bound()
    port = dead.getsockname()[1]
    dead.close()
    handler(domain="example.test", path_regexp="^/", kind="forward", forward_url=f"http://127.0.0.1:{port}/")
    status, _, body = servers.request("GET", "/x", "example.test", https=True)
    assert (status, body) == (502, b"502 - bad gateway\n")


def test_built_in_pages_come_first_and_unmatched_requests_reach_django(servers, site):
    handler(domain="example.test", path_regexp="^/", kind="static", static_root=str(site), dont_redirect_plain_http=True)
    status, headers, _ = servers.request("GET", "/admin/", "example.test")
    assert status == 302 and headers["location"].startswith("/admin/login/")
    assert servers.request("GET", "/.well-known/mta-sts.txt", "example.test")[0] == 404  # Django's view, not a file
    assert servers.request("GET", "/style.css", "nobody.test")[0] == 404


def test_the_model_refuses_bad_handlers():
    cases = [
        (dict(domain="example.test", path_regexp="/x", kind="static", static_root="/srv"), "path_regexp"),
        (dict(domain="example.test", path_regexp="^/(", kind="static", static_root="/srv"), "path_regexp"),
        (dict(domain="example.test", kind="static"), "static_root"),
        (dict(domain="example.test", kind="redirect"), "redirect_base_url"),
        (dict(domain="example.test", kind="redirect", redirect_base_url="https://x.test/path"), "redirect_base_url"),
        (dict(domain="example.test", kind="redirect", redirect_base_url="https://x.test", redirect_status_code=200), "redirect_status_code"),
        (dict(domain="example.test", kind="forward", forward_url="ftp://x"), "forward_url"),
        (dict(domain="example.test", kind="static", static_root="/srv", response_headers={"A": "b\r\nEvil: 1"}), "response_headers"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as info:
            WebHandler(**fields).full_clean()
        assert field in info.value.message_dict, (fields, info.value.message_dict)
