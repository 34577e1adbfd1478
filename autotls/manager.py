"""Which host names get certificates, renewing them before they expire, backing off
when the CA fails, and the status the admin console shows.

The scheduler calls `renew_due()` (hourly is plenty; at start-up too). It requests a
certificate for every managed name that has none or whose certificate expires within
MOX_ACME_RENEW_DAYS, except names still backing off after a failure. A failure never
touches the stored certificate: the old one keeps being served until replaced.
"""
from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings

from autotls import acmeclient, store

log = logging.getLogger("moxweb.autotls")

Clock = Callable[[], datetime.datetime]

# After the n-th consecutive failure for a name, wait BACKOFF_FIRST * 2**(n-1), at most
# BACKOFF_MAX. Let's Encrypt allows 5 failed validations per name and hour.
BACKOFF_FIRST = datetime.timedelta(minutes=5)
BACKOFF_MAX = datetime.timedelta(hours=24)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def acme_enabled() -> bool:
    return bool(settings.MOX_ACME_DIRECTORY.strip())


def managed_hostnames() -> list[str]:
    """The mail host name, MOX_ACME_HOSTNAMES, and mta-sts.<d> and autoconfig.<d> for
    every domain (the names clients and MTA-STS fetchers connect to with TLS)."""
    from accounts.models import Domain

    names = [settings.MOX_HOSTNAME, *settings.MOX_ACME_HOSTNAMES]
    for domain in Domain.objects.order_by("ascii").values_list("ascii", flat=True):
        names += [f"mta-sts.{domain}", f"autoconfig.{domain}"]
    out: list[str] = []
    for name in names:
        host = store.normalize_hostname(name)
        # A CA will not issue for a bare label such as "localhost".
        if host and "." in host and host not in out:
            out.append(host)
    return out


def backoff(failures: int) -> datetime.timedelta:
    return min(BACKOFF_FIRST * (2 ** max(failures - 1, 0)), BACKOFF_MAX)


def renew_before() -> datetime.timedelta:
    return datetime.timedelta(days=settings.MOX_ACME_RENEW_DAYS)


@dataclass
class RenewResult:
    obtained: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    backing_off: list[str] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)
    busy: bool = False  # another process held the issuing lock

    def summary(self) -> str:
        if self.busy:
            return "another process is issuing certificates"
        return (
            f"obtained={','.join(self.obtained) or '-'} failed={','.join(self.failed) or '-'} "
            f"backing_off={','.join(self.backing_off) or '-'} not_due={len(self.not_due)}"
        )


def renew_due(
    hostnames: Iterable[str] | None = None,
    *,
    clock: Clock = utcnow,
    config: acmeclient.ACMEConfig | None = None,
) -> RenewResult:
    """Obtain or renew every certificate that is missing or due. Synchronous and slow
    (network): call it from a thread or a django-q2 task."""
    result = RenewResult()
    config = config or acmeclient.config_from_settings()
    if config is None:
        return result
    hosts = list(hostnames) if hostnames is not None else managed_hostnames()
    with store.issuer_lock() as held:
        if not held:
            log.info("acme renewal skipped: another process is issuing")
            result.busy = True
            return result
        # Holding the lock, no order is in progress anywhere: challenge files left
        # here are from a run that crashed, and must not be served any longer.
        store.remove_challenge_files()
        session: acmeclient.Session | None = None
        session_error: BaseException | None = None  # the CA is unreachable: fail the rest fast
        try:
            for host in hosts:
                now = clock()
                cert = store.read_cert(host)
                if cert is not None and cert.not_after - renew_before() > now:
                    result.not_due.append(host)
                    continue
                state = store.load_state()
                entry = state.get(host, {})
                next_attempt = _parse_time(entry.get("next_attempt"))
                if next_attempt is not None and now < next_attempt:
                    result.backing_off.append(host)
                    continue
                reason = "no certificate yet" if cert is None else f"certificate expires {cert.not_after.isoformat()}"
                log.info("acme requesting certificate", extra={"host": host, "reason": reason, "ca": config.directory})
                try:
                    if session_error is not None:
                        raise session_error
                    if session is None:
                        try:
                            session = acmeclient.Session(config)
                        except Exception as exc:
                            session_error = exc
                            raise
                    stored = session.issue(host)
                except Exception as exc:  # noqa: BLE001 - any failure (CA, network, validation) backs off
                    _record_failure(host, exc, cert, now, result)
                    continue
                state = store.load_state()
                state.pop(host, None)
                store.save_state(state)
                result.obtained.append(host)
                log.info(
                    "acme certificate obtained",
                    extra={"host": host, "not_after": stored.not_after.isoformat(), "serial": f"{stored.serial:x}"},
                )
        finally:
            if session is not None:
                session.close()
    return result


def _record_failure(
    host: str, exc: BaseException, cert: store.StoredCert | None, now: datetime.datetime, result: RenewResult
) -> None:
    state = store.load_state()
    entry = state.get(host, {})
    failures = int(entry.get("failures", 0)) + 1
    retry_at = now + backoff(failures)
    reason = acmeclient.describe(exc)
    state[host] = {
        "failures": failures,
        "last_attempt": now.isoformat(),
        "next_attempt": retry_at.isoformat(),
        "last_error": reason,
    }
    store.save_state(state)
    result.failed[host] = reason
    serving = f"keeps serving the certificate valid until {cert.not_after.isoformat()}" if cert else "no certificate yet"
    log.error(
        "acme certificate request failed",
        extra={"host": host, "error": reason, "failures": failures, "retry_at": retry_at.isoformat(), "serving": serving},
    )


@dataclass(frozen=True)
class HostStatus:
    hostname: str
    state: str  # "valid", "renewal due", "missing", "backing off", "expired"
    not_after: datetime.datetime | None
    renew_at: datetime.datetime | None
    issuer: str
    failures: int
    last_error: str
    next_attempt: datetime.datetime | None


def status(hostnames: Iterable[str] | None = None, *, clock: Clock = utcnow) -> list[HostStatus]:
    """One line per managed name for the admin console."""
    now = clock()
    hosts = list(hostnames) if hostnames is not None else managed_hostnames()
    state = store.load_state()
    out = []
    for host in hosts:
        cert = store.read_cert(host)
        entry = state.get(host, {})
        next_attempt = _parse_time(entry.get("next_attempt"))
        renew_at = cert.not_after - renew_before() if cert else None
        if next_attempt is not None and now < next_attempt:
            label = "backing off"
        elif cert is None:
            label = "missing"
        elif cert.not_after <= now:
            label = "expired"
        elif renew_at is not None and renew_at <= now:
            label = "renewal due"
        else:
            label = "valid"
        out.append(
            HostStatus(
                hostname=host,
                state=label,
                not_after=cert.not_after if cert else None,
                renew_at=renew_at,
                issuer=cert.issuer if cert else "",
                failures=int(entry.get("failures", 0)),
                last_error=str(entry.get("last_error", "")),
                next_attempt=next_attempt,
            )
        )
    return out


def _parse_time(value: object) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
