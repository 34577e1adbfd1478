"""SPF (RFC 7208): check_host() for the MAIL FROM and EHLO identities, with pyspf.

pyspf evaluates the record; its DNS lookups go through our `Resolver`. pyspf is
synchronous, so its lookups are made first, concurrently: the record, the names its
terms point to, and theirs, a few levels deep. pyspf then runs on those answers in
the calling thread. When it wants a lookup that was not made, it runs again in a
worker thread, and each further lookup is handed back to the event loop that called
us (`run_coroutine_threadsafe`). The hook is a dispatcher installed once as
`spf.DNSLookup`: in a thread evaluating for us it answers from our lookups, anywhere
else it is pyspf's own dnspython lookup, unchanged.

DNS temporary errors give `temperror` (RFC 7208 section 2.6.6), never `fail`.
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import dns.reversename
import spf as pyspf

from mailcore.dns import Resolver, Result


class SPFStatus(StrEnum):
    """RFC 7208 section 2.6."""

    none = "none"
    neutral = "neutral"
    pass_ = "pass"
    fail = "fail"
    softfail = "softfail"
    temperror = "temperror"
    permerror = "permerror"


class Identity(StrEnum):
    """RFC 7208 section 2.2 and 2.4; the names Received-SPF uses (section 9.1)."""

    mailfrom = "mailfrom"
    helo = "helo"


@dataclass(frozen=True)
class SPFResult:
    status: SPFStatus
    identity: Identity
    domain: str  # the <domain> check_host() started at ("" when none could be had)
    sender: str  # the <sender> address used (postmaster@helo for the helo identity)
    explanation: str = ""  # for fail: the exp= text, printable ASCII, at most 800 chars
    received_spf: str = ""  # the value of a Received-SPF header (RFC 7208 section 9.1)

    @property
    def passed(self) -> bool:
        return self.status == SPFStatus.pass_


_local = threading.local()
_pyspf_lookup = pyspf.DNSLookup


def _dispatch(name: str, qtype: str, strict: Any = True, timeout: float = 30) -> list[Any]:
    bridge: Callable[[str, str], list[Any]] | None = getattr(_local, "bridge", None)
    if bridge is None:
        return _pyspf_lookup(name, qtype, strict, timeout)  # type: ignore[no-any-return]
    return bridge(name, qtype)


pyspf.DNSLookup = _dispatch


def _query(resolver: Resolver, name: str, qtype: str) -> Coroutine[Any, Any, Result[Any]] | None:
    """The resolver lookup pyspf's (name, qtype) asks for; None for what has no answer
    (obsolete type SPF, RFC 7208 section 3.1; a PTR name that is not a reverse name)."""
    if qtype == "A":
        return resolver.lookup_a(name)
    if qtype == "AAAA":
        return resolver.lookup_aaaa(name)
    if qtype == "MX":
        return resolver.lookup_mx(name)
    if qtype == "TXT":
        return resolver.lookup_txt(name)
    if qtype == "PTR":
        try:
            ip = dns.reversename.to_address(dns.reversename.dns.name.from_text(name))
        except Exception:  # noqa: BLE001 - not a reverse name: nothing there
            return None
        return resolver.lookup_ptr(ip)
    return None


def _answer(name: str, qtype: str, r: Result[Any] | None) -> list[Any]:
    """A lookup's result as pyspf's DNSLookup returns it; raises pyspf.TempError."""
    if r is None:
        return []
    if r.temporary:
        raise pyspf.TempError(f"DNS {qtype} {name}: {r.error or 'temporary error'}")
    if qtype == "MX":
        values: list[Any] = [(mx.preference, mx.host or ".") for mx in r.records]
    elif qtype == "TXT":
        values = [[txt] for txt in r.records]  # pyspf joins a record's strings
    else:
        values = list(r.records)
    return [((name, qtype), v) for v in values]


Answers = dict[tuple[str, str], "Result[Any] | None"]


def _bridge(
    resolver: Resolver, loop: asyncio.AbstractEventLoop, timeout: float, answers: Answers
) -> Callable[[str, str], list[Any]]:
    """pyspf's lookups from a worker thread: prefetched answers, else through the loop."""

    def lookup(name: str, qtype: str) -> list[Any]:
        key = (name.lower().rstrip("."), qtype)
        if key in answers:
            return _answer(name, qtype, answers[key])
        coro = _query(resolver, name, qtype)
        r = None if coro is None else asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)
        return _answer(name, qtype, r)

    return lookup


class _Missing(BaseException):
    """A lookup the in-loop evaluation has no prefetched answer for. A BaseException,
    so pyspf's `except Exception` clauses let it through (its bare `except:` around
    exp= is caught by the record of misses)."""


def _prefetched(answers: Answers, missed: list[tuple[str, str]]) -> Callable[[str, str], list[Any]]:
    def lookup(name: str, qtype: str) -> list[Any]:
        key = (name.lower().rstrip("."), qtype)
        if key not in answers:
            missed.append(key)
            raise _Missing(key)
        return _answer(name, qtype, answers[key])

    return lookup


# Prefetching follows the records at most this deep and asks at most this many
# names in all (RFC 7208 section 4.6.4 allows 10 DNS mechanisms, plus the records).
PREFETCH_DEPTH = 3
PREFETCH_NAMES = 24
_TERM_RE = re.compile(r"^[+?~-]?(include|a|mx|exists)(?::([^/]*))?(?:/.*)?$|^(redirect)=(.*)$", re.IGNORECASE)


def _follow(domain: str, qtype: str, r: Result[Any], ipv6: bool) -> list[tuple[str, str]]:
    """The lookups pyspf will want after this answer: from an SPF record its include,
    redirect, a, mx and exists terms (without macros), from an MX answer the hosts'
    addresses."""
    addr = "AAAA" if ipv6 else "A"
    if qtype == "MX":
        return [(mx.host.lower(), addr) for mx in r.records if mx.host][:10]
    if qtype != "TXT":
        return []
    records = [t for t in r.records if t[:7].lower() == b"v=spf1 " or t.lower() == b"v=spf1"]
    if len(records) != 1:
        return []
    out: list[tuple[str, str]] = []
    for term in records[0].decode("ascii", "replace").split()[1:]:
        m = _TERM_RE.match(term)
        if m is None or "%" in term:
            continue
        kind = (m.group(1) or m.group(3)).lower()
        target = (m.group(2) if m.group(1) else m.group(4)) or domain
        target = target.lower().rstrip(".")
        qt = {"include": "TXT", "redirect": "TXT", "a": addr, "mx": "MX", "exists": "A"}[kind]
        out.append((target, qt))
    return out


async def _prefetch(resolver: Resolver, domain: str, ipv6: bool) -> Answers:
    """The lookups pyspf is likely to make, concurrently, level by level."""
    answers: Answers = {}
    level = [(domain.lower().rstrip("."), "TXT")]
    for _ in range(PREFETCH_DEPTH):
        level = [k for k in dict.fromkeys(level) if k not in answers][: PREFETCH_NAMES - len(answers)]
        if not level:
            break
        coros = [_query(resolver, name, qtype) for name, qtype in level]
        results = await asyncio.gather(*(c for c in coros if c is not None))
        it = iter(results)
        nxt: list[tuple[str, str]] = []
        for (name, qtype), coro in zip(level, coros):
            r = next(it) if coro is not None else None
            answers[(name, qtype)] = r
            if r is not None and r.ok:
                nxt += _follow(name, qtype, r, ipv6)
        level = nxt
    return answers


def _printable(text: str) -> str:
    # mox shows the remote explanation only if it is printable ASCII, at most 800 chars.
    if all(0x20 <= ord(c) < 0x7F for c in text):
        return text[:800]
    return ""


def _is_domain(name: str) -> bool:
    if not name or name.startswith("[") or len(name) > 253:
        return False
    try:
        ipaddress.ip_address(name)
        return False
    except ValueError:
        pass
    return "." in name.strip(".")


def _evaluate(ip: str, sender: str, helo: str, receiver: str, timeout: float) -> tuple[str, str, str, str]:
    q = pyspf.query(i=ip, s=sender, h=helo, receiver=receiver or None, timeout=timeout, querytime=timeout)
    try:
        res, _code, exp = q.check()
    except pyspf.TempError as e:  # pyspf lets some escape when strict
        res, exp = "temperror", str(e)
    header = q.get_header(res, receiver or None)
    return res, exp, q.d or "", header


async def check_host(
    resolver: Resolver,
    ip: str,
    sender: str,
    helo: str,
    *,
    receiver: str = "",
    timeout: float = 20.0,
) -> SPFResult:
    """RFC 7208 section 4: check_host(ip, domain of sender, sender). An empty sender
    checks the HELO identity as postmaster@helo (section 2.4)."""
    identity = Identity.mailfrom if sender else Identity.helo
    if not sender:
        if not _is_domain(helo):
            # An address literal or a bare name cannot have SPF (section 2.3).
            return SPFResult(SPFStatus.none, identity, "", "")
        sender = "postmaster@" + helo
    domain = sender.rpartition("@")[2] if "@" in sender else sender
    if not _is_domain(domain):
        # section 4.3: a malformed domain gives "none".
        return SPFResult(SPFStatus.none, identity, "", sender)
    loop = asyncio.get_running_loop()
    answers = await _prefetch(resolver, domain, ":" in ip)

    def work(bridge: Callable[[str, str], list[Any]]) -> tuple[str, str, str, str]:
        _local.bridge = bridge
        try:
            return _evaluate(ip, sender if identity == Identity.mailfrom else "", helo, receiver, timeout)
        except (pyspf.TempError, TimeoutError) as e:
            return "temperror", str(e), domain, ""
        except Exception as e:  # noqa: BLE001 - hostile input must not crash delivery
            # pyspf choking on odd input is not the domain's fault, and a temperror
            # would have the sender retry forever: no verdict.
            return "permerror", f"{type(e).__name__}: {e}", domain, ""
        finally:
            _local.bridge = None

    # Usually every lookup is prefetched: pyspf then runs here, without a thread
    # (a fraction of a millisecond). If it wants another, it runs again in a worker
    # thread whose lookups go through the loop.
    missed: list[tuple[str, str]] = []
    try:
        res, exp, d, header = work(_prefetched(answers, missed))
    except _Missing:
        missed.append(("", ""))
    if missed:
        res, exp, d, header = await asyncio.to_thread(work, _bridge(resolver, loop, timeout + 5, answers))
    status = SPFStatus(res) if res in SPFStatus._value2member_map_ else SPFStatus.permerror
    if status == SPFStatus.fail and exp != pyspf.EXPLANATIONS["fail"]:
        exp = _printable(exp)  # the domain's own exp= text (RFC 7208 section 6.2)
    else:
        exp = ""
    return SPFResult(status, identity, d or domain, sender, exp, header)


async def check_mailfrom(resolver: Resolver, ip: str, mail_from: str, helo: str, *, receiver: str = "") -> SPFResult:
    """The MAIL FROM identity; for the null reverse-path "<>" the HELO identity
    (RFC 7208 section 2.4)."""
    return await check_host(resolver, ip, mail_from, helo, receiver=receiver)


async def check_helo(resolver: Resolver, ip: str, helo: str, *, receiver: str = "") -> SPFResult:
    """The HELO identity (RFC 7208 section 2.3)."""
    return await check_host(resolver, ip, "", helo, receiver=receiver)
