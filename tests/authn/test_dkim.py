"""DKIM verification (RFC 6376, RFC 8463) of every signature, keys from the test DNS."""
from __future__ import annotations

import base64

import pytest
import time_machine
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from mailcore.authn import dkimsign
from mailcore.authn.dkim import DKIMStatus, verify
from mailcore.authn.dkimsign import SigningKey, sign
from tests.authn.keys import ED25519, RSA_1024, RSA_2048
from tests.fixtures_dns import DNSTestServer

NOW = 1_700_000_000
MSG = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: lunch\r\n"
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    b"Message-Id: <1@example.test>\r\n"
    b"\r\n"
    b"Shall we?\r\n"
)


@pytest.fixture(autouse=True)
def clock() -> object:
    """dkimpy checks t= and x= against the wall clock; travel to NOW (time still runs)."""
    with time_machine.travel(NOW, tick=True) as t:
        yield t


@pytest.fixture
def keys(dns_server: DNSTestServer) -> DNSTestServer:
    dns_server.add("rsa._domainkey.example.test", "TXT", dkimsign.dns_record(RSA_2048))
    dns_server.add("ed._domainkey.example.test", "TXT", dkimsign.dns_record(ED25519))
    dns_server.add("small._domainkey.example.test", "TXT", dkimsign.dns_record(RSA_1024))
    return dns_server


def signed(*selectors: str, msg: bytes = MSG, **kw: object) -> bytes:
    pems = {"rsa": RSA_2048, "ed": ED25519, "small": RSA_1024}
    keys = [SigningKey(s, pems[s]) for s in selectors]
    return sign(msg, "example.test", keys, now=NOW, **kw) + msg  # type: ignore[arg-type]


def statuses(results: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(str(r.status), r.error) for r in results]


async def test_it_verifies_every_signature_rsa_and_ed25519(keys: DNSTestServer) -> None:
    results = await verify(keys.resolver(), signed("rsa", "ed"), now=NOW)
    assert statuses(results) == [("pass", ""), ("pass", "")]
    assert [(r.signature.domain, r.signature.selector, r.signature.algorithm, r.record.bits) for r in results] == [
        ("example.test", "rsa", "rsa-sha256", 2048),
        ("example.test", "ed", "ed25519-sha256", 256),
    ]


async def test_it_fetches_each_key_once_and_concurrently(keys: DNSTestServer) -> None:
    msg = signed("rsa", "ed")
    msg = signed("rsa", msg=msg)  # two signatures with the same selector
    await verify(keys.resolver(), msg, now=NOW)
    assert sorted(q for q in keys.queries) == [("ed._domainkey.example.test", "TXT"), ("rsa._domainkey.example.test", "TXT")]


async def test_it_fails_a_changed_body_or_header(keys: DNSTestServer) -> None:
    r = keys.resolver()
    body = signed("rsa", "ed").replace(b"Shall we?", b"Shall we!")
    assert statuses(await verify(r, body, now=NOW)) == [("fail", "body hash mismatch")] * 2
    head = signed("rsa", "ed").replace(b"Subject: lunch", b"Subject: dinner")
    assert statuses(await verify(r, head, now=NOW)) == [("fail", "signature does not verify")] * 2


async def test_oversigning_refuses_an_added_header(keys: DNSTestServer) -> None:
    msg = signed("rsa")
    added = msg.replace(b"Subject: lunch\r\n", b"Subject: lunch\r\nSubject: free money\r\n")
    assert statuses(await verify(keys.resolver(), added, now=NOW)) == [("fail", "signature does not verify")]
    plain = signed("rsa", oversign=False)
    added = plain.replace(b"Subject: lunch\r\n", b"Subject: lunch\r\nCc: eve@example.org\r\n")
    # Cc was absent and not oversigned, so it could be added; with oversigning it cannot.
    assert statuses(await verify(keys.resolver(), added, now=NOW)) == [("pass", "")]
    added = signed("rsa").replace(b"Subject: lunch\r\n", b"Subject: lunch\r\nCc: eve@example.org\r\n")
    assert statuses(await verify(keys.resolver(), added, now=NOW)) == [("fail", "signature does not verify")]


async def test_simple_canonicalization_survives_nothing(keys: DNSTestServer) -> None:
    msg = signed("rsa", "ed", relaxed_header=False, relaxed_body=False)
    assert statuses(await verify(keys.resolver(), msg, now=NOW)) == [("pass", ""), ("pass", "")]
    refolded = msg.replace(b"Subject: lunch", b"Subject:  lunch")
    assert [r.status for r in await verify(keys.resolver(), refolded, now=NOW)] == [DKIMStatus.fail] * 2


async def test_it_gives_none_without_signatures(keys: DNSTestServer) -> None:
    assert await verify(keys.resolver(), MSG) == []


async def test_missing_revoked_and_broken_keys_are_permerrors(keys: DNSTestServer) -> None:
    keys.add("revoked._domainkey.example.test", "TXT", "v=DKIM1; k=rsa; p=")
    keys.add("junk._domainkey.example.test", "TXT", "v=DKIM1; k=rsa; p=!!!notbase64")
    keys.add("wrongtype._domainkey.example.test", "TXT", dkimsign.dns_record(ED25519))
    keys.add("email._domainkey.example.test", "TXT", "v=DKIM1; s=tlsrpt; p=" + dkimsign.dns_record(RSA_2048).split("p=")[1])
    r = keys.resolver()
    base = signed("rsa")

    async def with_selector(sel: str) -> tuple[str, str]:
        msg = base.replace(b"s=rsa;", b"s=" + sel.encode() + b";")
        [res] = await verify(r, msg, now=NOW)
        return str(res.status), res.error

    assert await with_selector("nokey") == ("permerror", "no key record")
    assert await with_selector("revoked") == ("permerror", "key revoked (empty p=)")
    assert await with_selector("junk") == ("permerror", "bad key record: p=: invalid base64")
    assert await with_selector("wrongtype") == ("permerror", "key type ed25519 does not match a=rsa-sha256")
    assert await with_selector("email") == ("permerror", "key not for email service")


async def test_dns_failures_are_temperrors(keys: DNSTestServer) -> None:
    keys.servfail("rsa._domainkey.example.test")
    keys.drop("ed._domainkey.example.test")
    res = await verify(keys.resolver(timeout=0.2, lifetime=0.3), signed("rsa", "ed"), now=NOW)
    assert [r.status for r in res] == [DKIMStatus.temperror, DKIMStatus.temperror]


async def test_small_rsa_keys_are_refused(keys: DNSTestServer) -> None:
    r = keys.resolver()
    assert statuses(await verify(r, signed("small"), now=NOW)) == [("pass", "")]
    assert statuses(await verify(r, signed("small"), now=NOW, min_rsa_bits=2048)) == [
        ("permerror", "rsa key of 1024 bits is too small")
    ]


async def test_policy_refuses_length_and_unsigned_subject(keys: DNSTestServer) -> None:
    r = keys.resolver()
    no_subject = signed("rsa", signed_headers=["From", "To", "Date"])
    assert statuses(await verify(r, no_subject, now=NOW)) == [("policy", "subject is not signed")]
    with_l = signed("rsa").replace(b"bh=", b"l=11; bh=")
    assert statuses(await verify(r, with_l, now=NOW)) == [("policy", "l= is not accepted")]


async def test_expired_signatures_are_permerrors(keys: DNSTestServer) -> None:
    msg = signed("ed", expiration=3600)
    assert b"x=1700003600;" in msg
    assert statuses(await verify(keys.resolver(), msg)) == [("pass", "")]
    assert statuses(await verify(keys.resolver(), msg, now=NOW + 3601)) == [("permerror", "signature expired")]


async def test_malformed_signatures_are_permerrors_and_the_rest_still_verify(keys: DNSTestServer) -> None:
    msg = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=x; b==\r\n" + signed("ed")
    res = await verify(keys.resolver(), msg, now=NOW)
    assert statuses(res) == [("permerror", "malformed signature: missing required tag bh="), ("pass", "")]
    assert (res[0].domain, res[0].selector) == ("example.test", "x")


async def test_it_verifies_big_messages_off_the_loop(keys: DNSTestServer) -> None:
    big = MSG + b"x" * 76 + b"\r\n" * 2000 + (b"y" * 76 + b"\r\n") * 1000
    res = await verify(keys.resolver(), signed("rsa", "ed", msg=big), now=NOW)
    assert statuses(res) == [("pass", ""), ("pass", "")]


async def test_it_never_crashes_on_broken_messages(keys: DNSTestServer) -> None:
    r = keys.resolver()
    assert await verify(r, b"\x00\xff not a header\r\n\r\n") == []
    sig = signed("rsa")
    broken = sig.replace(b"b=", b"b=\xff\xfe", 1)
    assert [x.status for x in await verify(r, broken, now=NOW)] == [DKIMStatus.permerror]


def test_signature_and_key_record_are_exact() -> None:
    """Ed25519 signatures are deterministic (RFC 8032), so the whole header is fixed."""
    header = sign(MSG, "example.test", [SigningKey("ed", ED25519)], now=NOW, expiration=72 * 3600)
    assert header == (
        b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.test;\r\n"
        b" s=ed; t=1700000000; x=1700259200; h=from:from:to:to:cc:bcc:reply-to:\r\n"
        b" references:in-reply-to:subject:subject:date:date:message-id:message-id:\r\n"
        b" content-type; bh=nTV3mKmjhe2y90ESLazu5JstjmvrNGxhVif18HMQBOs=;\r\n"
        b" b=0iPc3OYQD7f6Z1WnCAjRoGvAWRtEQ6zm05v1k8aoslEbUIDtVmwD3Tv7/SRA+NqxXZCeAiJw\r\n"
        b" CpaVPERbpC8YDw==\r\n"
    )
    assert dkimsign.dns_record(ED25519) == "v=DKIM1;k=ed25519;p=" + ED25519_PUBLIC


def test_rsa_txt_record_holds_the_public_key() -> None:
    record = dkimsign.dns_record(RSA_2048)
    assert record.startswith("v=DKIM1;h=sha256;k=rsa;p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
    assert len(record) == 25 + 392
    assert dkimsign.txt_strings(record) == [record[:255], record[255:]]
    assert dkimsign.key_algorithm(RSA_2048) == "rsa"
    assert dkimsign.key_algorithm(ED25519) == "ed25519"


def test_generated_keys_sign_and_parse() -> None:
    from mailcore.authn.dkim import parse_key_record

    for pem, kind, bits in ((dkimsign.generate_rsa_key(), "rsa", 2048), (dkimsign.generate_ed25519_key(), "ed25519", 256)):
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
        rec = parse_key_record(dkimsign.dns_record(pem))
        assert (rec.key_type, rec.bits) == (kind, bits)


def test_sign_refuses_bad_keys_and_messages_without_from() -> None:
    from mailcore.authn.errors import ParseError

    with pytest.raises(ParseError, match="not a PEM private key"):
        sign(MSG, "example.test", [SigningKey("x", b"garbage")])
    with pytest.raises(ParseError, match="no From header"):
        sign(b"Subject: x\r\n\r\nbody\r\n", "example.test", [SigningKey("ed", ED25519)])


ED25519_PUBLIC = base64.b64encode(
    load_pem_private_key(ED25519, None).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()


def _pkcs1(pem: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return load_pem_private_key(pem, None).private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())


def _ed_seed(pem: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = load_pem_private_key(pem, None).private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw)


def test_dkimpy_verifies_our_signatures(keys: DNSTestServer, dns_settings: DNSTestServer) -> None:
    """An independent verifier (dkimpy, with its own DNS lookups via dnspython's default
    resolver, which dns_settings points at the test server)."""
    import dkim

    msg = signed("rsa", "ed")
    d = dkim.DKIM(msg)
    assert (d.verify(idx=0), d.verify(idx=1)) == (True, True)
    simple = signed("rsa", "ed", relaxed_header=False, relaxed_body=False)
    d = dkim.DKIM(simple)
    assert (d.verify(idx=0), d.verify(idx=1)) == (True, True)


async def test_we_verify_dkimpys_signatures(keys: DNSTestServer) -> None:
    import dkim

    rsa_sig = dkim.sign(MSG, b"rsa", b"example.test", _pkcs1(RSA_2048), include_headers=[b"from", b"subject"])
    ed_sig = dkim.sign(
        MSG, b"ed", b"example.test", _ed_seed(ED25519), signature_algorithm=b"ed25519-sha256",
        canonicalize=(b"simple", b"simple"), include_headers=[b"from", b"to", b"subject"],
    )
    res = await verify(keys.resolver(), rsa_sig + ed_sig + MSG)
    assert statuses(res) == [("pass", ""), ("pass", "")]
    assert res[1].signature is not None and res[1].signature.canonicalization == "simple/simple"


RFC8463_MESSAGE = (
    b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    b" subject : date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    b" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    b"From: Joe SixPack <joe@football.example.com>\r\n"
    b"To: Suzie Q <suzie@shopping.example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    b"\r\n"
    b"Hi.\r\n"
    b"\r\n"
    b"We lost the game.  Are you hungry yet?\r\n"
    b"\r\n"
    b"Joe.\r\n"
)


async def test_rfc8463_appendix_a_ed25519_vector(dns_server: DNSTestServer) -> None:
    dns_server.add(
        "brisbane._domainkey.football.example.com", "TXT", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    )
    with time_machine.travel(1528637909 + 60):
        [res] = await verify(dns_server.resolver(), RFC8463_MESSAGE)
        assert (res.status, res.signature.identity, res.record.bits) == (DKIMStatus.pass_, "@football.example.com", 256)  # type: ignore[union-attr]
        [res] = await verify(dns_server.resolver(), RFC8463_MESSAGE.replace(b"hungry", b"angry"))
        assert (res.status, res.error) == (DKIMStatus.fail, "body hash mismatch")


async def test_sign_from_uses_the_from_domains_keys(keys: DNSTestServer) -> None:
    from mailcore.authn.dkimsign import sign_from

    by_domain = {"example.test": [SigningKey("ed", ED25519)]}
    header = sign_from(MSG, by_domain, now=NOW)
    assert header.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.test;\r\n s=ed;")
    assert statuses(await verify(keys.resolver(), header + MSG)) == [("pass", "")]
    other = MSG.replace(b"alice@example.test", b"alice@example.org")
    assert sign_from(other, by_domain) == b""


async def test_a_key_for_email_among_other_services_verifies(dns_server: DNSTestServer) -> None:
    """RFC 6376 3.6.1: s= is a colon list; dkimpy alone compares the whole value, so a
    key shared with TLS reports (s=email:tlsrpt) would fail every signature."""
    for sel, services in (("multi", "email:tlsrpt"), ("rpt", "tlsrpt:email"), ("star", "*")):
        dns_server.add(f"{sel}._domainkey.example.test", "TXT",
                       f"v=DKIM1; k=rsa; s={services}; p=" + dkimsign.dns_record(RSA_2048).split("p=")[1])
    msg = MSG
    for sel in ("multi", "rpt", "star"):
        msg = sign(msg, "example.test", [SigningKey(sel, RSA_2048)], now=NOW) + msg  # type: ignore[list-item]
    results = await verify(dns_server.resolver(), msg, now=NOW)
    assert statuses(results) == [("pass", ""), ("pass", ""), ("pass", "")]
    assert sorted(r.record.services for r in results) == [("*",), ("email", "tlsrpt"), ("tlsrpt", "email")]
