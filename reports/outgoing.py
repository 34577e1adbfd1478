"""What our DMARC and TLS reports share on their way out: the addresses of `mailto:`
report URIs, and queueing a report message, DKIM-signed, with a null reverse path."""
from __future__ import annotations

import re
import urllib.parse

_SIZE = re.compile(r"^(\d+)([kmgt]?)$", re.I)


def parse_rua(uri: str) -> tuple[str, int | None] | None:
    """(address, size limit in bytes) of a mailto: URI with an optional !size
    (RFC 7489 section 6.2); None for other schemes or an unusable address."""
    if not uri.lower().startswith("mailto:"):
        return None
    target, bang, size = uri[len("mailto:"):].partition("!")
    address = urllib.parse.unquote(target.split("?", 1)[0]).strip()
    if "@" not in address:
        return None
    limit = None
    if bang:
        m = _SIZE.match(size.strip())
        if m is None:
            return None
        limit = int(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower())
    return address, limit


def queue_report(data: bytes, message_id: str, addresses: list[str]) -> list[int]:
    """Queue a report message to `addresses` from <>, signed with the DKIM keys of its
    From domain when it is ours; returns the queued ids."""
    from mailqueue.actions import QueueRecipient, enqueue
    from mailstore import files
    from smtpserver.store import dkim_signature

    tmp = files.write_temp(data)
    try:
        signature = dkim_signature(b"", tmp)
        recipients = [QueueRecipient(*addr.rsplit("@", 1)) for addr in addresses]
        return [q.pk for q in enqueue(None, "", "", recipients, tmp, prefix=signature, message_id=message_id)]
    finally:
        tmp.unlink(missing_ok=True)
