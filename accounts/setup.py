"""Operator verbs that combine several account actions (commands and quickstart use them)."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from accounts import actions, dkimkeys
from accounts.models import Account, Address, DKIMKey, Domain


@dataclass
class DomainSetup:
    domain: Domain
    keys: list[DKIMKey] = field(default_factory=list)
    account: Account | None = None
    address: Address | None = None
    account_created: bool = False


@transaction.atomic
def add_domain(
    name: str,
    account_name: str = "",
    localpart: str = "",
    *,
    catchall_separator: str = "",
    case_sensitive: bool = False,
    dkim: bool = True,
) -> DomainSetup:
    """Create a domain with DKIM keys; with an account name, also `localpart@domain` for
    it (localpart defaults to the account name), creating the account if it is new."""
    domain = actions.create_domain(name, catchall_separator=catchall_separator, case_sensitive=case_sensitive)
    setup = DomainSetup(domain)
    if dkim:
        setup.keys = dkimkeys.generate_domain_keys(domain)
    if account_name:
        address = f"{localpart or account_name}@{domain.name}"
        account = Account.objects.filter(name=account_name).first()
        if account is None:
            account = actions.create_account(account_name, address)
            setup.account_created = True
            setup.address = account.addresses.get()
        else:
            setup.address = actions.add_address(account, address)
        setup.account = account
    return setup
