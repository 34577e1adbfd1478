"""IMAP MULTIAPPEND (RFC 3502): the messages of one APPEND command are stored all
together or not at all.

Each message goes through `actions.append` (automatic junk flags, training, the change
log), all inside one transaction: a failure at any message (quota, a mailbox deleted
meanwhile, a full disk) rolls back every row, and the files already placed for the
earlier messages are removed. Files are fsynced before the commit as for one APPEND, so
what is acknowledged survives a crash; a crash before the commit leaves only files no
row points to, which no client sees.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import transaction

from accounts.models import Account
from mailstore import actions, files
from mailstore.models import Message


@dataclass
class AppendItem:
    source: Path
    flags: set[str] = field(default_factory=set)
    keywords: list[str] = field(default_factory=list)
    received: datetime | None = None


def append_all(account: Account, mailbox_name: str, items: list[AppendItem]) -> list[Message]:
    """Append every item to the mailbox in one transaction (RFC 3502 section 6.3.11:
    "all or none"). Raises what `actions.append` raises, having stored nothing."""
    stored: list[Message] = []
    try:
        with transaction.atomic():
            for item in items:
                stored.append(actions.append(
                    account, mailbox_name, item.source, flags=item.flags, keywords=item.keywords,
                    received=item.received,
                ))
    except BaseException:
        files.remove_files([m.path for m in stored])
        raise
    return stored
