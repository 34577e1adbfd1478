"""Delivery rulesets of an account (mox-v0.0.5 domains.conf `Destinations.<address>.Rulesets`),
stored as JSON in `Account.rulesets`: which mailbox incoming mail goes to, and which
mailing lists are let in on their SPF/DKIM domain alone.

The stored shape, a list, evaluated in order; the first ruleset whose rules all match
chooses the mailbox:

    [
      {
        "smtp_mail_from_regexp": "^.*@lists\\.example\\.org$",
        "verified_domain": "example.org",
        "headers_regexp": {"^list-id$": "<dev\\.lists\\.example\\.org>"},
        "list_allow_domain": "lists.example.org",
        "accept_rejects_to_mailbox": "Lists/Dev/Junk",
        "address": "dev@example.org",
        "mailbox": "Lists/Dev"
      }
    ]

- `mailbox` (required): a valid mailbox name, not empty; created at delivery if missing.
- `smtp_mail_from_regexp`: Python `re.search` over the envelope MAIL FROM address
  (`localpart@domain`, "" for the null sender).
- `verified_domain`: matches when the SPF-verified MAIL FROM or EHLO domain, or a
  verified DKIM signature's domain, is this domain or below it.
- `headers_regexp`: a map of header-name regexp to value regexp, both lower case; every
  pair must match some header of the message (name and trimmed, unfolded value are
  lower-cased before matching).
- `list_allow_domain`: not a condition. When this ruleset matched and the message's
  SPF-verified MAIL FROM domain or a passing DKIM signature domain equals it, the
  message is accepted without the spam checks (reason `list-allow`); meant for mailing
  lists, which break DMARC alignment.
- `is_forward` (mox IsForward, v0.0.6): not a condition. The ruleset matches mail a
  forwarder we trust delivers to us (it needs `smtp_mail_from_regexp` for the
  forwarder's envelope address and `verified_domain` for its domain; not together with
  `list_allow_domain`). Such mail is not rejected for failing DMARC (forwarding breaks
  SPF alignment), and the forwarder's signals (its IP, EHLO and MAIL FROM domains, and
  a DKIM signature of `verified_domain`) are neither used to judge it nor stored for
  judging later mail. The junk filter and the other checks still apply.
- `accept_rejects_to_mailbox` (mox AcceptRejectsToMailbox, v0.0.6): not a condition.
  Mail this ruleset matched that would be refused (junk, DMARC, reputation) is accepted
  with 250 into this mailbox instead, marked seen, with the automatic junk flags of
  that mailbox; meant for mailing lists, which may unsubscribe us after rejects. Not
  Inbox. It is not cleaned up automatically unless it is the Rejects mailbox.

- `address`: not a condition but a scope. mox keeps rulesets per destination
  (`Destinations.<address>.Rulesets`); here they are per account, and a ruleset with an
  address applies only to mail for that address of the account: the address (or the
  `@domain` catchall) the recipient was delivered to, as `localpart@domain` with the
  canonical localpart and the domain in ASCII. Without one it applies to all of them.

At least one of the three conditions must be given; unknown keys are errors.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import idna

from mailstore.actions import StoreError, check_mailbox_name

KEYS = {"smtp_mail_from_regexp", "verified_domain", "headers_regexp", "list_allow_domain", "is_forward",
        "accept_rejects_to_mailbox", "address", "mailbox"}


class RulesetError(ValueError):
    """A ruleset that cannot be stored, with a message for the user."""


@dataclass(frozen=True)
class Ruleset:
    mailbox: str
    smtp_mail_from_regexp: str = ""
    verified_domain: str = ""
    headers_regexp: dict[str, str] = field(default_factory=dict)
    list_allow_domain: str = ""
    is_forward: bool = False
    accept_rejects_to_mailbox: str = ""
    # The destination address it applies to ("" for all of the account's).
    address: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mailbox": self.mailbox}
        if self.smtp_mail_from_regexp:
            out["smtp_mail_from_regexp"] = self.smtp_mail_from_regexp
        if self.verified_domain:
            out["verified_domain"] = self.verified_domain
        if self.headers_regexp:
            out["headers_regexp"] = dict(self.headers_regexp)
        if self.list_allow_domain:
            out["list_allow_domain"] = self.list_allow_domain
        if self.is_forward:
            out["is_forward"] = True
        if self.accept_rejects_to_mailbox:
            out["accept_rejects_to_mailbox"] = self.accept_rejects_to_mailbox
        if self.address:
            out["address"] = self.address
        return out


@dataclass(frozen=True)
class MessageFacts:
    """What a ruleset looks at. Domains ASCII, lower case."""

    mail_from: str = ""
    mail_from_domain: str = ""
    mail_from_validated: bool = False
    ehlo_domain: str = ""
    ehlo_validated: bool = False
    dkim_domains: Sequence[str] = ()
    # (lower-case name, value) for each header field, in order.
    headers: Sequence[tuple[str, str]] = ()


def _domain(value: Any, what: str, index: int) -> str:
    if not isinstance(value, str):
        raise RulesetError(f"ruleset {index}: {what} must be a string")
    text = value.strip().rstrip(".").lower()
    if not text:
        return ""
    try:
        ascii_name = text if text.isascii() else idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise RulesetError(f"ruleset {index}: invalid {what} {value!r}: {exc}") from None
    labels = ascii_name.split(".")
    if any(not lab or len(lab) > 63 or not re.fullmatch(r"[a-z0-9_-]+", lab) for lab in labels):
        raise RulesetError(f"ruleset {index}: invalid {what} {value!r}")
    return ascii_name


def _address(value: Any, index: int) -> str:
    """`localpart@domain` or `@domain`, the domain in ASCII; "" for none."""
    if not isinstance(value, str):
        raise RulesetError(f"ruleset {index}: address must be a string")
    text = value.strip()
    if not text:
        return ""
    localpart, at, domain = text.rpartition("@")
    if not at or not domain.strip():
        raise RulesetError(f"ruleset {index}: invalid address {value!r}: write localpart@domain, or @domain")
    return f"{localpart}@{_domain(domain, 'address domain', index)}"


def _regexp(value: Any, what: str, index: int, *, lower: bool = False) -> str:
    if not isinstance(value, str):
        raise RulesetError(f"ruleset {index}: {what} must be a string")
    if lower and value.lower() != value:
        raise RulesetError(f"ruleset {index}: {what} {value!r} must only have lower case characters")
    try:
        re.compile(value)
    except re.error as exc:
        raise RulesetError(f"ruleset {index}: invalid {what} regular expression {value!r}: {exc}") from None
    return value


def parse_one(raw: Any, index: int = 1) -> Ruleset:
    if not isinstance(raw, dict):
        raise RulesetError(f"ruleset {index}: must be an object")
    unknown = set(raw) - KEYS
    if unknown:
        raise RulesetError(f"ruleset {index}: unknown keys {', '.join(sorted(unknown))}")
    mailbox = raw.get("mailbox", "")
    if not isinstance(mailbox, str) or not mailbox:
        raise RulesetError(f"ruleset {index}: mailbox is required")
    try:
        mailbox = check_mailbox_name(mailbox)
    except StoreError as exc:
        raise RulesetError(f"ruleset {index}: {exc}") from None
    mail_from = _regexp(raw.get("smtp_mail_from_regexp", ""), "smtp_mail_from_regexp", index)
    verified = _domain(raw.get("verified_domain", ""), "verified_domain", index)
    headers_raw = raw.get("headers_regexp", {}) or {}
    if not isinstance(headers_raw, dict):
        raise RulesetError(f"ruleset {index}: headers_regexp must be an object of regexp to regexp")
    headers = {
        _regexp(k, "header name", index, lower=True): _regexp(v, "header value", index, lower=True)
        for k, v in headers_raw.items()
    }
    if not mail_from and not verified and not headers:
        raise RulesetError(f"ruleset {index}: must have at least one rule")
    list_allow = _domain(raw.get("list_allow_domain", ""), "list_allow_domain", index)
    is_forward = raw.get("is_forward", False)
    if not isinstance(is_forward, bool):
        raise RulesetError(f"ruleset {index}: is_forward must be true or false")
    if is_forward and list_allow:
        raise RulesetError(f"ruleset {index}: cannot have both is_forward and list_allow_domain")
    if is_forward and not (mail_from and verified):
        raise RulesetError(f"ruleset {index}: is_forward needs smtp_mail_from_regexp and verified_domain too")
    accept_rejects = _accept_rejects_mailbox(raw.get("accept_rejects_to_mailbox", ""), index)
    return Ruleset(mailbox, mail_from, verified, headers, list_allow, is_forward, accept_rejects,
                   _address(raw.get("address", ""), index))


def _accept_rejects_mailbox(value: Any, index: int) -> str:
    """A mailbox name or ""; never Inbox (mox config check)."""
    if not isinstance(value, str):
        raise RulesetError(f"ruleset {index}: accept_rejects_to_mailbox must be a string")
    if not value.strip():
        return ""
    try:
        name = check_mailbox_name(value.strip())
    except StoreError as exc:
        raise RulesetError(f"ruleset {index}: accept_rejects_to_mailbox: {exc}") from None
    if name.lower() == "inbox":
        raise RulesetError(f"ruleset {index}: accept_rejects_to_mailbox cannot be Inbox")
    return name


def parse(raw: Any) -> list[Ruleset]:
    """Validate stored or submitted JSON; raises RulesetError naming the first problem."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise RulesetError("rulesets must be a list")
    return [parse_one(item, i + 1) for i, item in enumerate(raw)]


def normalize(raw: Any) -> list[dict[str, Any]]:
    """The JSON to store: validated, domains in ASCII, empty keys left out."""
    return [rs.to_json() for rs in parse(raw)]


def _under(name: str, domain: str) -> bool:
    return bool(name) and (name == domain or name.endswith("." + domain))


def matches(rs: Ruleset, m: MessageFacts) -> bool:
    if rs.smtp_mail_from_regexp and re.search(rs.smtp_mail_from_regexp, m.mail_from) is None:
        return False
    if rs.verified_domain:
        d = rs.verified_domain
        ok = (m.ehlo_validated and _under(m.ehlo_domain, d)) or (m.mail_from_validated and _under(m.mail_from_domain, d))
        ok = ok or any(_under(x, d) for x in m.dkim_domains)
        if not ok:
            return False
    for name_re, value_re in rs.headers_regexp.items():
        if not any(re.search(name_re, k) and re.search(value_re, v.strip().lower()) for k, v in m.headers):
            return False
    return True


def first_match(rulesets: Sequence[Ruleset], m: MessageFacts) -> Ruleset | None:
    return next((rs for rs in rulesets if matches(rs, m)), None)


def for_account(raw: Any) -> list[Ruleset]:
    """The stored rulesets at delivery; a stored invalid set (edited by hand) is
    skipped one ruleset at a time rather than failing delivery."""
    if not isinstance(raw, list):
        return []
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(parse_one(item, i + 1))
        except RulesetError:
            continue
    return out


def scoped(rulesets: Sequence[Ruleset]) -> bool:
    """Whether any of the rulesets applies to one address only."""
    return any(rs.address for rs in rulesets)


def for_destination(rulesets: Sequence[Ruleset], destination: str) -> list[Ruleset]:
    """The rulesets that apply to mail for this destination address (as
    destination_of gives it; "" matches only rulesets for all addresses)."""
    return [rs for rs in rulesets if not rs.address or (destination and rs.address == destination)]


def address_key(localpart: str, domain_ascii: str) -> str:
    """How a ruleset names an address of the account (`@domain` for the catchall)."""
    return f"{localpart}@{domain_ascii}"


def destination_of(account_id: int, localpart: str, domain_ascii: str, hostname: str) -> str:
    """The account's address that mail to localpart@domain is delivered through (mox
    FindAccount: canonical localpart, exact address, else the `@domain` catchall), as
    address_key gives it; "" when it reaches no address of this account (postmaster,
    localserve). Reads the database."""
    from accounts.actions import resolve_recipient

    dest = resolve_recipient(localpart, domain_ascii, hostname=hostname) if domain_ascii else None
    if dest is None or dest.address is None or dest.account.pk != account_id:
        return ""
    return address_key(dest.address.localpart, dest.address.domain.ascii)


def list_allowed(rs: Ruleset | None, m: MessageFacts, passing_dkim_domains: Sequence[str]) -> bool:
    """mox analyze step 1 for the matched ruleset."""
    if rs is None or not rs.list_allow_domain:
        return False
    d = rs.list_allow_domain
    return (m.mail_from_validated and m.mail_from_domain == d) or d in passing_dkim_domains

