"""SPF (RFC 7208): check_host() for the MAIL FROM and EHLO identities, with pyspf.

pyspf evaluates the record; its DNS lookups go through our `Resolver`. pyspf is
synchronous, so it runs in a worker thread, and each of its lookups is handed back
to the event loop that called us (`run_coroutine_threadsafe`). The hook is a
dispatcher installed once as `spf.DNSLookup`: inside our worker threads it uses the
thread's bridge, anywhere else it is pyspf's own dnspython lookup, unchanged.

DNS temporary errors give `temperror` (RFC 7208 section 2.6.6), never `fail`.
"""
from __future__ import annotations

import asyncio
import ipaddress
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


def _bridge(resolver: Resolver, loop: asyncio.AbstractEventLoop, timeout: float) -> Callable[[str, str], list[Any]]:
    def run(coro: Coroutine[Any, Any, Result[Any]]) -> Result[Any]:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def lookup(name: str, qtype: str) -> list[Any]:
        key = (name, qtype)
        values: list[Any]
        if qtype == "A":
            r = run(resolver.lookup_a(name))
            values = list(r.records)
        elif qtype == "AAAA":
            r = run(resolver.lookup_aaaa(name))
            values = list(r.records)
        elif qtype == "MX":
            r = run(resolver.lookup_mx(name))
            values = [(mx.preference, mx.host or ".") for mx in r.records]
        elif qtype == "TXT":
            r = run(resolver.lookup_txt(name))
            values = [[txt] for txt in r.records]  # pyspf joins a record's strings
        elif qtype == "PTR":
            try:
                ip = dns.reversename.to_address(dns.reversename.dns.name.from_text(name))
            except Exception:  # noqa: BLE001 - not a reverse name: nothing there
                return []
            r = run(resolver.lookup_ptr(ip))
            values = list(r.records)
        else:  # type SPF (99) is obsolete, RFC 7208 section 3.1
            return []
        if r.temporary:
            raise pyspf.TempError(f"DNS {qtype} {name}: {r.error or 'temporary error'}")
        return [(key, v) for v in values]

    return lookup


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
    bridge = _bridge(resolver, loop, timeout + 5)

    def work() -> tuple[str, str, str, str]:
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

    res, exp, d, header = await asyncio.to_thread(work)
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
