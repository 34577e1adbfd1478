"""The Message columns IMAP answers from without the file: `search_body` and
`search_header` (mailcore/imap/searchtext.py) and `envelope` (FETCH ENVELOPE). `attach` runs at parse time, outside the transaction, with
the message's bytes; `columns` runs when the row is made, where the prefix is known (the
header fields we add at delivery are searched as part of the header)."""
from __future__ import annotations

from typing import Any

from mailcore.imap.render import stored_envelope
from mailcore.imap.searchtext import body_text, decoded_fields, fields_text, header_fields, header_text, storable


def attach(summary: Any, data: bytes, parsed: dict[str, Any], fields: list[tuple[str, bytes]]) -> None:
    """Keep the searchable body and the decoded header fields on the delivery's summary
    (decoded once, whatever the number of recipients). `fields`: the message's
    `headers.message_fields`."""
    try:
        summary.search_body = storable(body_text(data, parsed)) if parsed else None
        h = parsed.get("h") if parsed else None
        summary.search_fields = summary.search_block = None
        if h and data[:1] in (b" ", b"\t"):
            # A first line folded onto the prefix's last field: searched as the file is.
            summary.search_block = data[: h[1]]
        elif h:
            summary.search_fields = decoded_fields(fields)
        summary.envelope = stored_envelope(parsed) if parsed else None
    except Exception:  # noqa: BLE001 - a message we cannot index is searched from its file
        summary.search_body = None
        summary.search_fields = summary.search_block = None
        summary.envelope = None


def columns(prefix: bytes, summary: Any) -> dict[str, Any]:
    """The columns of one delivery of the message: its header searched after the
    prefix's fields (`header_text` of prefix and header together)."""
    fields = getattr(summary, "search_fields", None)
    block = getattr(summary, "search_block", None)
    if fields is not None:
        header = storable(fields_text(header_fields(bytes(prefix)) + fields))
    elif block is not None:
        header = storable(header_text(bytes(prefix) + block))
    else:
        header = None
    return {"search_body": getattr(summary, "search_body", None), "search_header": header,
            "envelope": getattr(summary, "envelope", None)}
