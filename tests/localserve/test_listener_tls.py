"""Certificate files per listener group, instead of the shared SNI context."""
from __future__ import annotations

import ssl

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from moxweb.serve import listener_tls


def der(pem_path) -> bytes:  # type: ignore[no-untyped-def]
    return x509.load_pem_x509_certificate(open(pem_path, "rb").read()).public_bytes(Encoding.DER)


def test_each_listener_group_takes_its_own_files(settings, tmp_path):
    ca = trustme.CA()
    imap_cert = ca.issue_cert("imap.example.test")
    imap_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "imap.pem"))
    imap_cert.private_key_pem.write_to_path(str(tmp_path / "imap-key.pem"))
    settings.MOX_IMAP_TLS_CERT = str(tmp_path / "imap.pem")
    settings.MOX_IMAP_TLS_KEY = str(tmp_path / "imap-key.pem")
    shared = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for name in ("imap", "imaps"):
        ctx = listener_tls(name, shared)
        assert ctx is not shared
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
        assert getattr(ctx, "cert_der") == der(tmp_path / "imap.pem")
    for name in ("smtp", "submission", "submissions", "https"):
        assert listener_tls(name, shared) is shared
