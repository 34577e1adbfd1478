"""quickstart: a new installation for one domain and account, as `mox quickstart`.

Creates the domain (catchall separator "+") with DKIM keys, the account with a generated
password and the DMARC/TLS reporting addresses, the admin login, the configuration file
(`moxweb.env` in the data directory: settings are environment variables) and a systemd
unit; returns the DNS records to create and what to do next. Checks that need the network
(public IPs, the hostname in DNS, reverse DNS, block lists) only ever become warnings.
"""
from __future__ import annotations

import ipaddress
import os
import pwd
import secrets
import socket
import string
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dns.exception
import dns.resolver
import dns.reversename
from django.conf import settings
from django.db import connection, transaction

from accounts import actions
from accounts.models import Account, DKIMKey, Domain
from accounts.setup import add_domain

TTL = 300
# Lists that mox's quickstart checks the public IPs in.
DNSBL_ZONES = ("sbl.spamhaus.org", "bl.spamcop.net")
ADMIN_USERNAME = "admin"


class QuickstartError(Exception):
    """quickstart cannot proceed; nothing was changed."""


@dataclass
class Quickstart:
    address: str
    account: Account
    domain: Domain
    hostname: str
    password: str
    admin_password: str
    records: list[str]
    env_file: Path
    unit_file: Path
    unit: str
    existing_webserver: bool
    warnings: list[str] = field(default_factory=list)
    public_ips: list[str] = field(default_factory=list)


def generate_password(length: int = 16) -> str:
    """Letters and digits without look-alikes, easy to type on a phone."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
    return "".join(secrets.choice(alphabet) for _ in range(length))


def quickstart(
    address: str, hostname: str = "", existing_webserver: bool = False, *, dns_timeout: float = 3.0
) -> Quickstart:
    localpart, at, domain_name = address.rpartition("@")
    if not at or not localpart or not domain_name:
        raise QuickstartError(f"{address!r} is not an email address (you@example.com)")
    try:
        _, ascii_domain = actions.domain_forms(domain_name)
    except actions.AccountError as exc:
        raise QuickstartError(str(exc)) from exc
    warnings: list[str] = []
    hostname = _hostname(hostname, ascii_domain, warnings)
    _migrate()
    existing = list(Domain.objects.values_list("name", flat=True)[:5])
    if existing:
        raise QuickstartError(
            f"quickstart sets up a new installation, but the database already has domains "
            f"({', '.join(existing)}); add more with adddomain and addaccount"
        )
    public_ips = _network_checks(hostname, warnings, dns_timeout)
    password = generate_password()
    admin_password = generate_password()
    env_file = Path(settings.DATA_DIR) / "moxweb.env"
    unit_file = Path(settings.DATA_DIR) / "moxweb.service"
    unit = systemd_unit(env_file)
    # The files are written inside the transaction: if one cannot be, nothing was created.
    with transaction.atomic():
        setup = add_domain(domain_name, localpart.lower(), localpart, catchall_separator="+")
        account = setup.account
        assert account is not None
        actions.set_password(account, password)
        actions.add_address(account, f"dmarc-reports@{domain_name}", mailbox="DMARC")
        actions.add_address(account, f"tls-reports@{domain_name}", mailbox="TLSRPT")
        _set_admin_password(admin_password)
        try:
            env_file.write_text(env_text(hostname, account.name, existing_webserver, f"{localpart}@{ascii_domain}"))
            env_file.chmod(0o600)
            unit_file.write_text(unit)
        except OSError as exc:
            raise QuickstartError(f"cannot write {exc.filename}: {exc.strerror}") from exc
    return Quickstart(
        address=f"{localpart}@{setup.domain.name}",
        account=account,
        domain=setup.domain,
        hostname=hostname,
        password=password,
        admin_password=admin_password,
        records=domain_records(setup.domain, hostname, public_ips),
        env_file=env_file,
        unit_file=unit_file,
        unit=unit,
        existing_webserver=existing_webserver,
        warnings=warnings,
        public_ips=public_ips,
    )


def _hostname(hostname: str, domain: str, warnings: list[str]) -> str:
    if hostname:
        try:
            return actions.domain_forms(hostname)[1]
        except actions.AccountError as exc:
            raise QuickstartError(f"invalid --hostname: {exc}") from exc
    fqdn = socket.getfqdn().lower().rstrip(".")
    if "." in fqdn and not fqdn.startswith("localhost"):
        return fqdn
    warnings.append(f"this machine's name {fqdn!r} is not a full host name: using mail.{domain} (set it with --hostname)")
    return f"mail.{domain}"


def _migrate() -> None:
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=0)


def _set_admin_password(password: str) -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    admin, _ = user_model.objects.get_or_create(username=ADMIN_USERNAME)
    admin.is_staff = admin.is_superuser = True
    admin.set_password(password)
    admin.save()


# --- checks that need the network ----------------------------------------------------------


def _resolver(timeout: float) -> dns.resolver.Resolver:
    if settings.MOX_DNS_RESOLVER:
        host, _, port = settings.MOX_DNS_RESOLVER.rpartition(":")
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host.strip("[]")]
        resolver.port = int(port)
    else:
        resolver = dns.resolver.Resolver()
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def local_public_ips() -> list[str]:
    """Addresses this machine uses towards the internet (no packet is sent)."""
    ips = []
    for family, target in ((socket.AF_INET, "8.8.8.8"), (socket.AF_INET6, "2001:4860:4860::8888")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((target, 53))
                ips.append(sock.getsockname()[0])
        except OSError:
            continue
    return ips


def _network_checks(hostname: str, warnings: list[str], timeout: float) -> list[str]:
    """Warnings, never errors: quickstart must work offline and behind NAT."""
    try:
        resolver = _resolver(timeout)
    except dns.resolver.NoResolverConfiguration:
        warnings.append("no DNS resolver configured: skipped the DNS checks")
        return []
    ips = local_public_ips()
    public = [ip for ip in ips if ipaddress.ip_address(ip).is_global]
    if not ips:
        warnings.append("no route to the internet (offline?): skipped the checks of public IPs, reverse DNS and block lists")
    elif not public:
        warnings.append(
            f"this machine's addresses ({', '.join(ips)}) are not public (behind NAT?): forward ports 25, 465, "
            "587, 993 and 443 to it, and use the public address in the DNS records"
        )
    # The hostname must resolve to us, and not to a loopback address (mox warns the same).
    try:
        answers = []
        for rdtype in ("A", "AAAA"):
            try:
                answers += [r.to_text() for r in resolver.resolve(hostname, rdtype)]
            except dns.resolver.NoAnswer:
                pass
        if any(ipaddress.ip_address(a).is_loopback for a in answers):
            warnings.append(f"{hostname} resolves to a loopback address: other mail servers cannot reach it")
        elif public and not set(public) & set(answers):
            warnings.append(f"{hostname} resolves to {', '.join(answers) or 'nothing'}, not to this machine ({', '.join(public)})")
    except dns.resolver.NXDOMAIN:
        warnings.append(f"{hostname} does not resolve yet: create its A/AAAA records")
    except (dns.exception.DNSException, OSError) as exc:
        warnings.append(f"could not look up {hostname} (DNS unreachable?): {exc.__class__.__name__}")
        return public
    for ip in public:
        try:
            names = [r.to_text().rstrip(".").lower() for r in resolver.resolve(dns.reversename.from_address(ip), "PTR")]
            if names != [hostname]:
                warnings.append(f"reverse DNS of {ip} is {', '.join(names)}, should be {hostname} only")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            warnings.append(f"{ip} has no reverse DNS: ask your provider to set its PTR record to {hostname}")
        except (dns.exception.DNSException, OSError) as exc:
            warnings.append(f"could not check the reverse DNS of {ip}: {exc.__class__.__name__}")
        if ipaddress.ip_address(ip).version != 4:
            continue
        reversed_ip = ".".join(reversed(ip.split(".")))
        for zone in DNSBL_ZONES:
            try:
                resolver.resolve(f"{reversed_ip}.{zone}", "A")
                warnings.append(f"{ip} is listed in the block list {zone}: mail from it will be rejected")
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                pass
            except (dns.exception.DNSException, OSError) as exc:
                warnings.append(f"could not check block list {zone} for {ip}: {exc.__class__.__name__}")
    return public


# --- what to print and write ---------------------------------------------------------------


def domain_records(domain: Domain, hostname: str, public_ips: list[str] | None = None) -> list[str]:
    """The DNS records to create, in zone-file syntax: the host's addresses, then the
    admin console's records for the domain (webadmin.dnsrecords, the same that dnscheck
    checks) for `hostname`, which need not be configured yet."""
    from django.test.utils import override_settings

    from webadmin.dnsrecords import domain_records as admin_records
    from webadmin.dnsrecords import zone_text

    h = hostname
    v4 = [ip for ip in public_ips or [] if ipaddress.ip_address(ip).version == 4]
    v6 = [ip for ip in public_ips or [] if ipaddress.ip_address(ip).version == 6]
    lines = [
        f"; DNS records for {domain.ascii}: create them at your DNS provider.",
        "",
        f"; The mail host name {h} resolves to this machine's public addresses, and their",
        f"; reverse DNS (PTR, set by your provider) is {h}.",
    ]
    if v4 or v6:
        lines += [f"{h}. {TTL} IN A {ip}" for ip in v4] + [f"{h}. {TTL} IN AAAA {ip}" for ip in v6]
    else:
        lines.append(f"; {h}. {TTL} IN A <public IPv4 address>")
    with override_settings(MOX_HOSTNAME=hostname):
        lines += ["", *zone_text(admin_records(domain)).rstrip("\n").splitlines()]
    return lines


def env_text(hostname: str, postmaster: str, existing_webserver: bool, contact: str) -> str:
    lines = [
        f"# moxweb settings written by quickstart on {datetime.now(UTC):%Y-%m-%d}; see docs/configuration.md.",
        f"MOX_DATA_DIR={settings.DATA_DIR}",
        f"MOX_HOSTNAME={hostname}",
        f"MOX_POSTMASTER_ACCOUNT={postmaster}",
        "MOX_POSTMASTER_MAILBOX=Postmaster",
    ]
    url = os.environ.get("DATABASE_URL", "")
    if url:
        lines.append(f"DATABASE_URL={url}")
    if existing_webserver:
        lines += [
            "# An existing web server keeps ports 80/443: it proxies the account and admin pages,",
            "# /.well-known/ (autoconfig, MTA-STS) to http://127.0.0.1:1080 and holds the certificates.",
            "MOX_HTTP_PORT=1080",
            "MOX_HTTPS_PORT=0",
            "# Its certificate for the mail host name serves SMTP STARTTLS, IMAPS and submissions too:",
            "# MOX_TLS_CERT=/etc/letsencrypt/live/HOSTNAME/fullchain.pem",
            "# MOX_TLS_KEY=/etc/letsencrypt/live/HOSTNAME/privkey.pem",
        ]
    else:
        lines += [
            "# Certificates for the host name and mta-sts./autoconfig. of each domain from Let's Encrypt",
            "# (ACME answered on ports 80 and 443), kept in MOX_DATA_DIR/tls/acme/:",
            "MOX_ACME_DIRECTORY=letsencrypt",
            f"MOX_ACME_EMAIL={contact}",
        ]
    return "\n".join(lines) + "\n"


def service_user() -> str:
    owner = Path(settings.DATA_DIR).stat().st_uid
    if owner == 0:
        return "moxweb"
    try:
        return pwd.getpwuid(owner).pw_name
    except KeyError:
        return str(owner)


def systemd_unit(env_file: Path) -> str:
    base = Path(settings.BASE_DIR)
    return f"""[Unit]
Description=moxweb mail server
After=network-online.target postgresql.service redis-server.service
Wants=network-online.target

[Service]
Type=simple
User={service_user()}
WorkingDirectory={base}
EnvironmentFile={env_file}
ExecStart={sys.executable} {base / 'manage.py'} runmail
Restart=always
RestartSec=5s
# runmail stops its django-q2 worker itself: SIGTERM goes to runmail only (a SIGTERM to
# the whole process group deadlocks django-q2); whatever is left is killed after 15 s.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=15s
# Ports 25, 465, 587, 993, 443 and 80 without running as root.
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=true
ProtectSystem=full
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
"""


def report_lines(q: Quickstart) -> list[str]:
    """What quickstart prints, in order."""
    d = q.domain.ascii
    h = q.hostname
    lines = [
        f"domain {q.domain.name} created with DKIM selectors "
        + ", ".join(k.selector for k in DKIMKey.objects.filter(domain=q.domain).order_by("selector")),
        f"account {q.account.name} created: login {q.address}, password {q.password}",
        f"  (DMARC and TLS reports for {d} arrive in its DMARC and TLSRPT mailboxes)",
        f"admin login: {ADMIN_USERNAME}, password {q.admin_password}",
        "",
        "Write these passwords down; they are not stored and not shown again.",
        "",
        "Email client settings:",
        f"  IMAP        {h} port 993, TLS, username {q.address}",
        f"  submission  {h} port 465, TLS (or 587 with STARTTLS), username {q.address}",
        "",
    ]
    if q.warnings:
        lines += [f"warning: {w}" for w in q.warnings] + [""]
    lines += q.records + [""]
    lines += [
        f"Configuration: {q.env_file}",
        f"Start it by hand: set -a; . {q.env_file}; set +a; {sys.executable} {Path(settings.BASE_DIR) / 'manage.py'} runmail",
        f"Or install the systemd unit {q.unit_file}:",
        f"  cp {q.unit_file} /etc/systemd/system/moxweb.service",
        "  systemctl daemon-reload && systemctl enable --now moxweb",
    ]
    if service_user() == "moxweb":
        lines.append(f"  (first: useradd --system moxweb && chown -R moxweb: {settings.DATA_DIR})")
    if q.existing_webserver:
        lines.append(
            "Web pages: proxy https://" + h + "/ (and /.well-known/ of mta-sts." + d + " and autoconfig." + d
            + ") to http://127.0.0.1:1080"
        )
    else:
        lines.append(f"Web pages: https://{h}/account/ for accounts, https://{h}/admin/ for the admin")
    lines += ["", "Check the configuration with: manage.py configtest", "", *q.unit.rstrip("\n").splitlines()]
    return lines
