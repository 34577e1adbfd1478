"""Delivering one queued message (one recipient) for one attempt, and recording the
result: the row is removed on success or final failure (with a DSN), or kept with
its error and dialed IPs for the next slot (mox queue.go deliver, direct.go).

The database is read before and written after the network part, which runs in its
own event loop (`asyncio.run`) inside the django-q2 worker: no ORM call happens
inside the loop.

Direct delivery (RFC 5321 section 5.1): MX lookup of the IDNA domain; the null MX
(RFC 7505) fails permanently; no MX means following CNAMEs (at most 16, with loop
detection) and then the implicit MX (the domain's own A/AAAA); hosts are tried in
preference order, each host's IPs in mox's order (`order_ips`). TLS follows
MTA-STS (RFC 8461), DANE (RFC 7672) and REQUIRETLS (RFC 8689), else opportunistic
STARTTLS with the plaintext retry mox does after a failed handshake.

A worker delivers a batch: the claimed message and other due ones to the same
recipient domain, over shared connections (`mailqueue.session.Pool`), each with
PIPELINING when offered. Each connection's TLS result is kept for TLS reports
(RFC 8460, `TLSResult` rows).

Recipients of one message (rows sharing a `base_id`) in one batch, at the same
attempt number with the same transport, go in one transaction (mox v0.0.10): the
message is sent once, and each recipient gets its own outcome (delivered, retried
or failed with a DSN) from its RCPT reply.
"""
from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import idna
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deliverylog.actions import record_attempt
from mailcore.dane import TLSARecord, usable
from mailcore.dns import MX, TLSA, Resolver, lookup_ips
from mailcore.dsn import Action, enhanced_status
from mailcore.mtasts import FetchError, Mode, Policy, fetch_policy, lookup_record, mx_matches
from mailcore.smtpclient import order_ips, smtp_path
from mailqueue import dsn as dsns
from mailqueue import tlsresults
from mailqueue.models import MTASTSPolicy, QueuedMessage, Transport
from mailqueue.routes import RouteError, select_transport
from mailqueue.scheduler import (
    attempt_limit,
    claim_batch,
    claim_next,
    delayed_dsn_after,
    messages_per_connection,
    unclaim,
)
from mailqueue.session import Pool
from mailqueue.transports import (
    Auth, Envelope, GroupRecipient, Outcome, Peer, TLSMode, smtp_transaction, verified_context,
)
from moxweb import metrics

log = logging.getLogger(__name__)

MAX_CNAMES = 16


def _setting(name: str, default: object) -> object:
    return getattr(settings, name, default)


@dataclass
class CachedPolicy:
    record_id: str
    policy: Policy
    valid_until: datetime


@dataclass
class Attempt:
    """What one attempt needs, read from the database beforehand."""

    recipient_domain: str
    env: Envelope
    requiretls: bool | None
    dialed_ips: dict[str, list[str]]
    transport: Transport | None
    sts: CachedPolicy | None
    now: datetime
    attempts: int = 1
    pool: Pool | None = None  # connections shared by the messages of one batch
    sts_testing: bool = False  # an MTA-STS policy in testing mode applies (for TLS reports)
    tls_log: list[TLSAttempt] = field(default_factory=list)


@dataclass
class TLSAttempt:
    """What one connection's TLS came to, for TLS reports (RFC 8460 section 4.3):
    the policy type in force and "success" or a result type."""

    policy: str  # "sts", "tlsa" or "no-policy-found"
    result: str
    policy_domain: str
    mx_host: str = ""
    ip: str = ""
    detail: str = ""


@dataclass
class Result:
    outcome: Outcome
    remote_mta: str = ""
    dialed_ips: dict[str, list[str]] = field(default_factory=dict)
    sts_store: tuple[str, str, Policy, str] | None = None  # (domain, record id, policy, text)
    local: bool = False
    tls_log: list[TLSAttempt] = field(default_factory=list)


# ---------------------------------------------------------------- local recipients


def ours(domain: str, known: dict[str, bool] | None = None) -> bool:
    """Whether `domain` can have local recipients: one of our domains, or our hostname
    (postmaster). `known` remembers the answers for one batch."""
    from accounts.actions import domain_forms_safe, find_domain

    if known is not None and domain in known:
        return known[domain]
    answer = bool(domain) and (
        domain_forms_safe(domain) == domain_forms_safe(settings.MOX_HOSTNAME) or find_domain(domain) is not None
    )
    if known is not None:
        known[domain] = answer
    return answer


def deliver_local(qm: QueuedMessage, known: dict[str, bool] | None = None) -> Result | None:
    """Recipients of our own domains go straight into the store; None if not ours."""
    from accounts.actions import resolve_recipient
    from mailstore import files
    from mailstore.actions import DeliveryInfo, StoreError, deliver

    if not settings.MOX_LOCALSERVE and qm.recipient_domain and not ours(qm.recipient_domain, known):
        return None
    dest = resolve_recipient(qm.recipient_localpart, qm.recipient_domain)
    if dest is None and settings.MOX_LOCALSERVE:
        # localserve never sends mail out: everything lands in its one account (mox).
        from accounts.models import Account

        account = Account.objects.filter(name=settings.MOX_LOCALSERVE_ACCOUNT).first()
        if account is not None:
            from accounts.actions import Destination

            dest = Destination(account, "Inbox", None)
    if dest is None:
        return None
    # A DSN's UTF-8 variant where there is one: our store takes UTF-8.
    path = dsns.message_path(qm) if qm.dsn_utf8 is None else files.write_temp(bytes(qm.dsn_utf8))
    try:
        deliver(
            dest.account,
            dest.mailbox,
            path,
            prefix=bytes(qm.prefix or b""),
            info=DeliveryInfo(mail_from=qm.sender, rcpt_to=qm.recipient),
        )
    except StoreError as e:
        return Result(Outcome(False, text=f"local delivery: {e}", status="4.2.2"), local=True)
    finally:
        if qm.dsn_utf8 is not None:
            path.unlink(missing_ok=True)
    return Result(Outcome(True, text="delivered locally"), local=True)


# ---------------------------------------------------------------- MX and MTA-STS


def ascii_domain(domain: str) -> str:
    return idna.encode(domain.rstrip("."), uts46=True).decode("ascii").lower()


def _ip_literal(domain: str) -> str | None:
    if domain.startswith("[") and domain.endswith("]"):
        lit = domain[1:-1]
        if lit.lower().startswith("ipv6:"):
            lit = lit[5:]
        return str(ipaddress.ip_address(lit))
    return None


async def gather_hosts(resolver: Resolver, domain: str) -> tuple[list[str], bool, Outcome | None]:
    """(hosts in preference order, whether the MX answer was DNSSEC-authentic, error)."""
    name = domain
    seen = {name}
    for _ in range(MAX_CNAMES + 1):
        mx = await resolver.lookup_mx(name)
        if mx.ok:
            records: list[MX] = sorted(mx.records, key=lambda m: m.preference)
            if len(records) == 1 and records[0].host == "":
                # RFC 7505 section 4.2: status 5.1.10 for a null MX.
                return [], mx.authentic, Outcome(False, permanent=True, status="5.1.10", text=f"domain {domain} does not accept email (null mx)")
            hosts: list[str] = []
            for r in records:
                if r.host and r.host not in hosts:
                    hosts.append(r.host)
            return hosts, mx.authentic, None
        if mx.temporary:
            return [], False, Outcome(False, text=f"looking up mx for {name}: {mx.error or 'temporary dns error'}")
        if mx.status == "nxdomain":
            return [], False, Outcome(False, permanent=True, status="5.1.2", text=f"domain {name} does not exist")
        # No MX: a CNAME to follow (mox), else the implicit MX (RFC 5321 section 5.1).
        cname = await resolver.lookup_cname(name)
        if cname.temporary:
            return [], False, Outcome(False, text=f"looking up cname for {name}: {cname.error or 'temporary dns error'}")
        if cname.ok and cname.records:
            target = cname.records[0].lower()
            if target in seen:
                return [], False, Outcome(False, permanent=True, status="5.4.4", text=f"cname loop at {target}")
            seen.add(target)
            name = target
            continue
        ips = await lookup_ips(resolver, name)
        if ips.ok:
            return [name], mx.authentic, None
        if ips.temporary:
            return [], False, Outcome(False, text=f"looking up address of {name}: {ips.error or 'temporary dns error'}")
        return [], False, Outcome(False, permanent=True, status="5.1.2", text=f"domain {name} has no mx and no address")
    return [], False, Outcome(False, permanent=True, status="5.4.4", text=f"too many cnames for {domain}")


async def mtasts_for(resolver: Resolver, domain: str, cached: CachedPolicy | None, now: datetime) -> tuple[Policy | None, bool, tuple[str, str, Policy, str] | None]:
    """(policy in force, strict TLS because a policy could not be fetched, cache update).

    RFC 8461 section 5.1: a cached policy is used until max_age runs out; the record
    is checked every time and a changed id means fetching again. A record with no
    fetchable policy means verified TLS without a host restriction (mox)."""
    record, temporary = await lookup_record(resolver, domain)
    fresh = cached is not None and cached.valid_until > now
    if record is None:
        # No record (or DNS trouble): keep using an unexpired cached policy.
        return (cached.policy if fresh else None), False, None
    if fresh and cached.record_id == record.id:
        return cached.policy, False, None
    try:
        ctx = verified_context()
        port = int(_setting("MOX_MTASTS_PORT", 443))  # type: ignore[call-overload]
        policy, text = await fetch_policy(domain, resolver, ctx, port=port, timeout=30)
    except FetchError as e:
        # RFC 8461 section 5.1 would go on as if there were no policy; like mox (and
        # issue 6) we still demand verified TLS, since the record says the domain has one.
        log.info("mta-sts policy fetch failed", extra={"domain": domain, "error": str(e)})
        if fresh:
            return cached.policy, False, None
        return None, True, None
    return policy, False, (domain, record.id, policy, text)


def load_cached_policy(domain: str) -> CachedPolicy | None:
    row = MTASTSPolicy.objects.filter(domain=domain).first()
    if row is None:
        return None
    return CachedPolicy(row.record_id, Policy(Mode(row.mode), row.max_age, tuple(row.mx)), row.valid_until)


def store_policy(update: tuple[str, str, Policy, str], now: datetime) -> None:
    domain, record_id, policy, text = update
    MTASTSPolicy.objects.update_or_create(
        domain=domain,
        defaults={
            "record_id": record_id,
            "mode": str(policy.mode),
            "mx": list(policy.mx),
            "max_age": policy.max_age,
            "policy_text": text,
            "fetched": now,
            "valid_until": now + timedelta(seconds=policy.max_age),
        },
    )


# ---------------------------------------------------------------- direct delivery


async def _tlsa_for(resolver: Resolver, host: str, port: int) -> tuple[list[TLSA], Outcome | None]:
    r = await resolver.lookup_tlsa(f"_{port}._tcp.{host}")
    if r.temporary:
        # RFC 7672 section 2.2: a failed TLSA lookup in a signed zone: do not deliver.
        return [], Outcome(False, text=f"dane: looking up tlsa for {host}: {r.error or 'temporary dns error'}")
    if not r.ok or not r.authentic:
        return [], None
    return list(r.records), None


async def deliver_direct(att: Attempt, resolver: Resolver, socks: Transport | None = None) -> Result:
    port = int(_setting("MOX_QUEUE_SMTP_PORT", 25))  # type: ignore[call-overload]
    ehlo = socks.socks_hostname if socks and socks.socks_hostname else settings.MOX_HOSTNAME
    dialed = {h: list(ips) for h, ips in att.dialed_ips.items()}
    literal = _ip_literal(att.recipient_domain)
    policy: Policy | None = None
    sts_strict = False
    sts_store = None
    mx_authentic = False
    if literal:
        hosts = [literal]
    else:
        try:
            domain = ascii_domain(att.recipient_domain)
        except idna.IDNAError as e:
            return Result(Outcome(False, permanent=True, status="5.1.2", text=f"invalid recipient domain: {e}"))
        policy, sts_strict, sts_store = await mtasts_for(resolver, domain, att.sts, att.now)
        hosts, mx_authentic, err = await gather_hosts(resolver, domain)
        if err is not None:
            return Result(err, sts_store=sts_store)
    enforce = policy is not None and policy.mode == Mode.enforce
    if att.requiretls is False:
        # RFC 8689 section 5: "TLS-Required: No" asks to ignore TLS policies.
        enforce, sts_strict = False, False
    att.sts_testing = policy is not None and policy.mode == Mode.testing and att.requiretls is not False
    if sts_strict and not literal:
        att.tls_log.append(TLSAttempt("sts", "sts-policy-fetch-error", domain, detail="policy could not be fetched"))
    last = Outcome(False, text="no hosts to try")
    remote = ""
    tls_failures = 0
    tried = 0
    for host in hosts:
        if enforce and not literal and not mx_matches(policy, host):  # type: ignore[arg-type]
            last = Outcome(False, text=f"mx host {host} does not match enforced mta-sts policy with hosts {', '.join(policy.mx)}")  # type: ignore[union-attr]
            continue
        tried += 1
        remote = host
        outcome = await _deliver_host(att, resolver, host, literal is not None, port, ehlo, dialed, enforce or sts_strict, mx_authentic, socks)
        if outcome.ok or outcome.permanent:
            return Result(outcome, remote_mta=host, dialed_ips=dialed, sts_store=sts_store, tls_log=att.tls_log)
        if outcome.tls_failed:
            tls_failures += 1
        last = outcome
    if enforce and tried and tls_failures == tried:
        # mox: every host failed verified TLS under a fresh enforced policy.
        last = Outcome(False, permanent=True, status="5.7.0", text=f"mta-sts: no host with verified tls: {last.text}")
    return Result(last, remote_mta=remote, dialed_ips=dialed, sts_store=sts_store, tls_log=att.tls_log)


async def _deliver_host(
    att: Attempt,
    resolver: Resolver,
    host: str,
    is_literal: bool,
    port: int,
    ehlo: str,
    dialed: dict[str, list[str]],
    strict: bool,
    mx_authentic: bool,
    socks: Transport | None,
) -> Outcome:
    if is_literal:
        ips: list[str] = [host]
        ips_authentic = False
    else:
        r = await lookup_ips(resolver, host)
        if not r.ok:
            return Outcome(False, text=f"looking up address of {host}: {r.error or r.status}")
        ips, ips_authentic = list(r.records), r.authentic
    tlsa: list[TLSA] = []
    if mx_authentic and ips_authentic:
        tlsa, err = await _tlsa_for(resolver, host, port)
        if err is not None:
            return err
    if usable([TLSARecord(t.usage, t.selector, t.matching_type, t.data) for t in tlsa]):
        mode, policy = TLSMode.dane, "tlsa"
    elif tlsa:
        # RFC 7672 section 2.2: a signed TLSA RRset with only unusable records still
        # means TLS is mandatory, without authentication.
        mode, policy = TLSMode.mandatory, "tlsa"
    elif strict:
        mode, policy = TLSMode.strict, "sts"
    else:
        mode, policy = TLSMode.opportunistic, "sts" if att.sts_testing else "no-policy-found"
    if att.requiretls and mode not in (TLSMode.dane, TLSMode.strict):
        # RFC 8689 section 4.2.1: the next hop must be authenticated by MTA-STS or DANE.
        return Outcome(False, permanent=True, status="5.7.10", text=f"REQUIRETLS: no mta-sts or dane policy for {host}")
    if att.requiretls is False:
        mode = TLSMode.opportunistic
    # RFC 8461 section 5 (testing mode): verify and report as under "enforce", but
    # deliver anyway, so TLS reports (RFC 8460 section 4.3.1, policy type "sts") show
    # what enforcing would break.
    testing = mode == TLSMode.opportunistic and att.sts_testing
    last = Outcome(False, text=f"no address for {host}")
    policy_domain = att.recipient_domain if is_literal else ascii_domain(att.recipient_domain)

    def log_tls(out: Outcome, ip: str) -> None:
        if out.tls_result:
            att.tls_log.append(TLSAttempt(policy, out.tls_result, policy_domain, host, ip, "" if out.ok else out.text))

    for ip in order_ips(ips, dialed.get(host, [])):
        dialed.setdefault(host, []).append(ip)
        outcome = await _dial(att, host, ip, port, TLSMode.strict if testing else mode, ehlo, tlsa, socks)
        log_tls(outcome, ip)
        if not outcome.ok and outcome.tls_failed and testing:
            outcome = await _dial(att, host, ip, port, TLSMode.opportunistic, ehlo, tlsa, socks)
        if not outcome.ok and outcome.tls_failed and mode == TLSMode.opportunistic:
            # mox: after a failed handshake in opportunistic mode, the same host again
            # without TLS (RFC 7435 section 1: protection is optional here).
            log.info("tls failed, retrying without tls", extra={"host": host, "ip": ip, "error": outcome.text})
            outcome = await _dial(att, host, ip, port, TLSMode.none, ehlo, tlsa, socks)
            log_tls(outcome, ip)
        if outcome.ok or outcome.permanent or outcome.code or outcome.per_rcpt:
            if outcome.permanent and att.attempts == 1 and _dual_stack(ips) and enhanced_status(outcome.code, outcome.reply.partition(" ")[2]).startswith("5.7."):
                # mox: a policy refusal on the first attempt to a dual-stack host may be
                # about the address family we came from (e.g. IPv6 without reverse
                # DNS); the next attempt prefers the other family.
                outcome.permanent = False
            return outcome
        last = outcome
    return last


def _dual_stack(ips: list[str]) -> bool:
    return len({ipaddress.ip_address(ip).version for ip in ips}) == 2


async def _dial(att: Attempt, host: str, ip: str, port: int, mode: TLSMode, ehlo: str, tlsa: list[TLSA], socks: Transport | None) -> Outcome:
    dial_timeout = float(_setting("MOX_QUEUE_DIAL_TIMEOUT", 30))  # type: ignore[arg-type]
    command_timeout = float(_setting("MOX_QUEUE_COMMAND_TIMEOUT", 120))  # type: ignore[arg-type]
    peer = Peer(
        host=host, connect_host=ip, port=port, tls_mode=mode, ehlo_name=ehlo, tlsa=tlsa,
        socks_proxy=socks.socks_address if socks is not None else "", timeout=command_timeout,
        source_ip=None if socks is not None else source_ip(ip), dial_timeout=dial_timeout,
    )
    return await smtp_transaction(peer, att.env, att.pool)


def source_ip(remote: str) -> str | None:
    """mox: bind to the configured listen IP of the remote's family when there is
    exactly one specific one, so our mail leaves from the address SPF and reverse
    DNS were set up for."""
    r = ipaddress.ip_address(remote)
    if r.is_loopback:
        return None
    mine = []
    for value in settings.MOX_LISTEN_IPS:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            continue
        if ip.version == r.version and not ip.is_unspecified and not ip.is_loopback:
            mine.append(str(ip))
    return mine[0] if len(mine) == 1 else None


# ---------------------------------------------------------------- relays


async def deliver_relay(att: Attempt, t: Transport) -> Result:
    """Through a configured smarthost (mox Transports Submission/Submissions/SMTP)."""
    defaults = {Transport.Kind.SMTP: 25, Transport.Kind.SUBMISSION: 587, Transport.Kind.SUBMISSIONS: 465}
    port = t.port or defaults[Transport.Kind(t.kind)]
    if t.kind == Transport.Kind.SUBMISSIONS:
        mode = TLSMode.immediate
    elif t.no_starttls:
        mode = TLSMode.none
    elif not t.verify_tls:
        mode = TLSMode.opportunistic
    else:
        mode = TLSMode.strict
    if att.requiretls and mode not in (TLSMode.immediate, TLSMode.strict):
        return Result(Outcome(False, permanent=True, status="5.7.10", text=f"transport {t.name}: REQUIRETLS needs verified tls"))
    auth = Auth(t.auth_username, t.auth_password, list(t.auth_mechanisms or [])) if t.auth_username else None
    peer = Peer(
        host=t.host,
        connect_host=t.host,
        port=port,
        tls_mode=mode,
        ehlo_name=settings.MOX_HOSTNAME,
        auth=auth,
        timeout=float(_setting("MOX_QUEUE_COMMAND_TIMEOUT", 120)),  # type: ignore[arg-type]
        verify=t.verify_tls,
        dial_timeout=float(_setting("MOX_QUEUE_DIAL_TIMEOUT", 30)),  # type: ignore[arg-type]
    )
    outcome = await smtp_transaction(peer, att.env, att.pool)
    _name_transport(outcome, t)
    return Result(outcome, remote_mta=t.host)


def _name_transport(outcome: Outcome, t: Transport) -> None:
    """mox: errors through a transport are prefixed with its name (each recipient's too)."""
    for o in (outcome, *outcome.per_rcpt):
        o.text = f"transport {t.name}: {o.text}"


# ---------------------------------------------------------------- one attempt


async def run_attempt(att: Attempt, resolver: Resolver, deadline: float | None = None) -> Result:
    deadline = float(_setting("MOX_QUEUE_ATTEMPT_SECONDS", 240)) if deadline is None else deadline  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(deadline):
            t = att.transport
            if t is None or t.kind == Transport.Kind.DIRECT:
                return await deliver_direct(att, resolver)
            if t.kind == Transport.Kind.SOCKS:
                r = await deliver_direct(att, resolver, socks=t)
                _name_transport(r.outcome, t)
                return r
            return await deliver_relay(att, t)
    except TimeoutError:
        return Result(Outcome(False, text=f"delivery attempt took longer than {deadline:g}s"), tls_log=att.tls_log)


def _share_policy(update: tuple[str, str, Policy, str], later: list[Attempt]) -> None:
    """A policy fetched for one message of a batch serves the rest (it is stored once)."""
    domain, record_id, policy, _text = update
    for att in later:
        if not att.recipient_domain.startswith("[") and ascii_domain(att.recipient_domain) == domain:
            att.sts = CachedPolicy(record_id, policy, att.now + timedelta(seconds=policy.max_age))


async def run_batch(atts: list[Attempt], resolver: Resolver) -> list[Result | None]:
    """Attempts one after the other, sharing connections to the same place (RSET
    between transactions). All of them together get MOX_QUEUE_ATTEMPT_SECONDS; the
    ones the time does not reach get None (not attempted)."""
    budget = float(_setting("MOX_QUEUE_ATTEMPT_SECONDS", 240))  # type: ignore[arg-type]
    pool = Pool(messages_per_connection())
    loop = asyncio.get_running_loop()
    end = loop.time() + budget
    results: list[Result | None] = []
    try:
        for i, att in enumerate(atts):
            left = end - loop.time()
            if results and left <= 1:
                results.append(None)
                continue
            att.pool = pool
            r = await run_attempt(att, resolver, budget if not results else left)
            results.append(r)
            if r.sts_store is not None:
                _share_policy(r.sts_store, atts[i + 1:])
    finally:
        await pool.close()
    if pool.opened:
        log.debug("queue batch", extra={"messages": len(atts), "connections": pool.opened})
    return results


def _attempt_for(qm: QueuedMessage, transport: Transport | None, now: datetime, data: bytes | None = None) -> Attempt:
    env = Envelope(
        mail_from=smtp_path(qm.sender_localpart, _wire_domain(qm.sender_domain)),
        rcpt_to=smtp_path(qm.recipient_localpart, _wire_domain(qm.recipient_domain)),
        data=dsns.message_bytes(qm) if data is None else data,
        has_8bit=qm.has_8bit,
        smtputf8=qm.smtputf8,
        requiretls=bool(qm.requiretls),
        dsn_ret=qm.dsn_ret,
        dsn_envid=qm.dsn_envid,
        dsn_notify=list(qm.dsn_notify or []),
        dsn_orcpt=qm.dsn_orcpt,
        utf8_data=bytes(qm.dsn_utf8) if qm.dsn_utf8 is not None else None,
    )
    sts = None
    if (transport is None or transport.kind in (Transport.Kind.DIRECT, Transport.Kind.SOCKS)) and not qm.recipient_domain.startswith("["):
        try:
            sts = load_cached_policy(ascii_domain(qm.recipient_domain))
        except idna.IDNAError:
            sts = None
    return Attempt(qm.recipient_domain, env, qm.requiretls, dict(qm.dialed_ips or {}), transport, sts, now, qm.attempts)


def _wire_domain(domain: str) -> str:
    """Domains go out as A-labels, valid with and without SMTPUTF8 (RFC 6531 section
    3.2); address literals as they are."""
    if not domain or domain.startswith("[") or domain.isascii():
        return domain
    try:
        return ascii_domain(domain)
    except idna.IDNAError:
        return domain


@dataclass
class BatchCache:
    """What the messages of one batch (one recipient domain) share: routes chosen,
    whether the domain is ours, the bytes of grouped messages (read once)."""

    routes: dict[tuple[object, ...], Transport | None] = field(default_factory=dict)
    local: dict[str, bool] = field(default_factory=dict)
    data: dict[int, bytes] = field(default_factory=dict)


def _prepare(qm: QueuedMessage, now: datetime, cache: BatchCache) -> Attempt | Result:
    """The attempt to make over the network, or the result already known (a local
    recipient delivered into the store, a missing transport, an unreadable file)."""
    routes, data = cache.routes, cache.data
    local = deliver_local(qm, cache.local)
    if local is not None:
        return local
    try:
        transport = select_transport(qm, routes)
    except RouteError as e:
        return Result(Outcome(False, permanent=True, status="5.3.5", text=str(e)))
    try:
        att = _attempt_for(qm, transport, now, data.get(qm.base_id) if qm.base_id is not None else None)
    except OSError as e:
        return Result(Outcome(False, text=f"reading queued message: {e}"))
    if qm.base_id is not None:
        data.setdefault(qm.base_id, att.env.data)
    return att


def group_key(qm: QueuedMessage, att: Attempt) -> tuple[object, ...] | None:
    """Rows with equal keys go in one transaction: one message, one recipient domain,
    the same attempt number, transport and REQUIRETLS wish (mox v0.0.10 deliver)."""
    if qm.base_id is None:
        return None
    return (qm.base_id, qm.recipient_domain, qm.attempts, att.transport.pk if att.transport else None, qm.requiretls)


def member_result(r: Result | None, pos: int) -> Result | None:
    """The result of the recipient at `pos` of a grouped attempt. The connection's
    MTA-STS update and TLS results go with the first recipient only, to be stored once."""
    if r is None:
        return None
    out = r.outcome.per_rcpt[pos] if r.outcome.per_rcpt else dataclasses.replace(r.outcome)
    if pos == 0:
        return dataclasses.replace(r, outcome=out)
    return Result(out, remote_mta=r.remote_mta, dialed_ips=r.dialed_ips, local=r.local)


def attempt_batch(qms: list[QueuedMessage], resolver: Resolver | None = None) -> list[Result | None]:
    """One delivery attempt for each claimed message, over shared connections, the
    recipients of one message together (`group_key`); no database writes. None for a
    message the batch had no time left for."""
    now = timezone.now()
    cache = BatchCache()
    prepared = [_prepare(qm, now, cache) for qm in qms]
    leaders: dict[tuple[object, ...], int] = {}
    place: list[tuple[int, int]] = []  # (index of the leading attempt, position in its group)
    for j, (qm, p) in enumerate(zip(qms, prepared)):
        key = group_key(qm, p) if isinstance(p, Attempt) else None
        lead = leaders.setdefault(key, j) if key is not None else j
        lead_att = prepared[lead]
        if lead != j and isinstance(p, Attempt) and isinstance(lead_att, Attempt):
            lead_att.env.group.append(GroupRecipient(p.env.rcpt_to, p.env.dsn_notify, p.env.dsn_orcpt))
            place.append((lead, len(lead_att.env.group)))
        else:
            place.append((j, 0))
    atts = [p for j, p in enumerate(prepared) if isinstance(p, Attempt) and place[j][0] == j]
    ran: dict[int, Result | None] = {}
    if atts:
        if resolver is None:
            from moxweb.resolver import get_resolver

            resolver = get_resolver()
        ran = {id(a): r for a, r in zip(atts, asyncio.run(run_batch(atts, resolver)))}
    out: list[Result | None] = []
    for p, (lead, pos) in zip(prepared, place):
        if isinstance(p, Result):
            out.append(p)
        else:
            out.append(member_result(ran[id(prepared[lead])], pos))
    return out


def attempt(qm: QueuedMessage, resolver: Resolver | None = None) -> Result:
    """One delivery attempt of a claimed message; no database writes."""
    result = attempt_batch([qm], resolver)[0]
    assert result is not None  # the first attempt of a batch always runs
    return result


def finish(qm: QueuedMessage, result: Result, gone: list[QueuedMessage]) -> str:
    """Record the attempt's result and send the DSN it calls for. Returns a word. A
    row that is done (delivered or failed) is added to `gone`, for `remove` in the
    same transaction.

    A failing DSN never causes the message itself to be delivered again: delivery and
    delayed DSNs follow the row's update, and a failure DSN precedes the row's removal
    only so that a crash between the two cannot lose it (send() does not raise)."""
    out = result.outcome
    metrics.queue_attempt(out)
    now = timezone.now()
    if result.sts_store is not None:
        store_policy(result.sts_store, now)
    tlsresults.record(qm.pk, result.tls_log)
    if out.ok:
        data = None
        if result.local or not out.remote_dsn:
            action = Action.delivered if result.local else Action.relayed
            data = dsns.prepare(qm, action, error=out.text, reply=out.reply, code=out.code, remote_mta=result.remote_mta, now=now)
        gone.append(qm)
        log.info("queue message delivered", extra={"queue_id": qm.pk, "recipient": qm.recipient, "remote": result.remote_mta})
        if data is not None:
            dsns.send(qm, Action.delivered, data)
        return "delivered"
    final = out.permanent or qm.attempts >= attempt_limit(qm)
    qm.last_error = out.text
    if final:
        data = dsns.prepare(
            qm, Action.failed, error=out.text, reply=out.reply, code=out.code, status=out.status,
            permanent=out.permanent, remote_mta=result.remote_mta, now=now,
        )
        # The failure DSN is stored before the row goes: a worker killed in between
        # makes one more attempt (and perhaps a second DSN) instead of dropping the
        # message without a word. A DSN that fails to deliver is logged, and the row
        # goes all the same.
        dsns.send(qm, Action.failed, data)
        gone.append(qm)
        log.info("queue message failed", extra={"queue_id": qm.pk, "recipient": qm.recipient, "error": out.text})
        return "failed"
    fields: dict[str, object] = {"last_error": out.text, "claimed_until": None}
    if result.dialed_ips:
        fields["dialed_ips"] = result.dialed_ips
    data = None
    if qm.attempts >= delayed_dsn_after() and not qm.delayed_dsn_sent:
        data = dsns.prepare(qm, Action.delayed, error=out.text, reply=out.reply, code=out.code, status=out.status, remote_mta=result.remote_mta, now=now)
        fields["delayed_dsn_sent"] = True
    QueuedMessage.objects.filter(pk=qm.pk).update(**fields)
    log.info("queue message delivery failed, will retry", extra={"queue_id": qm.pk, "attempts": qm.attempts, "error": out.text, "next": qm.next_attempt.isoformat()})
    dsns.send(qm, Action.delayed, data)
    return "retry"


def remove(qms: list[QueuedMessage]) -> None:
    """Delete rows that are done; their files go after the commit, each once no row
    uses it any more."""
    if not qms:
        return
    QueuedMessage.objects.filter(pk__in=[qm.pk for qm in qms]).delete()
    paths = {qm.path for qm in qms if qm.path}
    still = set(QueuedMessage.objects.filter(path__in=paths).values_list("path", flat=True)) if paths else set()
    files = [dsns.message_path(qm) for qm in qms if qm.path and qm.path not in still]

    def unlink() -> None:
        for f in files:
            f.unlink(missing_ok=True)

    transaction.on_commit(unlink)


def deliver_queued(pk: int, token: datetime | None = None, resolver: Resolver | None = None) -> str:
    """Claim message `pk` and make one attempt; safe to call twice (at-least-once
    brokers): a message that is not due or already claimed is left alone.

    Other due messages to the same recipient domain (same transport and REQUIRETLS
    wish) are claimed along, up to MOX_QUEUE_CONNECTION_MESSAGES, and go over the
    same connection when they end up at the same host."""
    batch = claim_batch(pk, messages_per_connection() - 1, token=token)
    if not batch:
        if token is not None:
            # Our reservation could not be claimed (its domain was busy, say): give it
            # back now, or it would block the message and count against its domain's
            # limit until it expired (MOX_QUEUE_RESERVE_SECONDS).
            QueuedMessage.objects.filter(pk=pk, claimed_until=token).update(claimed_until=None)
        return "skipped"
    return deliver_batch(batch, resolver)


def deliver_next(resolver: Resolver | None = None) -> str:
    """Claim the next due message the limits allow (with its companions) and make
    the attempt; "idle" when nothing is due."""
    batch = claim_next(messages_per_connection() - 1)
    return deliver_batch(batch, resolver) if batch else "idle"


def deliver_batch(batch: list[QueuedMessage], resolver: Resolver | None = None) -> str:
    """One attempt for each claimed message of `batch`; returns the first one's word."""
    pk = batch[0].pk
    try:
        results = attempt_batch(batch, resolver)
    except Exception as e:  # noqa: BLE001 - a bug must not lose the message: retry later
        log.exception("delivery attempt crashed", extra={"queue_id": pk})
        results = [Result(Outcome(False, text=f"internal error: {type(e).__name__}: {e}"))] * len(batch)
    words = []
    # One commit for the batch: every message's outcome, DSN, TLS results and log row.
    # A crash before it leaves the messages claimed and attempted again (at least
    # once), never half finished.
    with transaction.atomic():
        gone: list[QueuedMessage] = []
        for m, r in zip(batch, results):
            if r is None:
                unclaim(m)
                continue
            word = finish(m, r, gone)
            # For the console's recent deliveries (queue rows go once delivered or failed).
            record_attempt(
                time=timezone.now(), queue_id=m.pk, attempt=m.attempts, sender=m.sender, recipient=m.recipient,
                result=word, remote_mta=r.remote_mta, transport=m.transport, detail=r.outcome.text,
            )
            words.append(word)
        remove(gone)
    return words[0]
