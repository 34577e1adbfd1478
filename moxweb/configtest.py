"""configtest: validate the whole configuration, as `mox config test`, and say what is wrong.

Runs the system checks, then what they cannot see: the database answers and is migrated,
the data directory takes a durable write, the TLS files load as a pair and are current,
every account can log in (has credentials) and has an address, DKIM keys load.
"""
from __future__ import annotations

import os
import shutil
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor


@dataclass
class Findings:
    ok: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def config_test() -> Findings:
    f = Findings()
    _system_checks(f)
    _hostname(f)
    _data_dir(f)
    _tls(f)
    _redis(f)
    if _database(f):
        _accounts(f)
        _dkim(f)
        _postmaster(f)
    return f


def _system_checks(f: Findings) -> None:
    messages = checks.run_checks()
    for m in messages:
        text = f"{m.id}: {m.msg}" + (f" ({m.hint})" if m.hint else "")
        (f.errors if m.is_serious() else f.warnings).append(text)
    if not any(m.is_serious() for m in messages):
        f.ok.append("system checks passed")


def _hostname(f: Findings) -> None:
    host = settings.MOX_HOSTNAME
    if not settings.MOX_LOCALSERVE and (host == "localhost" or "." not in host):
        f.warnings.append(f"MOX_HOSTNAME={host} is not a public host name: other mail servers greet and reject it")


def _redis(f: Findings) -> None:
    url = settings.MOX_REDIS_URL
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        f.errors.append(f"Redis at {url} cannot be reached: {exc}")
        return
    finally:
        client.close()
    f.ok.append(f"Redis at {url} answers")


def _data_dir(f: Findings) -> None:
    data_dir = Path(settings.DATA_DIR)
    probe = data_dir / "tmp" / f"configtest-{os.getpid()}"
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as fh:
            fh.write(b"configtest\n")
            fh.flush()
            os.fsync(fh.fileno())
        probe.unlink()
    except OSError as exc:
        f.errors.append(f"data directory {data_dir} is not writable: {exc.strerror or exc}")
        return
    f.ok.append(f"data directory {data_dir} is writable")
    free = shutil.disk_usage(data_dir).free
    if free < 1024**3:
        f.warnings.append(f"only {free // 1024**2} MB free in {data_dir}")


def _tls(f: Findings) -> None:
    cert, key = settings.MOX_TLS_CERT, settings.MOX_TLS_KEY
    if not cert and not key:
        acme = getattr(settings, "MOX_ACME_DIRECTORY", "")
        if acme:
            f.ok.append(f"TLS certificates come from ACME ({acme})")
            return
        f.warnings.append("no TLS certificate (MOX_TLS_CERT/MOX_TLS_KEY): IMAPS, submissions and HTTPS stay off")
        return
    if not cert or not key:
        return  # moxweb.E005 from the system checks says it
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        f.errors.append(f"TLS certificate {cert} and key {key} do not load: {exc}")
        return
    from cryptography import x509

    try:
        with open(cert, "rb") as fh:
            leaf = x509.load_pem_x509_certificates(fh.read())[0]
    except (OSError, ValueError) as exc:
        f.errors.append(f"TLS certificate {cert} cannot be parsed: {exc}")
        return
    now = datetime.now(UTC)
    if leaf.not_valid_after_utc < now:
        f.errors.append(f"TLS certificate {cert} expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
        return
    if leaf.not_valid_after_utc < now + timedelta(days=14):
        f.warnings.append(f"TLS certificate {cert} expires on {leaf.not_valid_after_utc:%Y-%m-%d}")
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        names = []
    if settings.MOX_HOSTNAME.lower() not in [n.lower() for n in names]:
        f.warnings.append(f"TLS certificate {cert} does not name the hostname {settings.MOX_HOSTNAME}")
    f.ok.append(f"TLS certificate {cert} loads, valid until {leaf.not_valid_after_utc:%Y-%m-%d}")


def _database(f: Findings) -> bool:
    where = f"{connection.vendor} {connection.settings_dict['NAME']}"
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        f.errors.append(f"database {where} cannot be reached: {str(exc).strip()}")
        return False
    if plan:
        f.errors.append(f"database {where} lacks {len(plan)} migrations: run manage.py migrate")
        return False
    f.ok.append(f"database {where} is reachable and migrated")
    return True


def _accounts(f: Findings) -> None:
    from accounts.models import Account

    accounts = list(Account.objects.prefetch_related("addresses").select_related("credential").order_by("name"))
    if not accounts:
        f.warnings.append("no accounts: create one with addaccount (or quickstart)")
        return
    bad = 0
    for account in accounts:
        if not hasattr(account, "credential"):
            f.errors.append(f"account {account.name} has no password: manage.py setaccountpassword {account.name}")
            bad += 1
        if not account.addresses.all():
            f.errors.append(f"account {account.name} has no address: manage.py addaddress ADDRESS {account.name}")
            bad += 1
    if not bad:
        f.ok.append(f"{len(accounts)} accounts have credentials and addresses")


def _dkim(f: Findings) -> None:
    from cryptography.hazmat.primitives import serialization

    from accounts.models import DKIMKey, Domain

    for domain in Domain.objects.order_by("name"):
        keys = list(DKIMKey.objects.filter(domain=domain))
        if not any(k.sign for k in keys):
            f.warnings.append(f"domain {domain.name} has no DKIM key to sign with: its mail may be rejected")
        for key in keys:
            try:
                serialization.load_pem_private_key(key.private_key_pem.encode("ascii"), password=None)
            except (ValueError, TypeError) as exc:
                f.errors.append(f"DKIM key {key} does not load: {exc}")


def _postmaster(f: Findings) -> None:
    from accounts.models import Account

    name = settings.MOX_POSTMASTER_ACCOUNT
    if name and not Account.objects.filter(name=name).exists():
        f.errors.append(f"MOX_POSTMASTER_ACCOUNT={name} names no account")
