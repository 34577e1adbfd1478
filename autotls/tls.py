"""The one TLS configuration of SMTP (STARTTLS, 465), IMAP (STARTTLS, 993) and HTTPS.

`server_context()` returns a context (TLS 1.2 and newer) whose SNI callback picks, per
handshake, in this order:

1. the TLS-ALPN-01 challenge certificate for that name while a challenge is pending
   (RFC 8737 section 3; the context offers only ALPN "acme-tls/1");
2. the ACME certificate for that name from the store;
3. the ACME certificate for the mail host name (clients without SNI, or asking for a
   name we have no certificate for);
4. the base certificate: MOX_TLS_CERT/MOX_TLS_KEY, else the self-signed certificate of
   moxweb.tlsconfig (localserve, or until ACME has issued one).

Files are checked with a stat per handshake and re-read when they change, so new
certificates, from this process or a django-q2 worker, are used without a restart.

Every context carries `cert_der`, the DER of the leaf it serves. After the handshake
`ssl_object.context` is the context chosen for that connection, so
`served_certificate_der(ssl_object)` is what SCRAM-*-PLUS tls-server-end-point channel
binding (RFC 5929 section 4) must hash: with SNI it differs per connection.
"""
from __future__ import annotations

import logging
import os
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from autotls import store, tlsalpn

log = logging.getLogger("moxweb.autotls")

_lock = threading.Lock()
# path -> ((inode, mtime, size), context)
_contexts: dict[Path, tuple[tuple[int, int, int], ssl.SSLContext]] = {}


class NoCertificate(Exception):
    """No certificate source is configured: no files, no ACME, not localserve."""


def configured() -> bool:
    """Whether server_context() has anything to serve (the TLS listeners need it)."""
    return bool(
        (settings.MOX_TLS_CERT and settings.MOX_TLS_KEY) or settings.MOX_ACME_DIRECTORY.strip() or settings.MOX_LOCALSERVE
    )


def new_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def base_files() -> tuple[Path, Path]:
    """Configured files, else the self-signed certificate (made once, mode 0600)."""
    from moxweb.tlsconfig import ensure_self_signed

    if settings.MOX_TLS_CERT and settings.MOX_TLS_KEY:
        return Path(settings.MOX_TLS_CERT), Path(settings.MOX_TLS_KEY)
    names = [n for n in (settings.MOX_HOSTNAME, "localhost") if n]
    return ensure_self_signed(Path(settings.DATA_DIR) / "tls", list(dict.fromkeys(names)))


def server_context(certfile: str | Path | None = None, keyfile: str | Path | None = None) -> ssl.SSLContext:
    """The listeners' SSLContext. Raises NoCertificate when `configured()` is false,
    ssl.SSLError/OSError when configured files cannot be loaded.

    With `certfile` and `keyfile` (a listener configured by hand, as mox's per-listener
    KeyCerts) the context serves those files only, without ACME certificates."""
    if certfile and keyfile:
        static = new_context()
        static.load_cert_chain(str(certfile), str(keyfile))
        static.cert_der = _leaf_der(Path(certfile))  # type: ignore[attr-defined]
        return static
    if not configured():
        raise NoCertificate("no TLS certificate: set MOX_TLS_CERT/MOX_TLS_KEY or MOX_ACME_DIRECTORY")
    cert, key = base_files()
    base = new_context()
    base.load_cert_chain(str(cert), str(key))
    base.cert_der = _leaf_der(cert)  # type: ignore[attr-defined]
    mail_host = store.normalize_hostname(settings.MOX_HOSTNAME)

    def choose(sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        try:
            ctx = select_context(server_name, mail_host)
        except Exception:  # noqa: BLE001 - a failing callback would abort every handshake
            log.exception("tls certificate selection failed", extra={"server_name": server_name})
            return None
        if ctx is not None:
            sslobj.context = ctx
        return None

    base.sni_callback = choose
    return base


def select_context(server_name: str | None, mail_host: str | None) -> ssl.SSLContext | None:
    """The context for a handshake, or None for the base context."""
    host = store.normalize_hostname(server_name)
    if host is not None:
        ctx = _load(store.alpn_path(host), alpn=True) or _load(store.cert_path(host))
        if ctx is not None:
            return ctx
    if mail_host is not None and mail_host != host:
        return _load(store.cert_path(mail_host))
    return None


def _load(path: Path, *, alpn: bool = False) -> ssl.SSLContext | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _contexts.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    ctx = new_context()
    try:
        # The file holds the key and then the chain (autotls.store).
        ctx.load_cert_chain(str(path))
        ctx.cert_der = _leaf_der(path)  # type: ignore[attr-defined]
    except (ssl.SSLError, OSError, ValueError) as exc:
        log.error("tls certificate file unusable", extra={"path": str(path), "error": str(exc)})
        return cached[1] if cached is not None else None
    if alpn:
        # RFC 8737 section 3: the challenge is answered only on acme-tls/1.
        ctx.set_alpn_protocols([tlsalpn.ALPN_PROTOCOL])
    with _lock:
        _contexts[path] = (stamp, ctx)
    if not alpn:
        log.info("tls certificate loaded", extra={"path": str(path)})
    return ctx


def served_certificate_der(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> bytes | None:
    """The DER of the certificate this connection was served (None without TLS)."""
    if ssl_object is None:
        return None
    der = getattr(ssl_object.context, "cert_der", None)
    return der if isinstance(der, bytes) else None


def _leaf_der(path: Path) -> bytes:
    return x509.load_pem_x509_certificates(path.read_bytes())[0].public_bytes(serialization.Encoding.DER)


def forget_cached() -> None:
    """Drop loaded contexts (tests switch data directories)."""
    with _lock:
        _contexts.clear()
