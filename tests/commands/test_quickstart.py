from __future__ import annotations

import base64
import re
from datetime import date

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model

from accounts.actions import authenticate
from accounts.models import Account, DKIMKey, Domain
from tests.commands.helpers import fails, run
from tests.commands.procs import child_env, manage

OFFLINE = "127.0.0.1:9"  # nothing answers DNS here: every network check times out


def start(settings, *extra: str) -> list[str]:
    settings.MOX_DNS_RESOLVER = OFFLINE
    return run("quickstart", "You@example.org", "--hostname", "mail.example.org", "--dns-timeout", "0.1", *extra)


def test_it_creates_domain_account_keys_and_admin(db, settings):
    lines = start(settings)
    domain = Domain.objects.get()
    assert (domain.name, domain.localpart_catchall_separator) == ("example.org", "+")
    account = Account.objects.get()
    assert account.name == "you"
    assert sorted(str(a) for a in account.addresses.all()) == [
        "dmarc-reports@example.org", "tls-reports@example.org", "you@example.org",
    ]
    assert dict(account.addresses.values_list("localpart", "mailbox")) == {
        "dmarc-reports": "DMARC", "tls-reports": "TLSRPT", "you": "Inbox",
    }
    password = re.fullmatch(r"account you created: login You@example\.org, password (\S+)", lines[1]).group(1)
    assert authenticate("you@example.org", password) == account
    admin_password = re.fullmatch(r"admin login: admin, password (\S+)", lines[3]).group(1)
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(admin_password) and admin.is_superuser and admin.is_staff
    year = date.today().year
    keys = list(DKIMKey.objects.order_by("selector").values_list("selector", "algorithm", "sign"))
    assert keys == [
        (f"{year}a", "ed25519", True), (f"{year}b", "rsa", True),
        (f"{year}c", "ed25519", False), (f"{year}d", "rsa", False),
    ]
    assert lines[0] == f"domain example.org created with DKIM selectors {year}a, {year}b, {year}c, {year}d"


def printed_records(lines: list[str]) -> dict[str, list[str]]:
    """Zone-file lines of the output: owner name -> record data."""
    records: dict[str, list[str]] = {}
    for line in lines:
        m = re.fullmatch(r"(\S+\.) IN (\S+) (.*)", line)
        if m:
            records.setdefault(m.group(1), []).append(f"{m.group(2)} {m.group(3)}")
    return records


def test_it_prints_the_dns_records(db, settings):
    lines = start(settings)
    records = printed_records(lines)
    assert "$TTL 300" in lines
    assert "; mail.example.org. 300 IN A <public IPv4 address>" in lines or any(
        line.startswith("mail.example.org. 300 IN A ") for line in lines
    )
    assert records["mail.example.org."] == ['TXT "v=spf1 a -all"']
    assert records["example.org."][:2] == ["MX 10 mail.example.org.", 'TXT "v=spf1 mx ~all"']
    assert records["_dmarc.example.org."] == ['TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.org!10m"']
    assert records["mta-sts.example.org."] == ["CNAME mail.example.org."]
    assert re.fullmatch(r'TXT "v=STSv1; id=\S+"', records["_mta-sts.example.org."][0])
    assert records["_smtp._tls.example.org."] == ['TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.org"']
    assert records["_imaps._tcp.example.org."] == ["SRV 0 1 993 mail.example.org."]
    assert records["_submissions._tcp.example.org."] == ["SRV 0 1 465 mail.example.org."]
    year = date.today().year
    assert sorted(name for name in records if "._domainkey." in name) == [
        f"{year}{c}._domainkey.example.org." for c in "abcd"
    ]


def dkim_records(lines: list[str]) -> dict[bytes, bytes]:
    """The printed DKIM TXT records as dkimpy's dnsfunc wants them (strings joined)."""
    out = {}
    for name, values in printed_records(lines).items():
        if "._domainkey." in name:
            strings = re.findall(r'"([^"]*)"', values[0])
            assert all(len(part) <= 255 for part in strings)
            out[name.encode()] = "".join(strings).encode()
    return out


def test_its_printed_dkim_records_verify_signatures_made_with_its_keys(db, settings):
    records = dkim_records(start(settings))
    message = b"From: you@example.org\r\nTo: x@remote.test\r\nSubject: hi\r\n\r\nbody\r\n"
    for key in DKIMKey.objects.filter(sign=True):
        private = serialization.load_pem_private_key(key.private_key_pem.encode(), None)
        if key.algorithm == "rsa":
            secret = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption())
            algorithm = b"rsa-sha256"
        else:
            secret = base64.b64encode(private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                            serialization.NoEncryption()))
            algorithm = b"ed25519-sha256"
        signature = dkim.sign(message, key.selector.encode(), b"example.org", secret, signature_algorithm=algorithm,
                              include_headers=[b"from", b"subject"])
        assert dkim.verify(signature + message, dnsfunc=lambda name, timeout=5: records.get(name)), key.selector


def test_it_configures_acme_without_an_existing_webserver(db, settings):
    start(settings)
    env = (settings.DATA_DIR / "moxweb.env").read_text().splitlines()
    assert "MOX_ACME_DIRECTORY=letsencrypt" in env
    assert "MOX_ACME_EMAIL=You@example.org" in env
    assert not any(line.startswith("MOX_HTTP_PORT") for line in env)


def test_it_writes_settings_and_a_systemd_unit_that_stops_cleanly(db, settings):
    lines = start(settings, "--existing-webserver")
    env = (settings.DATA_DIR / "moxweb.env").read_text().splitlines()
    assert f"MOX_DATA_DIR={settings.DATA_DIR}" in env
    assert "MOX_HOSTNAME=mail.example.org" in env
    assert "MOX_POSTMASTER_ACCOUNT=you" in env
    assert "MOX_HTTP_PORT=1080" in env and "MOX_HTTPS_PORT=0" in env
    assert not any(line.startswith("MOX_ACME_DIRECTORY") for line in env)
    unit = (settings.DATA_DIR / "moxweb.service").read_text().splitlines()
    assert "KillMode=mixed" in unit
    assert "TimeoutStopSec=15s" in unit
    assert f"EnvironmentFile={settings.DATA_DIR / 'moxweb.env'}" in unit
    assert any(line.startswith("ExecStart=") and line.endswith("manage.py runmail") for line in unit)
    assert lines[-len(unit):] == unit
    assert f"Configuration: {settings.DATA_DIR / 'moxweb.env'}" in lines


def test_it_turns_unreachable_dns_into_warnings(db, settings):
    lines = start(settings)
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert warnings[-1] == "warning: could not look up mail.example.org (DNS unreachable?): LifetimeTimeout"


def test_it_refuses_an_existing_installation_and_bad_addresses(alice, settings):
    settings.MOX_DNS_RESOLVER = OFFLINE
    assert fails("quickstart", "you@example.org") == (
        "quickstart sets up a new installation, but the database already has domains (example.test); "
        "add more with adddomain and addaccount"
    )
    assert fails("quickstart", "nobody") == "'nobody' is not an email address (you@example.com)"
    assert Domain.objects.count() == 1


@pytest.mark.slow
def test_it_sets_up_a_scratch_data_directory_that_passes_configtest(tmp_path):
    env = child_env(MOX_DATA_DIR=str(tmp_path / "data"), DATABASE_URL="", MOX_DNS_RESOLVER=OFFLINE)
    proc = manage("quickstart", "you@example.org", "--hostname", "mail.example.org", "--dns-timeout", "0.1", env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "example.org. IN MX 10 mail.example.org." in proc.stdout.decode().splitlines()
    proc = manage("configtest", env=env)
    out = proc.stdout.decode().splitlines()
    assert proc.returncode == 0, out
    assert "ok: 1 accounts have credentials and addresses" in out
    assert "ok: TLS certificates come from ACME (letsencrypt)" not in out  # the env file is not loaded here
    assert out[-1] == "configuration ok"


def test_its_printed_zone_served_by_a_dns_server_verifies_its_dkim_signatures(db, settings, dns_server):
    import asyncio

    from mailcore.authn import dkim as dkimverify
    from mailcore.authn.dkimsign import SigningKey, sign

    dns_server.add("mail.example.org", "A", "192.0.2.10")
    settings.MOX_DNS_RESOLVER = dns_server.address
    lines = run("quickstart", "you@example.org", "--hostname", "mail.example.org", "--dns-timeout", "1")
    assert not [line for line in lines if line.startswith("warning: could not look up")]
    zone = "\n".join(line for line in lines if line.startswith("$TTL") or re.match(r"\S+\. IN ", line))
    dns_server.add_zone(zone + "\n")
    message = b"From: you@example.org\r\nTo: x@remote.test\r\nSubject: hi\r\n\r\nbody\r\n"
    keys = [SigningKey(k.selector, k.private_key_pem.encode()) for k in DKIMKey.objects.filter(sign=True)]
    signed = sign(message, "example.org", keys) + message
    results = asyncio.run(dkimverify.verify(dns_server.resolver(), signed))
    assert [str(r.status) for r in results] == ["pass", "pass"]


def test_it_changes_nothing_when_it_cannot_write_its_files(db, settings):
    settings.MOX_DNS_RESOLVER = OFFLINE
    (settings.DATA_DIR / "moxweb.env").mkdir()
    message = fails("quickstart", "you@example.org", "--hostname", "mail.example.org", "--dns-timeout", "0.1")
    assert message == f"cannot write {settings.DATA_DIR / 'moxweb.env'}: Is a directory"
    assert (Domain.objects.count(), Account.objects.count(), DKIMKey.objects.count()) == (0, 0, 0)
