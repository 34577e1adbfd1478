"""Refused incoming mail for the recent deliveries page: messages the SMTP server
answered with a refusal after DATA (DMARC or SPF policy, reputation, the junk
filter...) and kept in the recipient's Rejects mailbox (mox keeps rejects 14 days, at
most 1000 an account). Such a copy has the mailbox it was meant for in
`mailbox_destined` and the reason in the first line of its prefix (X-Mox-Reason).
# todo: refusals at RCPT TO (unknown address, rate limits) and rejects not kept (the
# Rejects mailbox turned off, a duplicate) are only in the log.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from mailstore.models import Mailbox, Message

REASON_HEADER = b"X-Mox-Reason:"

# Refused: a copy kept in the account's Rejects mailbox. A message with a destined
# mailbox elsewhere was accepted (250) into a ruleset's AcceptRejectsToMailbox.
REFUSED = Q(mailbox_destined__isnull=False) & Q(
    Exists(Mailbox.objects.filter(pk=OuterRef("mailbox_orig"), name=OuterRef("account__rejects_mailbox")))
)


@dataclass(frozen=True)
class Refusal:
    message: Message
    reason: str
    meant_for: str  # the mailbox the message was meant for


def reason_of(prefix: bytes) -> str:
    first = prefix.split(b"\r\n", 1)[0]
    if not first.startswith(REASON_HEADER):
        return ""
    return first[len(REASON_HEADER):].strip().decode("ascii", "replace")


def recent_refusals(limit: int) -> list[Refusal]:
    rows = list(
        Message.objects.filter(REFUSED)
        .exclude(remote_ip="")
        .select_related("account")
        .only("received", "mail_from", "rcpt_to", "remote_ip", "ehlo_domain", "validations", "size", "prefix",
              "mailbox_destined", "account__name", "account")
        .order_by("-received", "-id")[:limit]
    )
    names = dict(Mailbox.objects.filter(pk__in={m.mailbox_destined for m in rows}).values_list("pk", "name"))
    return [Refusal(m, reason_of(bytes(m.prefix)), names.get(m.mailbox_destined or 0, "")) for m in rows]
