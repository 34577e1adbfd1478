"""Reputation of an incoming message from the account's history (mox-v0.0.5 section
1.1.11, "reputation algorithm"; mox smtpserver/reputation.go).

Only earlier messages that were delivered to (or meant for) the same destination
mailbox (`Message.mailbox_orig`) and that carry $Junk or $NotJunk count, newest first.
The steps below run in order until one finds messages (or a sent-to recipient):

1. `msgfromfull`: same From address and same From validation, 3 years, at most 2.
2. `msgtofull`: the account sent mail to the From address (3 years): ham.
3. `msgfromdomain`/`msgtodomain`, then `msgfromorgdomain`/`msgtoorgdomain`: the From
   (organizational) domain, 2 years, at most 20.
4. `dkimspf`: verified DKIM domains, the SPF-verified MAIL FROM (address, then domain)
   or else the SPF-verified EHLO name; half a year, at most 50 each.
5. `ip1`/`ip2`/`ip3`: the remote network at 3 widths, a quarter year, at most 50,
   needing 2/5/10 messages to be conclusive.
6. `none`.

A synchronous function: called through the connection's `db()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.db.models import Q, QuerySet
from django.utils import timezone

from mailstore.models import Message, MessageDKIMDomain, Recipient

YEAR = timedelta(days=365)


class Method(StrEnum):
    msgfromfull = "msgfromfull"
    msgtofull = "msgtofull"
    msgfromdomain = "msgfromdomain"
    msgfromorgdomain = "msgfromorgdomain"
    msgtodomain = "msgtodomain"
    msgtoorgdomain = "msgtoorgdomain"
    dkimspf = "dkimspf"
    ip1 = "ip1"
    ip2 = "ip2"
    ip3 = "ip3"
    none = "none"


# Methods that do not know the sender itself: SPF failures and bad iprev still count.
WEAK_METHODS = (Method.dkimspf, Method.ip1, Method.ip2, Method.ip3, Method.none)


@dataclass(frozen=True)
class Facts:
    """What is known of the incoming message, as it would be stored (DeliveryInfo)."""

    msg_from_localpart: str = ""
    msg_from_domain: str = ""
    msg_from_orgdomain: str = ""
    msg_from_validated: bool = False
    mail_from_localpart: str = ""
    mail_from_domain: str = ""
    mail_from_validated: bool = False
    ehlo_domain: str = ""
    ehlo_validated: bool = False
    dkim_domains: tuple[str, ...] = ()
    remote_ip_masked: tuple[str, str, str] = ("", "", "")


@dataclass(frozen=True)
class Reputation:
    junk: bool | None  # None: no lean either way
    conclusive: bool
    method: Method
    queries: list[str] = field(default_factory=list, compare=False)


class _Query:
    def __init__(self, account_id: int, mailbox_id: int | None, now: datetime) -> None:
        self.account_id = account_id
        self.mailbox_id = mailbox_id
        self.now = now
        self.log: list[str] = []

    def messages(self, what: str, max_age: timedelta, limit: int, **match: object) -> list[tuple[bool, str]]:
        """(junk, From localpart) of the newest flagged messages that match; as mox's
        FilterNonzero, empty match values do not filter."""
        self.log.append(what)
        if self.mailbox_id is None:
            # The destination mailbox does not exist yet: no history in it.
            return []
        since = self.now - max_age
        filters = {k: v for k, v in match.items() if v not in ("", None)}
        if "dkim_domain" in filters:
            # Driven from the DKIM domain index, joined to the messages.
            signed = MessageDKIMDomain.objects.filter(
                domain=filters["dkim_domain"], mailbox_orig=self.mailbox_id, received__gte=since
            ).filter(Q(message__junk=True) | Q(message__notjunk=True))
            return list(signed.order_by("-received").values_list("message__junk", "message__msg_from_localpart")[:limit])
        qs: QuerySet[Message] = Message.objects.filter(
            mailbox_orig=self.mailbox_id, received__gte=since, **filters
        ).filter(Q(junk=True) | Q(notjunk=True))
        return list(qs.order_by("-received").values_list("junk", "msg_from_localpart")[:limit])

    def sent_to(self, what: str, max_age: timedelta, **match: str) -> bool:
        self.log.append(what)
        return Recipient.objects.filter(account_id=self.account_id, sent__gte=self.now - max_age, **match).exists()


def _latest_spam(msgs: list[tuple[bool, str]]) -> bool:
    """The newest is junk, and the one before too if there is one."""
    return msgs[0][0] and (len(msgs) == 1 or msgs[1][0])


def _spam_ratio(msgs: list[tuple[bool, str]]) -> float:
    return sum(1 for junk, _ in msgs if junk) / len(msgs)


def reputation(account_id: int, mailbox_id: int | None, m: Facts, now: datetime | None = None) -> Reputation:
    q = _Query(account_id, mailbox_id, now or timezone.now())
    result = _reputation(q, m)
    return Reputation(result.junk, result.conclusive, result.method, q.log)


def _reputation(q: _Query, m: Facts) -> Reputation:
    if m.msg_from_domain:
        found = _from_address(q, m)
        if found is not None:
            return found
        for org in (False, True):
            found = _from_domain(q, m, org)
            if found is not None:
                return found
    found = _dkim_spf(q, m)
    if found is not None:
        return found
    return _ip(q, m)


def _from_address(q: _Query, m: Facts) -> Reputation | None:
    full = {"msg_from_localpart": m.msg_from_localpart, "msg_from_domain": m.msg_from_domain}
    msgs = q.messages("msgfromfull", 3 * YEAR, 2, msg_from_validated=m.msg_from_validated, **full)
    if msgs:
        # Without validation any signal is inconclusive.
        return Reputation(_latest_spam(msgs), m.msg_from_validated, Method.msgfromfull)
    if not m.msg_from_validated:
        # Earlier mail from this address was validated and this is not: likely forged;
        # conclusive only when that address's mail was spam too.
        msgs = q.messages("msgfromfull-validated", 3 * YEAR, 2, msg_from_validated=True, **full)
        if msgs:
            return Reputation(True, _latest_spam(msgs), Method.msgfromfull)
    if q.sent_to("msgtofull", 3 * YEAR, localpart=m.msg_from_localpart, domain=m.msg_from_domain):
        return Reputation(False, True, Method.msgtofull)
    return None


def _from_domain(q: _Query, m: Facts, org: bool) -> Reputation | None:
    if org:
        match, method, descr = {"msg_from_orgdomain": m.msg_from_orgdomain}, Method.msgfromorgdomain, "msgfromorgdomain"
    else:
        match, method, descr = {"msg_from_domain": m.msg_from_domain}, Method.msgfromdomain, "msgfromdomain"
    msgs = q.messages(descr, 2 * YEAR, 20, msg_from_validated=m.msg_from_validated, **match)
    if msgs:
        nonjunk = sum(1 for junk, _ in msgs if not junk)
        if 100 * nonjunk // len(msgs) > 80:
            return Reputation(False, True, method)
        if nonjunk == 0:
            # Conclusive only with at least 3 different localparts.
            return Reputation(True, len({lp for _, lp in msgs}) >= 3, method)
        # Mixed signals from the domain: do not block a new sender.
        return Reputation(None, False, method)
    if not m.msg_from_validated:
        msgs = q.messages(descr + "-validated", 2 * YEAR, 2, msg_from_validated=True, **match)
        if msgs:
            return Reputation(True, _latest_spam(msgs), method)
    if org:
        sent = q.sent_to("msgtoorgdomain", 2 * YEAR, orgdomain=m.msg_from_orgdomain)
        method = Method.msgtoorgdomain
    else:
        sent = q.sent_to("msgtodomain", 2 * YEAR, domain=m.msg_from_domain)
        method = Method.msgtodomain
    if sent:
        return Reputation(False, True, method)
    return None


def _dkim_spf(q: _Query, m: Facts) -> Reputation | None:
    """Only identities that passed verification count (RFC 6376 section 6.1)."""
    signals: list[float] = []
    most = 0
    for domain in m.dkim_domains:
        msgs = q.messages("dkimdomain", YEAR / 2, 50, dkim_domain=domain)
        if msgs:
            signals.append(_spam_ratio(msgs))
            most = len(msgs)  # as mox: the last domain's count
    if m.mail_from_validated or m.ehlo_validated:
        msgs = []
        if m.mail_from_validated and m.mail_from_domain:
            msgs = q.messages("mailfrom", YEAR / 2, 50, mail_from_localpart=m.mail_from_localpart,
                              mail_from_domain=m.mail_from_domain)
            if not msgs:
                msgs = q.messages("mailfromdomain", YEAR / 2, 50, mail_from_domain=m.mail_from_domain)
        if not msgs and m.ehlo_validated and m.ehlo_domain:
            msgs = q.messages("ehlodomain", YEAR / 2, 50, ehlo_domain=m.ehlo_domain)
        if msgs:
            signals.append(_spam_ratio(msgs))
            most = max(most, len(msgs))
    if not signals:
        return None
    ham = sum(1 for p in signals if p < 0.1)
    spam = sum(1 for p in signals if p > 0.9)
    if ham and not spam:
        return Reputation(False, True, Method.dkimspf)
    if spam and not ham:
        return Reputation(True, most > 1, Method.dkimspf)
    return Reputation(None, False, Method.dkimspf)


def _ip(q: _Query, m: Facts) -> Reputation:
    """A wider network needs more messages to be conclusive, and a strong signal."""
    for i, (method, need) in enumerate(((Method.ip1, 2), (Method.ip2, 5), (Method.ip3, 10))):
        masked = m.remote_ip_masked[i]
        if not masked:
            continue
        msgs = q.messages(str(method), YEAR / 4, 50, **{f"remote_ip_masked{i + 1}": masked})
        if not msgs:
            continue
        ratio = _spam_ratio(msgs)
        junk = False if ratio < 0.25 else True if ratio > 0.75 else None
        conclusive = len(msgs) >= need and (ratio <= 0.1 or ratio >= 0.9)
        return Reputation(junk, conclusive, method)
    return Reputation(None, False, Method.none)
