"""The files of automatic TLS under DATA_DIR/tls/acme, written atomically with mode 0600.

    account-key.pem   the ACME account key (ECDSA P-256, RFC 8555 section 7.3)
    account.json      {directory URL: account URL}, so the account is looked up once
    certs/<host>.pem  private key followed by the full chain: one file, so a reader never
                      pairs a new chain with an old key
    http01/<token>    key authorizations being served for HTTP-01 (RFC 8555 section 8.3)
    alpn/<host>.pem   TLS-ALPN-01 challenge certificate and key (RFC 8737 section 3)
    state.json        per host: failures, next attempt, last error (the backoff)
    lock              flock held while issuing, so one process issues at a time

Files, not memory or the database: the issuer may run in a django-q2 worker while the
listeners run in runmail, and both see the same data directory.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID
from django.conf import settings

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
# RFC 8555 section 8.1: tokens are base64url without padding.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def acme_dir() -> Path:
    return Path(settings.DATA_DIR) / "tls" / "acme"


def normalize_hostname(name: str | None) -> str | None:
    """The ASCII, lower-case form of a host name, or None when it is not one we could
    hold a certificate for (also what keeps names safe as file names)."""
    if not name:
        return None
    name = name.strip().rstrip(".").lower()
    if not name.isascii():
        try:
            import idna

            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    return name if _HOSTNAME_RE.match(name) else None


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, mode 0600, fsynced with its directory."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mkstemp creates with 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# Account


def load_or_create_account_key() -> ec.EllipticCurvePrivateKey:
    path = acme_dir() / "account-key.pem"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        key = new_private_key()
        # Account URLs recorded for an earlier key belong to other accounts now.
        remove(acme_dir() / "account.json")
        write_private(path, private_key_pem(key))
        return key
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an ECDSA key")
    return key


def account_url(directory: str) -> str | None:
    data = _read_json(acme_dir() / "account.json")
    value = data.get(directory)
    return value if isinstance(value, str) else None


def save_account_url(directory: str, url: str) -> None:
    path = acme_dir() / "account.json"
    data = _read_json(path)
    data[directory] = url
    write_private(path, json.dumps(data, indent=1, sort_keys=True).encode())


# Certificates


@dataclass(frozen=True)
class StoredCert:
    hostname: str
    path: Path
    names: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    issuer: str
    serial: int


def cert_path(hostname: str) -> Path:
    return acme_dir() / "certs" / f"{hostname}.pem"


def save_cert(hostname: str, key: ec.EllipticCurvePrivateKey, fullchain_pem: str | bytes) -> StoredCert:
    chain = fullchain_pem.encode() if isinstance(fullchain_pem, str) else fullchain_pem
    # Refuse to store what we could not serve: the chain must parse and match the key.
    leaf = x509.load_pem_x509_certificates(chain)[0]
    if leaf.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise ValueError(f"certificate for {hostname} does not match its key")
    write_private(cert_path(hostname), private_key_pem(key) + chain)
    stored = read_cert(hostname)
    assert stored is not None
    return stored


def read_cert(hostname: str) -> StoredCert | None:
    path = cert_path(hostname)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return describe_cert(hostname, path, data)


def describe_cert(hostname: str, path: Path, pem: bytes) -> StoredCert:
    leaf = x509.load_pem_x509_certificates(pem)[0]
    try:
        san = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = tuple(san.get_values_for_type(x509.DNSName))  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        names = ()
    return StoredCert(
        hostname=hostname,
        path=path,
        names=names,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        issuer=leaf.issuer.rfc4514_string(),
        serial=leaf.serial_number,
    )


# Challenges


def http01_path(token: str) -> Path | None:
    return acme_dir() / "http01" / token if _TOKEN_RE.match(token) else None


def alpn_path(hostname: str) -> Path:
    return acme_dir() / "alpn" / f"{hostname}.pem"


def remove(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_challenge_files() -> None:
    for sub in ("http01", "alpn"):
        directory = acme_dir() / sub
        if directory.is_dir():
            for path in directory.iterdir():
                remove(path)


# Backoff state


def load_state() -> dict[str, dict[str, Any]]:
    return _read_json(acme_dir() / "state.json")


def save_state(state: dict[str, dict[str, Any]]) -> None:
    write_private(acme_dir() / "state.json", json.dumps(state, indent=1, sort_keys=True).encode())


@contextlib.contextmanager
def issuer_lock() -> Iterator[bool]:
    """Yields True when this process holds the issuing lock, False when another has it."""
    path = acme_dir() / "lock"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}
