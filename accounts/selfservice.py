"""State changes an account holder makes on the account pages: delivery rulesets and
junk filter settings. Validation of rulesets is mailstore.rulesets' (the same code
delivery uses), so what the page saves is what delivery applies."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from typing import Any

from django.db import transaction

from accounts.models import Account
from mailcore.junk import Params
from mailstore import rulesets

log = logging.getLogger(__name__)


class SelfServiceError(ValueError):
    """A change that cannot be made, with a message for the account holder."""


def rulesets_version(raw: Any) -> str:
    """A short digest of the stored rulesets: a page sends back the version it showed,
    so an edit made meanwhile in another window is not silently overwritten (mox
    DestinationSave compares the old value too)."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]


@transaction.atomic
def save_rulesets(account: Account, new: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """Store `new` (validated and normalised) if the stored rulesets are still at `version`."""
    current = Account.objects.select_for_update().only("rulesets").get(pk=account.pk).rulesets
    if rulesets_version(current) != version:
        raise SelfServiceError("the rulesets were changed meanwhile (in another window?): reload the page and try again")
    try:
        normalized = rulesets.normalize(new)
    except rulesets.RulesetError as exc:
        raise SelfServiceError(str(exc)) from None
    Account.objects.filter(pk=account.pk).update(rulesets=normalized)
    account.rulesets = normalized
    log.info("rulesets saved", extra={"account": account.name, "count": len(normalized)})
    return normalized


def set_junk_settings(account: Account, params: Params | None, automatic_flags: dict[str, Any], *,
                      keep_rejects: bool) -> None:
    """The junk filter's parameters (None turns it off, as mox without a JunkFilter
    block), the automatic $Junk/$NotJunk flags by destination mailbox, and whether
    the Rejects mailbox is kept as it is (mox KeepRejects)."""
    account.junk_filter = {} if params is None else asdict(params)
    account.automatic_junk_flags = automatic_flags
    account.keep_rejects = keep_rejects
    account.save(update_fields=["junk_filter", "automatic_junk_flags", "keep_rejects"])
    log.info("junk filter settings saved", extra={"account": account.name, "enabled": params is not None})
