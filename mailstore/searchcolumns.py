"""The Message columns IMAP answers from without the file: `search_body` and
`search_header` (mailcore/imap/searchtext.py) and `envelope` (FETCH ENVELOPE). `attach` runs at parse time, outside the transaction, with
the message's bytes; `columns` runs when the row is made, where the prefix is known (the
header fields we add at delivery are searched as part of the header)."""
from __future__ import annotations

from typing import Any

from mailcore.imap.render import stored_envelope
from mailcore.imap.searchtext import body_text, header_text, storable


def attach(summary: Any, data: bytes, parsed: dict[str, Any]) -> None:
    """Keep the searchable body and the raw header block on the delivery's summary."""
    try:
        summary.search_body = storable(body_text(data, parsed)) if parsed else None
        h = parsed.get("h") if parsed else None
        summary.search_block = data[: h[1]] if h else None
        summary.envelope = stored_envelope(parsed) if parsed else None
    except Exception:  # noqa: BLE001 - a message we cannot index is searched from its file
        summary.search_body = None
        summary.search_block = None
        summary.envelope = None


def columns(prefix: bytes, summary: Any) -> dict[str, Any]:
    block = getattr(summary, "search_block", None)
    header = storable(header_text(bytes(prefix) + block)) if block is not None else None
    return {"search_body": getattr(summary, "search_body", None), "search_header": header,
            "envelope": getattr(summary, "envelope", None)}
