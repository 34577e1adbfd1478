from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from accounts.actions import create_domain
from accounts.models import DKIMKey
from webadmin.dnsrecords import domain_records, txt_value, zone_text

# RFC 8463 appendix A.2 / RFC 8032 section 7.1 test 1.
ED25519_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ED25519_PUBLIC_B64 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

EXPECTED = """\
; Time to live of the records below, when imported as a zone file.
$TTL 300

; SPF for the mail host itself (used for DSNs); create it once, for the first domain.
mail.example.org. IN TXT "v=spf1 a -all"

; Mail for the domain is delivered to this host.
example.test. IN MX 10 mail.example.org.

; No DKIM keys are configured for this domain: outgoing mail is not signed.

; SPF: the MX hosts may send for the domain. ~all (softfail) rather than -all so
; that receivers get to check DKIM and DMARC before rejecting.
example.test. IN TXT "v=spf1 mx ~all"

; DMARC: reject mail that passes neither SPF nor DKIM for the domain, and ask
; for aggregate reports. Consider p=none if you send through mailing lists
; that break DKIM signatures without rewriting From.
_dmarc.example.test. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.test!10m"

; MTA-STS: senders must use verified TLS when delivering to us.
mta-sts.example.test. IN CNAME mail.example.org.
_mta-sts.example.test. IN TXT "v=STSv1; id=e76728b8f26755a9c797"

; TLSRPT: ask senders to report TLS problems delivering to us.
_smtp._tls.example.test. IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.test"

; Client configuration: autoconfig (Thunderbird) and autodiscover (Microsoft).
autoconfig.example.test. IN CNAME mail.example.org.
_autodiscover._tcp.example.test. IN SRV 0 1 443 autoconfig.example.test.

; IMAP and submission with implicit TLS are on the mail host.
_imaps._tcp.example.test. IN SRV 0 1 993 mail.example.org.
_submissions._tcp.example.test. IN SRV 0 1 465 mail.example.org.

; Plain-text IMAP, submission with STARTTLS and POP3 are not to be used.
_imap._tcp.example.test. IN SRV 0 1 143 .
_submission._tcp.example.test. IN SRV 0 1 587 .
_pop3._tcp.example.test. IN SRV 0 1 110 .
_pop3s._tcp.example.test. IN SRV 0 1 995 .

; Optional: allow only Let's Encrypt to issue TLS certificates for the domain.
example.test. IN CAA 0 issue "letsencrypt.org"
"""


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_it_lists_every_record_for_a_domain_without_dkim(domain):
    assert zone_text(domain_records(domain)) == EXPECTED


def test_it_publishes_an_ed25519_dkim_key(domain):
    key = ed25519.Ed25519PrivateKey.from_private_bytes(ED25519_SECRET)
    DKIMKey.objects.create(domain=domain, selector="2026a", algorithm="ed25519", private_key_pem=_pem(key))
    text = zone_text(domain_records(domain))
    assert (
        "; Outgoing mail is signed with each of these DKIM keys.\n"
        f'2026a._domainkey.example.test. IN TXT "v=DKIM1; k=ed25519; p={ED25519_PUBLIC_B64}"\n'
    ) in text


def test_it_splits_a_long_rsa_key_into_255_byte_strings(domain):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    DKIMKey.objects.create(domain=domain, selector="2026r", algorithm="rsa", private_key_pem=_pem(key))
    line = next(r for g in domain_records(domain) for r in g.records if r.startswith("2026r._domainkey."))
    value = line.removeprefix("2026r._domainkey.example.test. IN TXT ")
    parts = value[1:-1].split('" "')
    assert [len(p) for p in parts[:-1]] == [255]
    assert "".join(parts).startswith("v=DKIM1; k=rsa; p=MIIBIjAN")


def test_it_uses_the_idna_form_of_domains(db):
    d = create_domain("bücher.example")
    assert "xn--bcher-kva.example. IN MX 10 mail.example.org." in zone_text(domain_records(d))


def test_it_marks_disabled_listeners_as_not_offered(domain, settings):
    settings.MOX_IMAPS_PORT = 0
    assert "_imaps._tcp.example.test. IN SRV 0 1 0 ." in zone_text(domain_records(domain))


def test_it_quotes_txt_values():
    assert txt_value('a"b\\c') == '"a\\"b\\\\c"'
    assert txt_value("x" * 300) == '"' + "x" * 255 + '" "' + "x" * 45 + '"'
