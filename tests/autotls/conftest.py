"""Pebble (an ACME test CA) and pebble-challtestsrv (its DNS) on loopback, from Debian's
`pebble` package, with a TLS certificate made here by trustme (the package ships none).

pebble-challtestsrv, Pebble's DNS, answers every A query with 127.0.0.1, so the names
under test resolve to the loopback listeners the tests start on Pebble's httpPort and
tlsPort. (Pebble lives for the session; the dnslib `dns_server` fixture is per test.)
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.listeners import LoopThread


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Pebble:
    directory: str
    ca_bundle: str  # trusts Pebble's own HTTPS certificate (trustme)
    http_port: int  # where Pebble's VA connects for HTTP-01
    tls_port: int  # where it connects for TLS-ALPN-01
    management: str
    challtestsrv_management: str
    dns: str

    def _client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_bundle)

    def root_pem(self) -> str:
        """The issuing root; Pebble makes a new one at every start."""
        with urllib.request.urlopen(self.management + "/roots/0", context=self._client_context(), timeout=5) as r:
            return str(r.read().decode())


def _wait_for(check: object, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()}")
        try:
            check()  # type: ignore[operator]
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start: {log.read_text()}")


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    if not (shutil.which("pebble") and shutil.which("pebble-challtestsrv")):
        pytest.fail("Debian package pebble is not installed: run scripts/install-debian-packages.sh (make test does)")
    d = tmp_path_factory.mktemp("pebble")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    with open(d / "cert.pem", "wb") as fh:
        for blob in cert.cert_chain_pems:
            fh.write(blob.bytes())

    dns_port, cts_mgmt, acme_port, mgmt_port, http_port, tls_port = (free_port() for _ in range(6))
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{acme_port}",
            "managementListenAddress": f"127.0.0.1:{mgmt_port}",
            "certificate": str(d / "cert.pem"),
            "privateKey": str(d / "key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (d / "pebble.json").write_text(json.dumps(config))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        cts_log = d / "challtestsrv.log"
        cts = subprocess.Popen(
            ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{cts_mgmt}", "-defaultIPv4", "127.0.0.1",
             "-defaultIPv6", ""],
            stdout=cts_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(cts)
        _wait_for(lambda: socket.create_connection(("127.0.0.1", cts_mgmt), 1).close(), "challtestsrv", cts, cts_log)

        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        pebble_log = d / "pebble.log"
        proc = subprocess.Popen(
            ["pebble", "-config", str(d / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
            stdout=pebble_log.open("wb"), stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        procs.append(proc)
        p = Pebble(
            directory=f"https://127.0.0.1:{acme_port}/dir",
            ca_bundle=str(d / "ca.pem"),
            http_port=http_port,
            tls_port=tls_port,
            management=f"https://127.0.0.1:{mgmt_port}",
            challtestsrv_management=f"http://127.0.0.1:{cts_mgmt}",
            dns=f"127.0.0.1:{dns_port}",
        )
        ctx = ssl.create_default_context(cafile=p.ca_bundle)
        _wait_for(lambda: urllib.request.urlopen(p.directory, context=ctx, timeout=1).close(), "pebble", proc, pebble_log)
        yield p
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def acme_settings(settings, tmp_path: Path, pebble: Pebble):  # type: ignore[no-untyped-def]
    """A fresh data directory, and the ACME settings pointing at Pebble."""
    from autotls import tls

    settings.DATA_DIR = tmp_path
    settings.MOX_HOSTNAME = "mail.example.test"
    settings.MOX_ACME_DIRECTORY = pebble.directory
    settings.MOX_ACME_CA_BUNDLE = pebble.ca_bundle
    settings.MOX_ACME_EMAIL = "postmaster@example.test"
    settings.MOX_ACME_TIMEOUT = 5
    settings.MOX_ACME_ORDER_TIMEOUT = 30
    settings.MOX_TLS_CERT = ""
    settings.MOX_TLS_KEY = ""
    settings.ROOT_URLCONF = "tests.autotls.urls"
    tls.forget_cached()
    yield settings
    tls.forget_cached()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.stop()
