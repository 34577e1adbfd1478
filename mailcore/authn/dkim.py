"""DKIM verification (RFC 6376, RFC 8463 Ed25519, RFC 8301 algorithm rules).

Every DKIM-Signature header is checked, not only the first (dkimpy's verify() checks
one). We parse the signature and key records ourselves, so a malformed one gives a
clear `permerror` and a DNS failure a `temperror`; we prefetch all keys concurrently
through our resolver, then let dkimpy do the cryptography with a dnsfunc that only
reads the prefetched records. Large messages are verified in a worker thread.

Policy as mox's DefaultPolicy: a signature with l= (body length) or one that does not
sign Subject gets `policy` (RFC 8601 section 2.7.1).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import dkim as dkimpy
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from mailcore.authn import dkimfast
from mailcore.authn.errors import ParseError
from mailcore.authn.tags import parse_tags
from mailcore.dns import Resolver, Result, Status

dkimfast.install()


class DKIMStatus(StrEnum):
    """RFC 8601 section 2.7.1."""

    none = "none"
    pass_ = "pass"
    fail = "fail"
    policy = "policy"
    neutral = "neutral"
    temperror = "temperror"
    permerror = "permerror"


ALGORITHMS = ("rsa-sha256", "rsa-sha1", "ed25519-sha256")


@dataclass(frozen=True)
class Signature:
    """A parsed DKIM-Signature header value (RFC 6376 section 3.5)."""

    algorithm: str  # a=, lowercased
    b: str  # base64, whitespace removed
    body_hash: str  # bh=
    domain: str  # d=, lowercased, no trailing dot
    selector: str  # s=
    signed_headers: tuple[str, ...]  # h=, lowercased
    canonicalization: str = "simple/simple"
    identity: str = ""  # i=
    length: int | None = None  # l=
    timestamp: int | None = None  # t=
    expiration: int | None = None  # x=


@dataclass(frozen=True)
class KeyRecord:
    """A DKIM key record (RFC 6376 section 3.6.1; k=ed25519 from RFC 8463)."""

    key_type: str  # "rsa" or "ed25519"
    public_key: bytes  # p=, decoded; empty when revoked
    hashes: tuple[str, ...] = ()  # h=, empty = all
    services: tuple[str, ...] = ("*",)  # s=
    flags: tuple[str, ...] = ()  # t=
    notes: str = ""
    bits: int = 0  # RSA modulus size, 256 for Ed25519, 0 when revoked


@dataclass(frozen=True)
class DKIMResult:
    status: DKIMStatus
    signature: Signature | None = None
    record: KeyRecord | None = None
    error: str = ""
    # As found in the header when it could not be parsed fully, for the A-R header.
    domain: str = ""
    selector: str = ""

    @property
    def passed(self) -> bool:
        return self.status == DKIMStatus.pass_


def _b64(value: str, what: str) -> bytes:
    compact = re.sub(r"[ \t\r\n]+", "", value)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ParseError(f"{what}: invalid base64") from e


def _int(value: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,12}", value):
        raise ParseError(f"{what}: not a number")
    return int(value)


def parse_signature(value: str | bytes) -> Signature:
    """Parse a DKIM-Signature header value; raises ParseError (RFC 6376 section 3.5)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    tags = dict(parse_tags(value))
    for required in ("v", "a", "b", "bh", "d", "h", "s"):
        if required not in tags:
            raise ParseError(f"missing required tag {required}=")
    if tags["v"] != "1":
        raise ParseError(f"unsupported version v={tags['v'][:20]}")
    algorithm = tags["a"].lower()
    if algorithm not in ALGORITHMS:
        raise ParseError(f"unknown algorithm a={algorithm[:30]}")
    _b64(tags["b"], "b=")
    _b64(tags["bh"], "bh=")
    domain = tags["d"].lower().rstrip(".")
    if not domain or ".." in domain or " " in domain:
        raise ParseError("bad d= domain")
    selector = tags["s"].lower()
    if not selector:
        raise ParseError("empty s= selector")
    signed = tuple(h.strip(" \t\r\n").lower() for h in tags["h"].split(":"))
    if any(not h for h in signed):
        raise ParseError("empty header name in h=")
    if "from" not in signed:
        raise ParseError("h= does not include From")  # RFC 6376 section 5.4
    canon = tags.get("c", "simple").lower()
    if "/" not in canon:
        canon += "/simple"
    hc, _, bc = canon.partition("/")
    if hc not in ("simple", "relaxed") or bc not in ("simple", "relaxed"):
        raise ParseError(f"unknown canonicalization c={canon[:30]}")
    identity = tags.get("i", "")
    if identity:
        # section 3.5: the domain of i= must be d= or a subdomain of it.
        idom = identity.rpartition("@")[2].lower().rstrip(".")
        if "@" not in identity or not (idom == domain or idom.endswith("." + domain)):
            raise ParseError("i= is not in the d= domain")
    q = tags.get("q", "dns/txt").lower()
    if "dns/txt" not in [m.strip() for m in q.split(":")]:
        raise ParseError("q= does not allow dns/txt")
    length = _int(tags["l"], "l=") if "l" in tags else None
    ts = _int(tags["t"], "t=") if "t" in tags else None
    exp = _int(tags["x"], "x=") if "x" in tags else None
    if ts is not None and exp is not None and exp < ts:
        raise ParseError("x= is before t=")
    return Signature(
        algorithm=algorithm,
        b=re.sub(r"[ \t\r\n]+", "", tags["b"]),
        body_hash=re.sub(r"[ \t\r\n]+", "", tags["bh"]),
        domain=domain,
        selector=selector,
        signed_headers=signed,
        canonicalization=f"{hc}/{bc}",
        identity=identity,
        length=length,
        timestamp=ts,
        expiration=exp,
    )


def parse_key_record(value: str | bytes) -> KeyRecord:
    """Parse a DKIM key TXT record; raises ParseError (RFC 6376 section 3.6.1)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    pairs = parse_tags(value)
    tags = dict(pairs)
    if "v" in tags and (pairs[0][0] != "v" or tags["v"] != "DKIM1"):
        raise ParseError("v= must be first and DKIM1")
    if "p" not in tags:
        raise ParseError("missing p= public key")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in ("rsa", "ed25519"):
        raise ParseError(f"unknown key type k={key_type[:20]}")
    pub = _b64(tags["p"], "p=")
    bits = 0
    if pub and key_type == "rsa":
        try:
            key = load_der_public_key(pub)
        except Exception as e:  # noqa: BLE001 - ValueError, UnsupportedAlgorithm, ...
            raise ParseError("p= is not an RSA public key") from e
        if not isinstance(key, rsa.RSAPublicKey):
            raise ParseError("p= is not an RSA public key")
        bits = key.key_size
    elif pub:
        if len(pub) != 32:  # RFC 8463 section 4
            raise ParseError("ed25519 p= is not 32 bytes")
        bits = 256

    def colon_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if name not in tags:
            return default
        return tuple(x.strip(" \t\r\n").lower() for x in tags[name].split(":") if x.strip(" \t\r\n"))

    return KeyRecord(
        key_type=key_type,
        public_key=pub,
        hashes=colon_list("h", ()),
        services=colon_list("s", ("*",)),
        flags=colon_list("t", ()),
        notes=tags.get("n", ""),
        bits=bits,
    )


def _rough_tag(raw: str, name: str) -> str:
    m = re.search(r"(?:^|;)\s*" + name + r"\s*=\s*([^;]*)", raw)
    return m.group(1).strip().lower() if m else ""


def _check_key(sig: Signature, rec: KeyRecord, min_rsa_bits: int) -> str:
    """Why this key cannot verify this signature (empty when it can)."""
    if not rec.public_key:
        return "key revoked (empty p=)"  # RFC 6376 section 3.6.1
    if sig.algorithm.split("-")[0] != rec.key_type:
        return f"key type {rec.key_type} does not match a={sig.algorithm}"
    hash_alg = sig.algorithm.split("-")[1]
    if rec.hashes and hash_alg not in rec.hashes:
        return f"key does not allow hash {hash_alg}"
    if "*" not in rec.services and "email" not in rec.services:
        return "key not for email service"
    if "s" in rec.flags and sig.identity:
        # t=s: i= must have exactly the d= domain (RFC 6376 section 3.6.1).
        if sig.identity.rpartition("@")[2].lower().rstrip(".") != sig.domain:
            return "key flag t=s forbids subdomain identity"
    if rec.key_type == "rsa" and rec.bits < min_rsa_bits:
        return f"rsa key of {rec.bits} bits is too small"  # RFC 8301 section 3.2
    return ""


def default_policy(sig: Signature) -> str:
    """mox's DefaultPolicy: reasons to refuse a signature even if it verifies."""
    if sig.length is not None:
        return "l= is not accepted"  # RFC 6376 section 8.2: appended content
    if "subject" not in sig.signed_headers:
        return "subject is not signed"
    return ""


@dataclass
class _Pending:
    index: int
    raw: str
    sig: Signature | None = None
    result: DKIMResult | None = None
    record_txt: bytes = b""
    record: KeyRecord | None = None
    lookups: list[Result[bytes]] = field(default_factory=list)


_THREAD_THRESHOLD = 64 * 1024


def _header_section(message: bytes) -> bytes:
    ends = [i for i in (message.find(b"\r\n\r\n"), message.find(b"\n\n")) if i >= 0]
    return message[: min(ends) + 2] if ends else message


async def verify(
    resolver: Resolver,
    message: bytes,
    *,
    now: float | None = None,
    min_rsa_bits: int = 1024,
    policy: Callable[[Signature], str] = default_policy,
) -> list[DKIMResult]:
    """Verify every DKIM-Signature of `message` (raw bytes, CRLF or LF), in header
    order. An empty list means the message has no (findable) signature: dkim=none."""
    try:
        # The header section alone: splitting the whole body into lines here would
        # double dkimpy's work.
        headers, _body = dkimpy.rfc822_parse(_header_section(message))
    except (dkimpy.MessageFormatError, IndexError):
        # IndexError: dkimpy's answer to a continuation line before any field.
        return []
    raws = [v.decode("utf-8", "surrogateescape") for k, v in headers if k.lower() == b"dkim-signature"]
    if not raws:
        return []
    now = time.time() if now is None else now
    pending = [_Pending(i, raw) for i, raw in enumerate(raws)]
    for p in pending:
        try:
            p.sig = parse_signature(p.raw)
        except ParseError as e:
            p.result = DKIMResult(
                DKIMStatus.permerror,
                error=f"malformed signature: {e}",
                domain=_rough_tag(p.raw, "d"),
                selector=_rough_tag(p.raw, "s"),
            )
            continue
        if p.sig.expiration is not None and p.sig.expiration < now:
            p.result = DKIMResult(DKIMStatus.permerror, p.sig, error="signature expired")  # RFC 6376 3.5 x=
            continue
        why = policy(p.sig)
        if why:
            p.result = DKIMResult(DKIMStatus.policy, p.sig, error=why)

    todo = [p for p in pending if p.result is None and p.sig is not None]
    names = sorted({f"{p.sig.selector}._domainkey.{p.sig.domain}" for p in todo if p.sig})
    found = await asyncio.gather(*(resolver.lookup_txt(n) for n in names))
    records = dict(zip(names, found))

    for p in todo:
        assert p.sig is not None
        r = records[f"{p.sig.selector}._domainkey.{p.sig.domain}"]
        if r.status == Status.temperror:
            p.result = DKIMResult(DKIMStatus.temperror, p.sig, error=f"key lookup: {r.error}")
            continue
        if not r.records:
            p.result = DKIMResult(DKIMStatus.permerror, p.sig, error="no key record")  # RFC 6376 6.1.2
            continue
        errors = []
        for txt in r.records:
            try:
                p.record = parse_key_record(txt)
                p.record_txt = txt
                break
            except ParseError as e:
                errors.append(str(e))
        if p.record is None:
            p.result = DKIMResult(DKIMStatus.permerror, p.sig, error=f"bad key record: {'; '.join(errors)}")
            continue
        why = _check_key(p.sig, p.record, min_rsa_bits)
        if why:
            p.result = DKIMResult(DKIMStatus.permerror, p.sig, p.record, error=why)

    crypto = [p for p in pending if p.result is None]
    if crypto:
        if len(message) > _THREAD_THRESHOLD:
            await asyncio.to_thread(_verify_crypto, message, crypto, min_rsa_bits)
        else:
            _verify_crypto(message, crypto, min_rsa_bits)
    return [p.result for p in pending if p.result is not None]


def _without_services(txt: bytes) -> bytes:
    """The key record without its s= tag. RFC 6376 section 3.6.1 makes s= a colon
    separated list ("email:tlsrpt"), which dkimpy compares as one value; `_check_key`
    has already refused keys whose list lacks "email" and "*"."""
    parts = txt.split(b";")
    kept = [part for part in parts if part.split(b"=", 1)[0].strip() != b"s"]
    return txt if len(kept) == len(parts) else b";".join(kept)


def _verify_crypto(message: bytes, pending: list[_Pending], min_rsa_bits: int) -> None:
    d = dkimfast.FastDKIM(message, minkey=min_rsa_bits)
    for p in pending:
        txt = _without_services(p.record_txt)

        def dnsfunc(name: bytes, timeout: float = 5, _txt: bytes = txt) -> bytes:
            return _txt

        try:
            ok = d.verify(idx=p.index, dnsfunc=dnsfunc)
        except dkimpy.ValidationError as e:
            if "body hash mismatch" in str(e):
                p.result = DKIMResult(DKIMStatus.fail, p.sig, p.record, error="body hash mismatch")
            else:
                p.result = DKIMResult(DKIMStatus.permerror, p.sig, p.record, error=str(e))
            continue
        except dkimpy.DKIMException as e:
            p.result = DKIMResult(DKIMStatus.permerror, p.sig, p.record, error=str(e))
            continue
        except Exception as e:  # noqa: BLE001 - hostile input must not crash delivery
            p.result = DKIMResult(DKIMStatus.permerror, p.sig, p.record, error=f"{type(e).__name__}: {e}")
            continue
        if ok:
            p.result = DKIMResult(DKIMStatus.pass_, p.sig, p.record)
        else:
            p.result = DKIMResult(DKIMStatus.fail, p.sig, p.record, error="signature does not verify")
