"""Finding an account the way an operator names it: by account name or by an address."""
from __future__ import annotations

from accounts.actions import AccountError, account_for_login
from accounts.models import Account


def find_account(name: str) -> Account:
    """The account called `name`, else the account that `name` (an address) logs in as."""
    account = Account.objects.filter(name=name).first()
    if account is None and "@" in name:
        account = account_for_login(name)
    if account is None:
        raise AccountError(f"no account {name!r} (give an account name or one of its addresses)")
    return account
