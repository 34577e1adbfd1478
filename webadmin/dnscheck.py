"""DNS check for a domain, as mox's admin CheckDomain (reference section 1.3.3): each
section reports errors, warnings and instructions (the records to create).

Sections run concurrently within an overall time limit. Covered: IPRev, MX, TLS
(STARTTLS on port 25 of each MX address, the certificate verified for the MX name),
SPF (evaluated for each of our IPs), DKIM, DMARC, TLSRPT, MTA-STS (records, and the
policy fetched over HTTPS as a sender fetches it, compared with ours and with the MX
records), SRV records, autoconfig (the name, and TLS on port 443 verified for it) and
autodiscover.
"""
from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mailcore.authn.dmarcrecord import Policy, is_dmarc_record, parse_record
from mailcore.authn.errors import ParseError
from mailcore.authn.spf import SPFStatus, check_host
from mailcore.dns import Resolver, lookup_ips, parse_hostport
from mailcore.mtasts import FetchError, Mode, fetch_policy, mx_matches

# (priority, weight, port, target without trailing dot; "." for "not offered")
SRVRecord = tuple[int, int, int, str]
SRVLookup = Callable[[str], Awaitable[tuple[str, list[SRVRecord]]]]


@dataclass
class Section:
    name: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckInput:
    domain: str  # A-label form
    hostname: str  # A-label form
    listen_ips: tuple[str, ...]
    # (selector, expected DKIM record text) for each configured key.
    dkim: tuple[tuple[str, str], ...]
    mtasts_policy_id: str
    imaps_port: int
    submissions_port: int
    # Where MX hosts listen (25; tests use another port).
    smtp_port: int = 25
    # The policy text we serve at mta-sts.<domain> (its id is mtasts_policy_id).
    mtasts_policy_text: str = ""
    # Where the MTA-STS policy and autoconfig hosts serve HTTPS (443; tests use another).
    https_port: int = 443


def srv_lookup_for(nameserver: str, timeout: float = 5.0) -> SRVLookup:
    """SRV lookups through the configured nameserver ("host:port", empty: system).
    The shared Resolver protocol has no SRV lookup; only this check needs one."""
    if nameserver:
        r = dns.asyncresolver.Resolver(configure=False)
        host, port = parse_hostport(nameserver)
        r.nameservers = [dns.nameserver.Do53Nameserver(host, port=port)]
    else:
        r = dns.asyncresolver.Resolver()
    r.lifetime = timeout

    async def lookup(name: str) -> tuple[str, list[SRVRecord]]:
        try:
            ans = await r.resolve(name.rstrip(".") + ".", dns.rdatatype.SRV, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return "notfound", []
        except dns.exception.DNSException as e:
            return f"error: {type(e).__name__}", []
        recs = [(rd.priority, rd.weight, rd.port, rd.target.to_text(omit_final_dot=True) or ".") for rd in ans]  # type: ignore[attr-defined]
        return "ok", recs

    return lookup


def _txt(record: bytes) -> str:
    return record.decode("utf-8", "replace")


def _tags(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            out[name.strip().lower()] = "".join(value.split())
    return out


async def our_ips(resolver: Resolver, listen_ips: Sequence[str], hostname: str) -> list[str]:
    """The IPs our mail goes out from and comes in at, as far as we know: listener IPs
    that are set (not 0.0.0.0 or ::) and the addresses of our host name."""
    ips = [ip for ip in listen_ips if not ipaddress.ip_address(ip).is_unspecified]
    r = await lookup_ips(resolver, hostname)
    return sorted(set(ips) | set(r.records))



async def _check_iprev(resolver: Resolver, inp: CheckInput, ours: list[str]) -> Section:
    """Receivers check that our IPs map back to our hostname (FCrDNS, RFC 8601 3.3)."""
    s = Section("IPRev")
    for ip in ours:
        r = await resolver.lookup_ptr(ip)
        if r.temporary:
            s.errors.append(f"looking up the PTR record of {ip}: {r.error}")
        elif not r.records:
            s.errors.append(f"{ip} has no PTR record")
        elif len(r.records) > 1:
            s.errors.append(f"{ip} has {len(r.records)} PTR records ({', '.join(sorted(r.records))}); it should have one")
        elif r.records[0].lower() != inp.hostname:
            s.errors.append(f"the PTR record of {ip} is {r.records[0]}, not {inp.hostname}")
        else:
            continue
        s.instructions.append(f"{ip} PTR {inp.hostname}.  (set by whoever provides the IP address)")
    return s


async def _check_mx(resolver: Resolver, inp: CheckInput, ours: list[str]) -> Section:
    s = Section("MX")
    d, host = inp.domain, inp.hostname
    r = await resolver.lookup_mx(d)
    if r.temporary:
        s.errors.append(f"looking up MX records for {d}: {r.error}")
        return s
    if not r.records:
        s.errors.append(f"no MX records for {d}: mail is delivered to the domain's own address, if any")
        s.instructions.append(f"{d}. IN MX 10 {host}.")
        return s
    for mx in sorted(r.records, key=lambda m: m.preference):
        if mx.host == "":
            s.errors.append(f"{d} has a null MX (RFC 7505): it accepts no mail")
            continue
        ips = await lookup_ips(resolver, mx.host)
        if not ips.ok:
            s.errors.append(f"MX host {mx.host} does not resolve ({ips.status})")
            continue
        theirs = set(ips.records)
        if not theirs & set(ours):
            s.errors.append(f"MX host {mx.host} has IPs {', '.join(sorted(theirs))}, none of them ours ({', '.join(ours) or 'none known'})")
        elif not theirs <= set(ours):
            s.warnings.append(f"MX host {mx.host} also has IPs that are not ours: {', '.join(sorted(theirs - set(ours)))}")
    if s.errors:
        s.instructions.append(f"{d}. IN MX 10 {host}.")
    return s


TLS_TIMEOUT = 10.0


async def starttls_problem(ip: str, port: int, mx_host: str, ehlo_name: str, context: ssl.SSLContext) -> str:
    """Connect, EHLO, STARTTLS (RFC 3207) and verify the certificate for `mx_host`, as a
    sender enforcing MTA-STS would (RFC 8461 section 4.2); "" when all is well."""
    client = aiosmtplib.SMTP(hostname=ip, port=port, local_hostname=ehlo_name, timeout=TLS_TIMEOUT, start_tls=False)
    try:
        await client.connect()
        await client.ehlo()
        if not client.supports_extension("starttls"):
            return "does not offer STARTTLS"
        await client.starttls(server_hostname=mx_host, tls_context=context)
    except ssl.SSLCertVerificationError as e:
        return f"TLS certificate not valid for {mx_host}: {e.verify_message}"
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
        cause = e.__cause__ if isinstance(e.__cause__, ssl.SSLCertVerificationError) else None
        if cause is not None:
            return f"TLS certificate not valid for {mx_host}: {cause.verify_message}"
        return f"{type(e).__name__}: {e}"
    finally:
        if client.is_connected:
            try:
                await asyncio.wait_for(client.quit(), 2)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
    return ""


async def _check_tls(resolver: Resolver, inp: CheckInput, context: ssl.SSLContext) -> Section:
    s = Section("TLS")
    r = await resolver.lookup_mx(inp.domain)
    hosts = sorted({mx.host for mx in r.records if mx.host}) if r.ok else []
    for host in hosts:
        ips = await lookup_ips(resolver, host)
        problems = await asyncio.gather(
            *(starttls_problem(ip, inp.smtp_port, host, inp.hostname, context) for ip in sorted(ips.records))
        )
        for ip, problem in zip(sorted(ips.records), problems):
            if problem:
                s.errors.append(f"STARTTLS at MX host {host} ({ip}) port {inp.smtp_port}: {problem}")
    return s


async def _spf_records(resolver: Resolver, name: str, s: Section) -> list[str] | None:
    r = await resolver.lookup_txt(name)
    if r.temporary:
        s.errors.append(f"looking up TXT records for {name}: {r.error}")
        return None
    recs = [_txt(t) for t in r.records if _txt(t).lower() == "v=spf1" or _txt(t).lower().startswith("v=spf1 ")]
    if len(recs) > 1:
        s.errors.append(f"{name} has {len(recs)} SPF records; more than one is a permerror (RFC 7208 section 4.5)")
    return recs


async def _check_spf(resolver: Resolver, inp: CheckInput, ours: list[str]) -> Section:
    s = Section("SPF")
    d, host = inp.domain, inp.hostname
    for name, sender, instruction in [
        (d, f"postmaster@{d}", f'{d}. IN TXT "v=spf1 mx ~all"'),
        (host, "", f'{host}. IN TXT "v=spf1 a -all"'),
    ]:
        recs = await _spf_records(resolver, name, s)
        if recs is None:
            continue
        if not recs:
            s.errors.append(f"no SPF record for {name}")
            s.instructions.append(instruction)
            continue
        for ip in ours:
            res = await check_host(resolver, ip, sender, host)
            if res.status != SPFStatus.pass_:
                s.errors.append(f"SPF for {name} gives {res.status} for our IP {ip}, not pass")
                if instruction not in s.instructions:
                    s.instructions.append(instruction)
    return s


async def _check_dkim(resolver: Resolver, inp: CheckInput) -> Section:
    s = Section("DKIM")
    if not inp.dkim:
        s.errors.append("no DKIM keys are configured for this domain: outgoing mail is not signed")
        return s
    for selector, expected in inp.dkim:
        name = f"{selector}._domainkey.{inp.domain}"
        instruction = f'{name}. IN TXT "{expected}"'
        r = await resolver.lookup_txt(name)
        if r.temporary:
            s.errors.append(f"looking up {name}: {r.error}")
            continue
        if not r.records:
            s.errors.append(f"no DKIM record at {name}")
            s.instructions.append(instruction)
            continue
        want = _tags(expected).get("p")
        if not any(_tags(_txt(t)).get("p") == want for t in r.records):
            s.errors.append(f"the DKIM record at {name} does not hold the configured public key")
            s.instructions.append(instruction)
    if not any(t.startswith(("v=DKIM1; k=ed25519",)) for _, t in inp.dkim):
        s.warnings.append("no Ed25519 key: consider adding one next to the RSA key (RFC 8463)")
    return s


async def _check_dmarc(resolver: Resolver, inp: CheckInput) -> Section:
    s = Section("DMARC")
    name = f"_dmarc.{inp.domain}"
    instruction = f'{name}. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@{inp.domain}!10m"'
    r = await resolver.lookup_txt(name)
    if r.temporary:
        s.errors.append(f"looking up {name}: {r.error}")
        return s
    recs = [t for t in r.records if is_dmarc_record(t)]
    if not recs:
        s.errors.append(f"no DMARC record at {name}")
        s.instructions.append(instruction)
        return s
    if len(recs) > 1:
        s.errors.append(f"{name} has {len(recs)} DMARC records; receivers then ignore them all")
        return s
    try:
        rec = parse_record(recs[0])
    except ParseError as e:
        s.errors.append(f"the DMARC record at {name} is invalid: {e}")
        s.instructions.append(instruction)
        return s
    if rec.policy == Policy.none:
        s.warnings.append("the DMARC policy is p=none: mail failing DMARC is still accepted")
    if rec.subdomain_policy == Policy.none:
        s.warnings.append("the subdomain policy is sp=none: mail from subdomains failing DMARC is still accepted")
    if not rec.rua:
        s.warnings.append("no rua= address: you get no DMARC aggregate reports")
        s.instructions.append(instruction)
    return s


async def _check_tlsrpt(resolver: Resolver, inp: CheckInput) -> Section:
    s = Section("TLSRPT")
    name = f"_smtp._tls.{inp.domain}"
    instruction = f'{name}. IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@{inp.domain}"'
    r = await resolver.lookup_txt(name)
    if r.temporary:
        s.errors.append(f"looking up {name}: {r.error}")
        return s
    recs = [_txt(t) for t in r.records if _txt(t).replace(" ", "").startswith("v=TLSRPTv1")]
    if not recs:
        s.errors.append(f"no TLSRPT record at {name}")
        s.instructions.append(instruction)
    elif not _tags(recs[0]).get("rua"):
        s.errors.append(f"the TLSRPT record at {name} has no rua=")
        s.instructions.append(instruction)
    return s


async def _check_host_is_ours(resolver: Resolver, name: str, ours: list[str], s: Section, instruction: str) -> None:
    r = await lookup_ips(resolver, name)
    if not r.ok:
        s.errors.append(f"{name} does not resolve ({r.status})")
        s.instructions.append(instruction)
    elif not set(r.records) & set(ours):
        s.errors.append(f"{name} resolves to {', '.join(sorted(r.records))}, not to our IPs")
        s.instructions.append(instruction)


async def _check_mtasts(resolver: Resolver, inp: CheckInput, ours: list[str], context: ssl.SSLContext) -> Section:
    s = Section("MTA-STS")
    d = inp.domain
    name = f"_mta-sts.{d}"
    instruction = f'{name}. IN TXT "v=STSv1; id={inp.mtasts_policy_id}"'
    r = await resolver.lookup_txt(name)
    if r.temporary:
        s.errors.append(f"looking up {name}: {r.error}")
    else:
        recs = [_txt(t) for t in r.records if _txt(t).replace(" ", "").startswith("v=STSv1")]
        if not recs:
            s.errors.append(f"no MTA-STS record at {name}")
            s.instructions.append(instruction)
        elif len(recs) > 1:
            s.errors.append(f"{name} has {len(recs)} MTA-STS records; senders then ignore them all (RFC 8461 section 3.1)")
        else:
            published = _tags(recs[0]).get("id", "")
            if published != inp.mtasts_policy_id:
                s.warnings.append(
                    f"the published policy id {published or '(none)'} differs from the current policy's "
                    f"{inp.mtasts_policy_id}: senders keep a cached older policy until it changes"
                )
                s.instructions.append(instruction)
    before = len(s.errors)
    await _check_host_is_ours(resolver, f"mta-sts.{d}", ours, s, f"mta-sts.{d}. IN CNAME {inp.hostname}.")
    if len(s.errors) == before:
        await _check_mtasts_policy(resolver, inp, context, s)
    return s


async def _check_mtasts_policy(resolver: Resolver, inp: CheckInput, context: ssl.SSLContext, s: Section) -> None:
    """Fetch the policy as a sending MTA does (RFC 8461 section 3.3: HTTPS with a valid
    certificate for mta-sts.<domain>, no redirects, text/plain) and check what it says
    (mox's warnings: mode, max_age, our host and the MX records in its mx lines)."""
    d = inp.domain
    url = f"https://mta-sts.{d}/.well-known/mta-sts.txt"
    try:
        policy, text = await fetch_policy(d, resolver, context, port=inp.https_port, timeout=TLS_TIMEOUT)
    except FetchError as exc:
        s.errors.append(f"fetching the policy from {url}: {exc}")
        s.instructions.append(f"serve the policy at {url}: point mta-sts.{d} at {inp.hostname} (which serves it) "
                              "with a TLS certificate for that name")
        return
    if inp.mtasts_policy_text and text != inp.mtasts_policy_text:
        # The published id stands for our policy text (wellknown/mtasts.py); senders
        # holding this id would cache a different policy.
        s.errors.append(f"the policy at {url} is not the one this server serves (id {inp.mtasts_policy_id}): "
                        "is mta-sts." + d + " answered by another web server?")
    if policy.mode is Mode.none:
        s.warnings.append("the policy's mode is none: senders do not require TLS to the MX hosts")
    elif policy.mode is Mode.testing:
        s.warnings.append("the policy's mode is testing: senders report failures but deliver without TLS")
    if policy.max_age < 24 * 3600:
        s.warnings.append(f"the policy's max_age is {policy.max_age} seconds, under a day: senders refetch it often "
                          "and a sender's cache gives little protection")
    if not mx_matches(policy, inp.hostname):
        s.warnings.append(f"the policy's mx lines ({', '.join(policy.mx) or 'none'}) do not match our host {inp.hostname}")
    r = await resolver.lookup_mx(d)
    if not r.ok:
        return
    hosts = sorted({mx.host.lower().rstrip(".") for mx in r.records if mx.host})
    for host in hosts:
        if not mx_matches(policy, host):
            s.warnings.append(f"MX host {host} is not in the policy's mx lines: senders enforcing the policy "
                              "will not deliver to it")
    for pattern in policy.mx:
        if not any(mx_matches(replace(policy, mx=(pattern,)), h) for h in hosts):
            s.warnings.append(f"the policy's mx line {pattern} matches no MX record of {d}")


async def https_problem(ip: str, port: int, host: str, context: ssl.SSLContext) -> str:
    """Connect with TLS and verify the certificate for `host`; "" when all is well."""
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(ip, port, ssl=context, server_hostname=host), TLS_TIMEOUT
        )
    except ssl.SSLCertVerificationError as e:
        return f"TLS certificate not valid for {host}: {e.verify_message}"
    except (OSError, ssl.SSLError, TimeoutError) as e:
        return f"{type(e).__name__}: {e}"
    writer.close()
    try:
        await writer.wait_closed()
    except (OSError, ssl.SSLError):
        pass
    return ""


async def _check_srv(srv: SRVLookup, inp: CheckInput) -> Section:
    s = Section("SRV records for client configuration")
    d, host = inp.domain, inp.hostname
    wanted = [
        ("submissions", inp.submissions_port, host if inp.submissions_port else "."),
        ("imaps", inp.imaps_port, host if inp.imaps_port else "."),
        ("submission", 587, "."),
        ("imap", 143, "."),
        ("pop3", 110, "."),
        ("pop3s", 995, "."),
    ]
    for service, port, target in wanted:
        name = f"_{service}._tcp.{d}"
        instruction = f"{name}. IN SRV 0 1 {port} {target}{'' if target == '.' else '.'}"
        status, recs = await srv(name)
        if status.startswith("error"):
            s.errors.append(f"looking up {name}: {status[7:]}")
        elif not recs:
            s.warnings.append(f"no SRV record at {name}")
            s.instructions.append(instruction)
        elif not any(t.lower() == target and (target == "." or p == port) for _, _, p, t in recs):
            got = ", ".join(f"port {p} at {t}" for _, _, p, t in recs)
            expected = f"port {port} at {target}" if target != "." else "target . (not offered)"
            s.errors.append(f"the SRV record at {name} has {got}, expected {expected}")
            s.instructions.append(instruction)
    return s


async def _check_autoconfig(resolver: Resolver, inp: CheckInput, ours: list[str], context: ssl.SSLContext) -> Section:
    s = Section("Autoconfig")
    name = f"autoconfig.{inp.domain}"
    await _check_host_is_ours(resolver, name, ours, s, f"{name}. IN CNAME {inp.hostname}.")
    if s.errors:
        return s
    # Email clients fetch their configuration over HTTPS from this name: the
    # certificate must be valid for it (mox checks TLS on 443 too).
    ips = sorted((await lookup_ips(resolver, name)).records)
    for ip, problem in zip(ips, await asyncio.gather(*(https_problem(ip, inp.https_port, name, context) for ip in ips))):
        if problem:
            s.errors.append(f"HTTPS at {name} ({ip}) port {inp.https_port}: {problem}")
    if s.errors:
        s.instructions.append(f"get a TLS certificate for {name} (ACME does, when the name points here)")
    return s


async def _check_autodiscover(resolver: Resolver, srv: SRVLookup, inp: CheckInput, ours: list[str]) -> Section:
    s = Section("Autodiscover")
    name = f"_autodiscover._tcp.{inp.domain}"
    instruction = f"{name}. IN SRV 0 1 443 autoconfig.{inp.domain}."
    status, recs = await srv(name)
    if status.startswith("error"):
        s.errors.append(f"looking up {name}: {status[7:]}")
    elif not recs:
        s.errors.append(f"no SRV record at {name}")
        s.instructions.append(instruction)
    else:
        for _, _, port, target in recs:
            if port != 443:
                s.errors.append(f"the SRV record at {name} has port {port}, expected 443")
                s.instructions.append(instruction)
            await _check_host_is_ours(resolver, target, ours, s, instruction)
    return s


async def check_domain(
    resolver: Resolver, srv: SRVLookup, inp: CheckInput, timeout: float = 30.0, tls_context: ssl.SSLContext | None = None
) -> list[Section]:
    """`tls_context` verifies the certificates of the MX, MTA-STS and autoconfig hosts
    (default: the system's CAs)."""
    ours = await asyncio.wait_for(our_ips(resolver, inp.listen_ips, inp.hostname), timeout)
    context = tls_context or ssl.create_default_context()
    checks: list[tuple[str, Awaitable[Section]]] = [
        ("IPRev", _check_iprev(resolver, inp, ours)),
        ("MX", _check_mx(resolver, inp, ours)),
        ("TLS", _check_tls(resolver, inp, context)),
        ("SPF", _check_spf(resolver, inp, ours)),
        ("DKIM", _check_dkim(resolver, inp)),
        ("DMARC", _check_dmarc(resolver, inp)),
        ("TLSRPT", _check_tlsrpt(resolver, inp)),
        ("MTA-STS", _check_mtasts(resolver, inp, ours, context)),
        ("SRV records for client configuration", _check_srv(srv, inp)),
        ("Autoconfig", _check_autoconfig(resolver, inp, ours, context)),
        ("Autodiscover", _check_autodiscover(resolver, srv, inp, ours)),
    ]

    async def guarded(name: str, aw: Awaitable[Section]) -> Section:
        try:
            return await asyncio.wait_for(aw, timeout)
        except TimeoutError:
            return Section(name, errors=[f"the check did not finish within {timeout:g} seconds"])

    sections = list(await asyncio.gather(*(guarded(n, aw) for n, aw in checks)))
    if not ours:
        sections[0].errors.insert(0, f"the mail host {inp.hostname} has no IP addresses: nothing can be checked against them")
    return sections
