"""What the DNS diagnostic commands print, as mox v0.0.5's commands of the same names:
`spf check|lookup`, `dnsbl check|checkhealth`, `mtasts lookup`, `dkim lookup|verify`,
`dmarc lookup|verify`, `tlsrpt lookup`.

Each function resolves through the resolver it is given (the commands pass the
configured one, `MOX_DNS_RESOLVER`), so an operator sees what the server sees, and
returns the lines to print. A lookup that cannot answer raises `LookupFailed` with a
text that says why (temporary DNS error, no record, ...); the commands turn it into a
clear error and a non-zero exit.
"""
from __future__ import annotations

import ssl

from mailcore.authn import dkim as dkimcheck
from mailcore.authn import dmarc, dnsbl, spf
from mailcore.authn.dmarcrecord import DMARCRecord
from mailcore.authn.errors import ParseError
from mailcore.authn.fromheader import from_domain
from mailcore.dns import Resolver
from mailcore.mtasts.fetch import FetchError, fetch_policy, lookup_record
from mailcore.reports.tlsrpt import record_rua, tlsrpt_records


class LookupFailed(Exception):
    """The lookup gave no answer to show; the text says why."""


def _text(txt: bytes) -> str:
    return txt.decode("utf-8", "replace")


async def _txt_records(resolver: Resolver, name: str) -> list[str]:
    r = await resolver.lookup_txt(name)
    if r.temporary:
        raise LookupFailed(f"temporary DNS error looking up TXT {name}: {r.error or 'no answer'}")
    return [_text(t) for t in r.records]


def _is_spf(txt: str) -> bool:
    # RFC 7208 section 4.5: "v=spf1" followed by a space or the end of the record.
    return txt.lower() == "v=spf1" or txt.lower().startswith("v=spf1 ")


async def spf_lookup(resolver: Resolver, domain: str) -> list[str]:
    """The domain's SPF record (RFC 7208 section 4.5: exactly one)."""
    records = [t for t in await _txt_records(resolver, domain) if _is_spf(t)]
    if not records:
        raise LookupFailed(f"no SPF record for {domain}")
    if len(records) > 1:
        raise LookupFailed(f"{len(records)} SPF records for {domain} (a permerror: RFC 7208 section 4.5 allows one)")
    return records


async def spf_check(resolver: Resolver, domain: str, ip: str) -> list[str]:
    """check_host() for `ip` sending as postmaster@domain (RFC 7208 section 4)."""
    result = await spf.check_host(resolver, ip, f"postmaster@{domain}", domain)
    lines = [f"status: {result.status}"]
    if result.explanation:
        lines.append(f"explanation: {result.explanation}")
    if result.received_spf:
        lines.append(f"received-spf: {result.received_spf}")
    return lines


async def dnsbl_check(resolver: Resolver, zone: str, ip: str) -> list[str]:
    result = await dnsbl.lookup(resolver, zone, ip)
    if result.status == dnsbl.DNSBLStatus.temperror:
        raise LookupFailed(f"temporary DNS error looking up {dnsbl.query_name(ip, zone)}: {result.error}")
    if not result.listed:
        return [f"{ip} is not listed in {result.zone}"]
    lines = [f"{ip} is listed in {result.zone}: {', '.join(result.addresses)}"]
    if result.explanation:
        lines.append(f"explanation: {result.explanation}")
    return lines


async def dnsbl_checkhealth(resolver: Resolver, zone: str) -> list[str]:
    """RFC 5782 section 5: the test entries 127.0.0.2 (listed) and 127.0.0.1 (not)."""
    if not await dnsbl.check_health(resolver, zone):
        raise LookupFailed(f"{zone} is unhealthy: 127.0.0.2 must be listed and 127.0.0.1 must not (RFC 5782 section 5)")
    return [f"{zone} is healthy"]


async def mtasts_lookup(resolver: Resolver, domain: str, context: ssl.SSLContext, port: int = 443) -> list[str]:
    """The _mta-sts record, then the policy fetched from mta-sts.<domain> over verified
    TLS (RFC 8461 sections 3.1-3.3), as the queue fetches it."""
    record, temporary = await lookup_record(resolver, domain)
    if temporary:
        raise LookupFailed(f"temporary DNS error looking up TXT _mta-sts.{domain}")
    if record is None:
        raise LookupFailed(f"no MTA-STS record at _mta-sts.{domain} (exactly one v=STSv1 record is needed)")
    lines = [f"record: id={record.id}"]
    try:
        policy, text = await fetch_policy(domain, resolver, context, port=port, timeout=30)
    except FetchError as e:
        raise LookupFailed(f"record id={record.id}, but fetching the policy failed: {e}") from e
    lines.append(f"policy: mode {policy.mode}, max_age {policy.max_age} s, mx {', '.join(policy.mx) or '(none)'}")
    lines.append("")
    lines.extend(text.splitlines())
    return lines


async def dkim_lookup(resolver: Resolver, selector: str, domain: str) -> list[str]:
    """The key record at <selector>._domainkey.<domain> (RFC 6376 section 3.6.2.1), parsed."""
    name = f"{selector}._domainkey.{domain}"
    records = await _txt_records(resolver, name)
    if not records:
        raise LookupFailed(f"no DKIM record at {name}")
    if len(records) > 1:
        raise LookupFailed(f"{len(records)} TXT records at {name}; a DKIM key needs exactly one")
    try:
        key = dkimcheck.parse_key_record(records[0])
    except ParseError as e:
        raise LookupFailed(f"the record at {name} is not a valid DKIM key: {e}") from e
    state = f"{key.key_type}, {key.bits} bits" if key.public_key else f"{key.key_type}, revoked (empty p=)"
    lines = [records[0], f"key: {state}"]
    if key.hashes:
        lines.append(f"hashes: {', '.join(key.hashes)}")
    if key.services != ("*",):
        lines.append(f"services: {', '.join(key.services)}")
    if key.flags:
        lines.append(f"flags: {', '.join(key.flags)}" + (" (testing)" if "y" in key.flags else ""))
    return lines


async def dkim_verify(resolver: Resolver, message: bytes) -> list[str]:
    """Every DKIM-Signature of the message verified (RFC 6376 section 6)."""
    results = await dkimcheck.verify(resolver, message)
    if not results:
        return ["no DKIM-Signature header"]
    lines = []
    for r in results:
        sig = r.signature
        domain, selector = (sig.domain, sig.selector) if sig is not None else (r.domain, r.selector)
        line = f"signature d={domain} s={selector}"
        if sig is not None:
            line += f" a={sig.algorithm}"
        line += f": {r.status}"
        if r.error:
            line += f" ({r.error})"
        lines.append(line)
    return lines


def _describe_dmarc(record: DMARCRecord) -> str:
    parts = [f"p={record.policy}"]
    if record.subdomain_policy is not None:
        parts.append(f"sp={record.subdomain_policy}")
    parts += [f"adkim={record.adkim}", f"aspf={record.aspf}", f"pct={record.pct}"]
    if record.rua:
        parts.append("rua=" + ",".join(record.rua))
    return " ".join(parts)


async def dmarc_lookup(resolver: Resolver, domain: str) -> list[str]:
    """The DMARC record that applies to mail From: the domain (RFC 9989 DNS tree walk)."""
    status, policy_domain, record, error = await dmarc.discover_policy(resolver, domain)
    if status == dmarc.DMARCStatus.temperror:
        raise LookupFailed(f"temporary DNS error looking up the DMARC record of {domain}: {error}")
    if record is None:
        raise LookupFailed(f"no DMARC record for {domain}" + (f": {error}" if error else ""))
    where = "" if policy_domain == domain.lower().rstrip(".") else f" (found at {policy_domain})"
    return [f"_dmarc.{policy_domain}{where}: {_describe_dmarc(record)}"]


async def dmarc_verify(resolver: Resolver, remote_ip: str, mail_from: str, helo: str, message: bytes) -> list[str]:
    """What the SMTP server would conclude for this message from this IP: SPF of the
    MAIL FROM (or HELO) identity, DKIM, then DMARC for the From domain."""
    spf_result = await spf.check_mailfrom(resolver, remote_ip, mail_from, helo)
    dkim_results = await dkimcheck.verify(resolver, message)
    domain = from_domain(message)
    lines = [f"spf: {spf_result.status} ({spf_result.identity} {spf_result.domain})"]
    lines += [f"dkim: {line}" for line in _dkim_lines(dkim_results)]
    if not domain:
        raise LookupFailed("\n".join([*lines, "the message has no usable From address"]))
    result = await dmarc.evaluate(resolver, domain, dkim=dkim_results, spf=spf_result, rand=lambda: 0.0)
    line = f"dmarc: {result.status} for {domain}"
    if result.policy_domain:
        line += f" (policy p={result.policy} at _dmarc.{result.policy_domain})"
    if result.error:
        line += f": {result.error}"
    lines.append(line)
    if result.status == dmarc.DMARCStatus.fail:
        lines.append("disposition: reject" if result.reject else "disposition: none (policy none)")
    return lines


def _dkim_lines(results: list[dkimcheck.DKIMResult]) -> list[str]:
    if not results:
        return ["none"]
    return [f"{r.status} d={(r.signature.domain if r.signature else r.domain)}" + (f" ({r.error})" if r.error else "")
            for r in results]


async def tlsrpt_lookup(resolver: Resolver, domain: str) -> list[str]:
    """The TLSRPT record at _smtp._tls.<domain> (RFC 8460 section 3)."""
    name = f"_smtp._tls.{domain}"
    records = tlsrpt_records(await _txt_records(resolver, name))
    if not records:
        raise LookupFailed(f"no TLSRPT record at {name}")
    if len(records) > 1:
        raise LookupFailed(f"{len(records)} TLSRPT records at {name}; RFC 8460 section 3 allows one")
    rua = record_rua(records[0])
    if not rua:
        raise LookupFailed(f"the TLSRPT record at {name} has no rua= (where reports go)")
    return [records[0], *(f"reports to: {u}" for u in rua)]
