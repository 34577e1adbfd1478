"""DKIM signing and keys (RFC 6376 section 5, RFC 8463 Ed25519).

Keys are stored as PKCS#8 PEM (RSA 2048 or Ed25519), as mox stores them.
`sign()` signs with every given key, the headers mox signs by default, each present
instance plus one more ("oversigning", RFC 6376 section 8.15) so none can be added,
and an optional expiration (x=). Canonicalization and header selection are dkimpy's;
the signature is made with cryptography.
"""
from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from functools import lru_cache

import dkim as dkimpy
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from dkim.canonicalization import CanonicalizationPolicy

from mailcore.authn.errors import ParseError
from mailcore.authn.fromheader import from_domain

# mox's default list (mox-v0.0.5 section 2.7).
DEFAULT_SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Cc",
    "Bcc",
    "Reply-To",
    "References",
    "In-Reply-To",
    "Subject",
    "Date",
    "Message-Id",
    "Content-Type",
)


@dataclass(frozen=True)
class SigningKey:
    selector: str
    private_key_pem: bytes  # PKCS#8 PEM, RSA or Ed25519


def generate_rsa_key(bits: int = 2048) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def generate_ed25519_key() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@lru_cache(maxsize=64)
def _load(pem: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    """Loading checks an RSA key's consistency, which is slow: keys are few, cache them."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise ParseError(f"not a PEM private key: {e}") from e
    if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise ParseError("only RSA and Ed25519 keys can sign DKIM")
    return key


def key_algorithm(pem: bytes) -> str:
    """"rsa" or "ed25519"."""
    return "rsa" if isinstance(_load(pem), rsa.RSAPrivateKey) else "ed25519"


def dns_record(pem: bytes) -> str:
    """The TXT record for <selector>._domainkey.<domain> (RFC 6376 section 3.6.1;
    for Ed25519 the raw 32-byte key, RFC 8463 section 4)."""
    key = _load(pem)
    if isinstance(key, rsa.RSAPrivateKey):
        der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return "v=DKIM1;h=sha256;k=rsa;p=" + base64.b64encode(der).decode()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "v=DKIM1;k=ed25519;p=" + base64.b64encode(raw).decode()


def txt_strings(record: str) -> list[str]:
    """A TXT value cut into character-strings of at most 255 bytes (RFC 1035 3.3.14),
    as zone files and DNS control panels need long DKIM keys."""
    return [record[i : i + 255] for i in range(0, len(record), 255)] or [""]


def _fold(tokens: list[tuple[str, bool]]) -> str:
    """Fold "DKIM-Signature:" and its tokens at 78 columns (RFC 5322 section 2.2.3).
    A glued token follows the previous one without a space unless the line is full;
    FWS is allowed there (around ":" in h=, anywhere in b=, RFC 6376 section 3.5) but
    never inside a header name, where dkimpy's own folding may put it."""
    lines = ["DKIM-Signature:"]
    for text, glue in tokens:
        if text.startswith("b=") or len(lines[-1]) + 1 + len(text) > 78:
            lines.append(" " + text)  # b= always starts a line: see _sign_one
        elif glue:
            lines[-1] += text
        else:
            lines[-1] += " " + text
    return "\r\n".join(lines) + "\r\n"


def _sign_one(
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    selector: str,
    domain: str,
    pem: bytes,
    include: list[str],
    relaxed_header: bool,
    relaxed_body: bool,
    identity: str,
    timestamp: int,
    expiration: int | None,
) -> bytes:
    key = _load(pem)
    algorithm = "rsa-sha256" if isinstance(key, rsa.RSAPrivateKey) else "ed25519-sha256"
    canon = ("relaxed" if relaxed_header else "simple") + "/" + ("relaxed" if relaxed_body else "simple")
    policy = CanonicalizationPolicy.from_c_value(canon.encode())
    bh = base64.b64encode(hashlib.sha256(policy.canonicalize_body(body)).digest()).decode()
    tokens: list[tuple[str, bool]] = [("v=1;", False), (f"a={algorithm};", False), (f"c={canon};", False), (f"d={domain};", False)]
    if identity:
        tokens.append((f"i={identity};", False))
    tokens += [(f"s={selector};", False), (f"t={timestamp};", False)]
    if expiration is not None:
        tokens.append((f"x={timestamp + expiration};", False))
    for i, name in enumerate(include):
        last = i == len(include) - 1
        tokens.append((("h=" if i == 0 else "") + name + (";" if last else ":"), i > 0))
    tokens.append((f"bh={bh};", False))
    # The signature covers this header with an empty b= (RFC 6376 section 3.7); b=
    # starting its own line makes the text before it identical in both versions.
    unsigned = _fold(tokens + [("b=", False)])
    name, _, value = unsigned.partition(":")
    h = hashlib.sha256()
    canonical = policy.canonicalize_headers(headers)
    dkimpy.hash_headers(h, policy, canonical, [n.encode() for n in include], (name.encode(), value.encode()), {})
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(h.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    else:
        sig = key.sign(h.digest())  # RFC 8463 section 3: Ed25519 over the SHA-256 hash
    b64 = base64.b64encode(sig).decode()
    chunks = [b64[i : i + 72] for i in range(0, len(b64), 72)]
    signed = _fold(tokens + [("b=" + chunks[0], False)] + [(c, True) for c in chunks[1:]])
    return signed.encode()


def sign(
    message: bytes,
    domain: str,
    keys: Sequence[SigningKey],
    *,
    identity: str = "",
    signed_headers: Sequence[str] = DEFAULT_SIGNED_HEADERS,
    oversign: bool = True,
    expiration: int | None = None,
    relaxed_header: bool = True,
    relaxed_body: bool = True,
    now: float | None = None,
) -> bytes:
    """DKIM-Signature header fields (each ending in CRLF, one per key) to prepend to
    `message`. `domain` is the From header's domain (mox signs for the From domain,
    not MAIL FROM); `expiration` is seconds after now for x=.
    Raises ParseError for a bad key or a message without From."""
    try:
        parsed, body = dkimpy.rfc822_parse(message)
    except dkimpy.MessageFormatError as e:
        raise ParseError(f"message header: {e}") from e
    headers = [(bytes(k), bytes(v)) for k, v in parsed]
    present: dict[str, int] = {}
    for name, _value in headers:
        lname = name.decode("ascii", "replace").lower()
        present[lname] = present.get(lname, 0) + 1
    if not present.get("from"):
        raise ParseError("message has no From header")  # RFC 6376 section 5.4
    include: list[str] = []
    for hname in signed_headers:
        n = present.get(hname.lower(), 0) + (1 if oversign else 0)
        include += [hname.lower()] * n
    ts = int(time.time() if now is None else now)
    adomain = domain if domain.isascii() else domain.encode("idna").decode()
    out = b""
    for k in keys:
        out += _sign_one(
            headers, body, k.selector, adomain, k.private_key_pem, include,
            relaxed_header, relaxed_body, identity, ts, expiration,
        )
    return out


def sign_from(
    message: bytes,
    keys: Mapping[str, Sequence[SigningKey]],
    **options: Any,
) -> bytes:
    """Sign for the domain of the message's From header (mox signs for the From
    domain, not MAIL FROM: mox-v0.0.5 section 2.7) with that domain's keys, looked up
    by A-label; b"" when From is unusable or the domain has no keys."""
    domain = from_domain(message)
    domain_keys = keys.get(domain, ())
    if not domain_keys:
        return b""
    return sign(message, domain, domain_keys, **options)
