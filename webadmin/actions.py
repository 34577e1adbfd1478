"""State changes that belong to the admin console itself."""
from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from accounts.actions import AccountError
from accounts.models import Account, Address, Domain
from mailqueue.models import Route, Transport

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"
MIN_PASSWORD_LENGTH = 8  # as mox's setadminpassword


class AdminPasswordError(ValueError):
    pass


@transaction.atomic
def set_admin_password(password: str) -> AbstractBaseUser:
    """Create or update the "admin" user (staff and superuser) with this password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminPasswordError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=ADMIN_USERNAME)
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    log.info("admin password set")
    return user


class ConsoleError(ValueError):
    """A console request that cannot be carried out, with a message fit for the admin."""


def add_domain(name: str, catchall_separator: str = "") -> Domain:
    """A domain with its DKIM keys, as `manage.py adddomain` and quickstart make it."""
    from accounts.setup import add_domain as setup_add_domain

    try:
        return setup_add_domain(name, catchall_separator=catchall_separator).domain
    except AccountError as exc:
        raise ConsoleError(str(exc)) from exc


@transaction.atomic
def remove_domain(domain: Domain) -> None:
    """Remove a domain with its DKIM keys and routes; refused while accounts use it (as
    mox refuses to remove a domain that accounts still have addresses in)."""
    accounts = sorted(
        set(Account.objects.filter(domain=domain).values_list("name", flat=True))
        | set(Address.objects.filter(domain=domain).values_list("account__name", flat=True))
    )
    if accounts:
        shown = ", ".join(accounts[:10]) + (f" and {len(accounts) - 10} more" if len(accounts) > 10 else "")
        raise ConsoleError(
            f"domain {domain.name} is still used by account{'s' if len(accounts) > 1 else ''} {shown}: "
            "remove their addresses in it (or the accounts) first"
        )
    domain.delete()
    log.info("domain removed", extra={"domain": domain.ascii})


def set_account_limits(account: Account, **limits: object) -> Account:
    """Outgoing limits, quota and first-time-sender delay (mox SetAccountLimits)."""
    fields = ["max_outgoing_messages_per_day", "max_first_time_recipients_per_day", "quota_bytes", "first_time_sender_delay"]
    for name in fields:
        if name in limits:
            setattr(account, name, limits[name])
    account.save(update_fields=[f for f in fields if f in limits])
    log.info("account limits set", extra={"account": account.name, **{k: limits[k] for k in fields if k in limits}})
    return account


def save_route(route: Route) -> Route:
    route.full_clean()
    route.save()
    log.info("route saved", extra={"route": route.pk, "transport": route.transport.name})
    return route


def delete_route(route: Route) -> None:
    pk = route.pk
    route.delete()
    log.info("route deleted", extra={"route": pk})


def save_transport(transport: Transport) -> Transport:
    transport.full_clean()
    transport.save()
    log.info("transport saved", extra={"transport": transport.name})
    return transport


def delete_transport(transport: Transport) -> None:
    """Refused while a route uses it (a message naming it would fail permanently)."""
    n = Route.objects.filter(transport=transport).count()
    if n:
        raise ConsoleError(f"transport {transport.name} is used by {n} route{'s' if n > 1 else ''}: change or delete {'them' if n > 1 else 'it'} first")
    transport.delete()
    log.info("transport deleted", extra={"transport": transport.name})
