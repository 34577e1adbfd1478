"""The DNS records an administrator creates for a domain (mox DomainRecords, reference
section 1.3.4), as zone-file lines ready to copy.

MX (RFC 5321 section 5), SPF (RFC 7208), DKIM (RFC 6376 section 3.6.1, RFC 8463 for
Ed25519), DMARC (RFC 7489 section 6.1), MTA-STS (RFC 8461 section 3.1), TLSRPT
(RFC 8460 section 3), SRV for client configuration (RFC 6186, RFC 8314 section 5.1,
"." meaning "not offered"), autoconfig/autodiscover, CAA (RFC 8659).
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings

from accounts.actions import domain_forms_safe
from accounts.models import DKIMKey, Domain
from wellknown.mtasts import current_policy

TTL = 300
CAA_ISSUER = "letsencrypt.org"


@dataclass
class RecordGroup:
    comments: list[str]
    records: list[str] = field(default_factory=list)


def txt_value(text: str) -> str:
    """A TXT value as quoted strings of at most 255 bytes each (RFC 1035 section 3.3.14)."""
    parts = [text[i : i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def dkim_txt(key: DKIMKey) -> str:
    """The DKIM key record text for a stored private key."""
    private = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        # RFC 8463 section 4.2: the raw 32-byte public key.
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    if isinstance(private, rsa.RSAPrivateKey):
        # RFC 6376 section 3.6.1: the DER SubjectPublicKeyInfo.
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    raise ValueError(f"unsupported DKIM key type for {key}")


def _srv(service: str, domain: str, port: int, target: str) -> str:
    # A port of 0 means the listener is off: tell clients the service is not offered.
    if not port:
        target = "."
    return f"_{service}._tcp.{domain}. IN SRV 0 1 {port} {target}"


def domain_records(domain: Domain) -> list[RecordGroup]:
    d = domain.ascii
    host = domain_forms_safe(settings.MOX_HOSTNAME)
    groups = [
        RecordGroup(["Time to live of the records below, when imported as a zone file."], [f"$TTL {TTL}"]),
        RecordGroup(
            ["SPF for the mail host itself (used for DSNs); create it once, for the first domain."],
            [f'{host}. IN TXT "v=spf1 a -all"'],
        ),
        RecordGroup(["Mail for the domain is delivered to this host."], [f"{d}. IN MX 10 {host}."]),
    ]
    dkim = RecordGroup(["Outgoing mail is signed with each of these DKIM keys."])
    for key in DKIMKey.objects.filter(domain=domain).order_by("selector"):
        dkim.records.append(f"{key.selector}._domainkey.{d}. IN TXT {txt_value(dkim_txt(key))}")
    if not dkim.records:
        dkim.comments = ["No DKIM keys are configured for this domain: outgoing mail is not signed."]
    groups.append(dkim)
    policy = current_policy()
    groups += [
        RecordGroup(
            [
                "SPF: the MX hosts may send for the domain. ~all (softfail) rather than -all so",
                "that receivers get to check DKIM and DMARC before rejecting.",
            ],
            [f'{d}. IN TXT "v=spf1 mx ~all"'],
        ),
        RecordGroup(
            [
                "DMARC: reject mail that passes neither SPF nor DKIM for the domain, and ask",
                "for aggregate reports. Consider p=none if you send through mailing lists",
                "that break DKIM signatures without rewriting From.",
            ],
            [f'_dmarc.{d}. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@{d}!10m"'],
        ),
        RecordGroup(
            ["MTA-STS: senders must use verified TLS when delivering to us."],
            [f"mta-sts.{d}. IN CNAME {host}.", f'_mta-sts.{d}. IN TXT "v=STSv1; id={policy.policy_id()}"'],
        ),
        RecordGroup(
            ["TLSRPT: ask senders to report TLS problems delivering to us."],
            [f'_smtp._tls.{d}. IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@{d}"'],
        ),
        RecordGroup(
            ["Client configuration: autoconfig (Thunderbird) and autodiscover (Microsoft)."],
            [f"autoconfig.{d}. IN CNAME {host}.", f"_autodiscover._tcp.{d}. IN SRV 0 1 443 autoconfig.{d}."],
        ),
        RecordGroup(
            ["IMAP and submission with implicit TLS are on the mail host."],
            [
                _srv("imaps", d, settings.MOX_IMAPS_PORT, f"{host}."),
                _srv("submissions", d, settings.MOX_SUBMISSIONS_PORT, f"{host}."),
            ],
        ),
        RecordGroup(
            ["Plain-text IMAP, submission with STARTTLS and POP3 are not to be used."],
            [
                _srv("imap", d, 143, "."),
                _srv("submission", d, 587, "."),
                _srv("pop3", d, 110, "."),
                _srv("pop3s", d, 995, "."),
            ],
        ),
        RecordGroup(
            ["Optional: allow only Let's Encrypt to issue TLS certificates for the domain."],
            [f'{d}. IN CAA 0 issue "{CAA_ISSUER}"'],
        ),
    ]
    return groups


def zone_text(groups: list[RecordGroup]) -> str:
    blocks = []
    for group in groups:
        lines = [f"; {c}" for c in group.comments] + group.records
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
