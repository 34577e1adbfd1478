"""Pruning of the change log (`mailstore.models.Change`), which otherwise grows forever.

Each account keeps its newest `keep` rows; older ones are deleted. What readers of the
log lose, and how they cope (see docs/changes.md):

- A QRESYNC client (RFC 7162) whose known modseq is older than the oldest kept change
  cannot be told exactly which UIDs vanished since. RFC 7162 section 3.2.5.2 lets the
  server then report every UID of the client's known range that is not in the mailbox
  (`VANISHED (EARLIER)` may name UIDs the client never saw); `history_complete` tells
  the IMAP server which case it is in.
- An IMAP session that has not read the log for a long time rebuilds its view of the
  selected mailbox from the message rows instead of replaying changes.

Rows are deleted in small batches, each in its own transaction, so a large first prune
does not hold the database's write lock for long.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min

from mailstore.models import Change

log = logging.getLogger(__name__)

# Rows kept per account; MOX_CHANGE_LOG_KEEP overrides it. Never below 1: the oldest kept
# row is what tells how far back the log is complete.
DEFAULT_KEEP = 10_000
BATCH = 5_000


def keep_default() -> int:
    return max(1, int(getattr(settings, "MOX_CHANGE_LOG_KEEP", DEFAULT_KEEP)))


def history_complete(account_id: int, modseq: int) -> bool:
    """Whether every change of the account after `modseq` is still in the log.

    Pruned rows all have a modseq below the oldest kept one, so none of them is after
    `modseq` when `modseq` is at least one less than it. Read the changes first and call
    this after: a prune in between then errs on the safe side."""
    oldest = Change.objects.filter(account_id=account_id).aggregate(m=Min("modseq"))["m"]
    return oldest is None or modseq >= oldest - 1


def prune_account(account_id: int, keep: int | None = None) -> int:
    """Delete all but the newest `keep` change rows of an account; returns how many."""
    keep = max(1, keep if keep is not None else keep_default())
    cutoff = (
        Change.objects.filter(account_id=account_id).order_by("-modseq").values_list("modseq", flat=True)[keep - 1 : keep]
    )
    bound = next(iter(cutoff), None)
    if bound is None:
        return 0
    removed = 0
    while True:
        with transaction.atomic():
            ids = list(
                Change.objects.filter(account_id=account_id, modseq__lt=bound).order_by("modseq")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            removed += Change.objects.filter(pk__in=ids).delete()[0]
    if removed:
        log.info("change log pruned", extra={"account_id": account_id, "removed": removed, "below_modseq": bound})
    return removed


def prune_all(keep: int | None = None) -> int:
    """prune_account for every account with more than `keep` rows."""
    keep = max(1, keep if keep is not None else keep_default())
    accounts = (
        Change.objects.values("account_id").annotate(n=Count("pk")).filter(n__gt=keep).values_list("account_id", flat=True)
    )
    return sum(prune_account(account_id, keep) for account_id in list(accounts))
