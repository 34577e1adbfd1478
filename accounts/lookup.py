"""Finding an account the way an operator names it: by account name or by an address."""
from __future__ import annotations

from accounts.actions import AccountError, account_for_login
from accounts.models import Account, Address


def find_account(name: str) -> Account:
    """The account called `name`, else the account that `name` (an address) logs in as."""
    account = Account.objects.filter(name=name).first()
    if account is None and "@" in name:
        account = account_for_login(name)
    if account is None:
        raise AccountError(f"no account {name!r} (give an account name or one of its addresses)")
    return account


def find_address(text: str) -> Address:
    """The configured address `localpart@domain` (or `@domain`, the catchall), with the
    domain's case rule applied to the localpart, as deliveries match it."""
    from accounts.actions import find_domain

    localpart, at, domain_name = text.rpartition("@")
    if not at or not domain_name:
        raise AccountError(f"{text!r} is not an email address (localpart@domain, or @domain for the catchall)")
    domain = find_domain(domain_name)
    if domain is None:
        raise AccountError(f"domain {domain_name} is not configured")
    if not domain.localpart_case_sensitive:
        localpart = localpart.lower()
    address = Address.objects.select_related("account", "domain").filter(domain=domain, localpart=localpart).first()
    if address is None:
        raise AccountError(f"no address {text} is configured")
    return address
