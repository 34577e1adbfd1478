"""State changes for domains, accounts, addresses and credentials (one verb each)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import idna
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

from accounts.models import Account, Address, Credential, Domain
from mailcore.sasl.secrets import derive_secrets

log = logging.getLogger(__name__)


class AccountError(ValueError):
    """A request that cannot be carried out, with a message fit for the user."""


def domain_forms(name: str) -> tuple[str, str]:
    """(unicode, ascii) forms of a domain name, lower-cased, IDNA 2008 with UTS #46."""
    name = name.strip().rstrip(".")
    if not name:
        raise AccountError("empty domain name")
    try:
        ascii_form = idna.encode(name, uts46=True).decode("ascii").lower()
        unicode_form = idna.decode(ascii_form)
    except idna.IDNAError as exc:
        raise AccountError(f"invalid domain name {name!r}: {exc}") from exc
    return unicode_form, ascii_form


def find_domain(name: str) -> Domain | None:
    try:
        _, ascii_form = domain_forms(name)
    except AccountError:
        return None
    return Domain.objects.filter(ascii=ascii_form).first()


def canonical_localpart(domain: Domain, localpart: str) -> str:
    """Cut at the catchall separator and lower-case unless the domain is case-sensitive."""
    if domain.localpart_catchall_separator:
        localpart = localpart.split(domain.localpart_catchall_separator, 1)[0]
    if not domain.localpart_case_sensitive:
        localpart = localpart.lower()
    return localpart


def create_domain(name: str, *, catchall_separator: str = "", case_sensitive: bool = False) -> Domain:
    unicode_form, ascii_form = domain_forms(name)
    if Domain.objects.filter(ascii=ascii_form).exists():
        raise AccountError(f"domain {unicode_form} already exists")
    domain = Domain.objects.create(
        name=unicode_form,
        ascii=ascii_form,
        localpart_catchall_separator=catchall_separator,
        localpart_case_sensitive=case_sensitive,
    )
    log.info("domain created", extra={"domain": ascii_form})
    return domain


def _split_address(address: str) -> tuple[str, str]:
    localpart, at, domain = address.rpartition("@")
    if not at or not domain:
        raise AccountError(f"{address!r} is not an email address (localpart@domain)")
    return localpart, domain


@transaction.atomic
def create_account(name: str, address: str, password: str | None = None, *, mailbox: str = "Inbox") -> Account:
    """Create an account with its first address (the domain must exist) and mailboxes."""
    from mailstore.actions import ensure_store

    localpart, domain_name = _split_address(address)
    domain = find_domain(domain_name)
    if domain is None:
        raise AccountError(f"domain {domain_name} is not configured")
    if Account.objects.filter(name=name).exists():
        raise AccountError(f"account {name} already exists")
    account = Account.objects.create(
        name=name,
        domain=domain,
        junk_filter={
            "threshold": 0.95,
            "onegrams": True,
            "twograms": False,
            "threegrams": False,
            "max_power": 0.01,
            "top_words": 10,
            "ignore_words": 0.1,
            "rare_words": 2,
        },
        automatic_junk_flags={
            "enabled": True,
            "junk_mailbox_regexp": "^(junk|spam)",
            "neutral_mailbox_regexp": "^(inbox|neutral|postmaster|dmarc|tlsrpt|rejects)",
            "not_junk_mailbox_regexp": "",
        },
    )
    add_address(account, address, mailbox=mailbox)
    ensure_store(account)
    if password is not None:
        set_password(account, password)
    log.info("account created", extra={"account": name})
    return account


def add_address(account: Account, address: str, *, mailbox: str = "Inbox") -> Address:
    """Add `localpart@domain`, or `@domain` for the domain's catchall."""
    localpart, domain_name = _split_address(address)
    domain = find_domain(domain_name)
    if domain is None:
        raise AccountError(f"domain {domain_name} is not configured")
    if localpart:
        if domain.localpart_catchall_separator and domain.localpart_catchall_separator in localpart:
            raise AccountError(
                f"localpart {localpart!r} contains the domain's catchall separator "
                f"{domain.localpart_catchall_separator!r}"
            )
        if not domain.localpart_case_sensitive:
            localpart = localpart.lower()
    if Address.objects.filter(domain=domain, localpart=localpart).exists():
        raise AccountError(f"address {localpart}@{domain.name} already exists")
    return Address.objects.create(account=account, domain=domain, localpart=localpart, mailbox=mailbox)


def remove_address(address: Address) -> None:
    if address.account.addresses.count() <= 1:
        raise AccountError("an account needs at least one address")
    address.delete()


@transaction.atomic
def set_password(account: Account, password: str) -> None:
    """Derive and store every secret (web hash, SCRAM-SHA-1/256, CRAM-MD5) together."""
    if len(password) < 8:
        raise AccountError("password must be at least 8 characters")
    secrets = derive_secrets(password)
    Credential.objects.update_or_create(
        account=account,
        defaults={
            "password_hash": make_password(password),
            "scram_sha1_salt": secrets.scram_sha1.salt,
            "scram_sha1_iterations": secrets.scram_sha1.iterations,
            "scram_sha1_stored_key": secrets.scram_sha1.stored_key,
            "scram_sha1_server_key": secrets.scram_sha1.server_key,
            "scram_sha256_salt": secrets.scram_sha256.salt,
            "scram_sha256_iterations": secrets.scram_sha256.iterations,
            "scram_sha256_stored_key": secrets.scram_sha256.stored_key,
            "scram_sha256_server_key": secrets.scram_sha256.server_key,
            "cram_md5_ipad": secrets.cram_md5_ipad,
            "cram_md5_opad": secrets.cram_md5_opad,
        },
    )
    log.info("password changed", extra={"account": account.name})


def delete_account(account: Account) -> None:
    from mailstore.actions import remove_account_files

    name, account_id = account.name, account.pk  # delete() sets pk to None
    with transaction.atomic():
        account.delete()
    remove_account_files(account_id)
    log.info("account deleted", extra={"account": name})


@dataclass(frozen=True)
class Destination:
    account: Account
    mailbox: str
    address: Address | None


def account_for_login(username: str) -> Account | None:
    """Accounts log in with an email address (the catchall separator suffix allowed)."""
    localpart, at, domain_name = username.rpartition("@")
    if not at:
        return None
    dest = resolve_recipient(localpart, domain_name, allow_postmaster=False, allow_catchall=False)
    return dest.account if dest else None


def authenticate(username: str, password: str) -> Account | None:
    """Check a password with Django's hasher. Slow by design (argon2): call off the event loop."""
    account = account_for_login(username)
    if account is None:
        # Same cost whether or not the user exists.
        check_password(password, make_password(None))
        return None
    cred = Credential.objects.filter(account=account).first()
    if cred is None or not check_password(password, cred.password_hash):
        return None
    return account


def resolve_recipient(
    localpart: str,
    domain_name: str,
    *,
    allow_postmaster: bool = True,
    allow_catchall: bool = True,
    hostname: str | None = None,
) -> Destination | None:
    """Find the account for a recipient (mox FindAccount): postmaster at the hostname or
    without domain, exact address after canonicalisation, the `@domain` catchall, then
    postmaster at any domain without its own postmaster address."""
    from django.conf import settings

    hostname = hostname or settings.MOX_HOSTNAME
    is_postmaster = localpart.lower() == "postmaster"
    if allow_postmaster and is_postmaster:
        if not domain_name or domain_forms_safe(domain_name) == domain_forms_safe(hostname):
            return postmaster_destination()
    domain = find_domain(domain_name) if domain_name else None
    if domain is None:
        return None
    canonical = canonical_localpart(domain, localpart)
    if canonical == "" and localpart != "":
        return None  # only a separator and a tag: no such address
    address = Address.objects.select_related("account").filter(domain=domain, localpart=canonical).first()
    if address is not None and canonical != "":
        return Destination(address.account, address.mailbox, address)
    if allow_catchall:
        catchall = Address.objects.select_related("account").filter(domain=domain, localpart="").first()
        if catchall is not None:
            return Destination(catchall.account, catchall.mailbox, catchall)
    if allow_postmaster and is_postmaster:
        return postmaster_destination()
    return None


def domain_forms_safe(name: str) -> str:
    try:
        return domain_forms(name)[1]
    except AccountError:
        return name.lower()


def postmaster_destination() -> Destination | None:
    from django.conf import settings

    account = Account.objects.filter(name=settings.MOX_POSTMASTER_ACCOUNT).first()
    if account is None:
        account = Account.objects.order_by("id").first()
    if account is None:
        return None
    return Destination(account, settings.MOX_POSTMASTER_MAILBOX, None)
