"""The MIME structure of a stored message, computed once at delivery (RFC 2045/2046).

`parse_structure(data)` returns a JSON-able tree with byte offsets into `data`, so IMAP
FETCH can answer BODYSTRUCTURE, ENVELOPE and BODY[section] by slicing the stored file
without parsing again. It never raises: broken MIME yields a best-effort tree (a part
whose boundaries cannot be found is treated as a single leaf, as Dovecot does).

Node keys: `h` [start, end) of the header section (with its empty line), `b` [start,
end) of the body, `t`/`s` media type and subtype (upper-case), `p` parameters as
[[NAME, value]], `id`, `desc`, `enc`, `md5`, `disp` [TYPE, params] or None, `lang`,
`loc`, `lines` (text and message/rfc822), `parts` (multipart children), `msg` (the
message/rfc822 child), `env` (the envelope of a message node, RFC 9051 section 7.5.2).
"""
from __future__ import annotations

from typing import Any

from mailcore.message.addresses import address_pairs
from mailcore.message.headers import field_value, header_end, message_fields, split_fields

# 2: parameter values keep the white space inside their quotes. 3: ENVELOPE groups.
VERSION = 3
MAX_DEPTH = 20
MAX_PARTS = 10000


def _split_params(value: str) -> tuple[str, list[list[str]]]:
    """`type; a=b; c="d;e"` into ("type", [["A", "b"], ["C", "d;e"]]): quoted strings
    unquoted (RFC 2045 section 5.1), keeping the spaces inside the quotes."""
    items: list[list[tuple[str, bool]]] = []
    current: list[tuple[str, bool]] = []
    quoted = False
    escaped = False
    for ch in value:
        if escaped:
            current.append((ch, True))
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            items.append(current)
            current = []
        else:
            current.append((ch, quoted))
    items.append(current)
    head = "".join(c for c, _ in items[0]).strip()
    params: list[list[str]] = []
    for item in items[1:]:
        eq = next((i for i, (c, q) in enumerate(item) if c == "=" and not q), -1)
        name = "".join(c for c, _ in item[:eq]).strip() if eq >= 0 else ""
        if not name:
            continue
        chars = item[eq + 1 :]
        # Unquoted white space around the value is not part of it.
        while chars and not chars[0][1] and chars[0][0] in " \t\r\n":
            chars = chars[1:]
        while chars and not chars[-1][1] and chars[-1][0] in " \t\r\n":
            chars = chars[:-1]
        params.append([name.upper(), "".join(c for c, _ in chars)])
    return head, params


def _strip_comments(value: str) -> str:
    out: list[str] = []
    depth = 0
    for ch in value:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out).strip()


def _top_level(value: str) -> list[tuple[str, str]]:
    """An address-list split at its top-level ":" and ";" (RFC 5322 section 3.4 group
    syntax) into ("text", chunk) and ("group", display-name) / ("end", "") markers;
    quoted strings, comments and angle brackets are skipped over."""
    if ":" not in value:
        return [("text", value)]  # no group can start: the whole value, as the walk gives it
    return _walk_top_level(value)


def _walk_top_level(value: str) -> list[tuple[str, str]]:
    """`_top_level`, character by character."""
    out: list[tuple[str, str]] = []
    current: list[str] = []
    quoted = escaped = False
    depth = angle = 0
    in_group = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth:
            pass
        elif ch == "<":
            angle += 1
        elif ch == ">" and angle:
            angle -= 1
        elif ch == ":" and not angle and not in_group:
            # The display name is what follows the last top-level comma.
            text = "".join(current)
            head, comma, name = text.rpartition(",")
            if head.strip():
                out.append(("text", head))
            out.append(("group", name.strip()))
            current, in_group = [], True
            continue
        elif ch == ";" and not angle and in_group:
            out.append(("text", "".join(current)))
            out.append(("end", ""))
            current, in_group = [], False
            continue
        current.append(ch)
    out.append(("text", "".join(current)))
    if in_group:
        out.append(("end", ""))
    return out


def _mailboxes(text: str) -> list[list[str | None]]:
    out: list[list[str | None]] = []
    try:
        pairs = address_pairs(text)
    except Exception:  # noqa: BLE001 - malformed headers must not stop delivery
        pairs = []
    for name, addr in pairs:
        if not addr and not name:
            continue
        local, at, host = addr.rpartition("@")
        if not at:
            local, host = addr, ""
        # RFC 9051 section 7.5.2: a NIL host marks group syntax, so an address without
        # a domain gets a placeholder host, as Dovecot gives it.
        out.append([name or None, None, local or None, host or "MISSING_DOMAIN"])
    return out


def _addresses(values: list[str]) -> list[list[str | None]] | None:
    """ENVELOPE address lists, with RFC 9051 section 7.5.2 group markers: (NIL NIL
    "name" NIL) before a group's members and (NIL NIL NIL NIL) after them."""
    if not values or not any(v.strip() for v in values):
        return None
    out: list[list[str | None]] = []
    for value in values:
        for kind, text in _top_level(value):
            if kind == "group":
                out.append([None, None, text or None, None])
            elif kind == "end":
                out.append([None, None, None, None])
            else:
                out.extend(_mailboxes(text))
    return out or None


_ENVELOPE_FIELDS = frozenset(("date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to",
                              "message-id"))


def envelope(fields: list[tuple[str, bytes]]) -> list[Any]:
    """RFC 9051 section 7.5.2 ENVELOPE fields from raw header fields (values unfolded,
    encoded-words left as they are)."""
    by_name: dict[str, list[str]] = {}
    for name, raw in fields:
        lname = name.lower()
        if lname in _ENVELOPE_FIELDS:
            by_name.setdefault(lname, []).append(field_value(raw))

    def first(name: str) -> str | None:
        vals = by_name.get(name)
        return vals[0] if vals else None

    from_ = _addresses(by_name.get("from", []))
    sender = _addresses(by_name.get("sender", [])) or from_
    reply_to = _addresses(by_name.get("reply-to", [])) or from_
    return [
        first("date"), first("subject"), from_, sender, reply_to,
        _addresses(by_name.get("to", [])), _addresses(by_name.get("cc", [])),
        _addresses(by_name.get("bcc", [])), first("in-reply-to"), first("message-id"),
    ]


def _find_boundaries(data: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]] | None:
    """Body ranges of the parts between `--boundary` lines (RFC 2046 section 5.1.1).
    The line end before a delimiter belongs to the delimiter."""
    delim = b"--" + boundary
    parts: list[tuple[int, int]] = []
    part_start: int | None = None
    pos = start
    while pos < end:
        if data.startswith(delim, pos) and (pos == start or data[pos - 1] == 0x0A):
            line_end = data.find(b"\n", pos, end)
            line_end = end if line_end < 0 else line_end + 1
            rest = data[pos + len(delim) : line_end].rstrip(b"\r\n")
            closing = rest.startswith(b"--")
            if closing or not rest.strip(b" \t"):
                if part_start is not None:
                    cut = pos
                    if cut > part_start and data[cut - 1] == 0x0A:
                        cut -= 1
                        if cut > part_start and data[cut - 1] == 0x0D:
                            cut -= 1
                    parts.append((part_start, cut))
                if closing:
                    return parts
                part_start = line_end
                if len(parts) >= MAX_PARTS:
                    return parts
                pos = line_end
                continue
        nl = data.find(b"\n", pos, end)
        if nl < 0:
            break
        pos = nl + 1
    if part_start is not None:
        # No closing delimiter: the last part runs to the end (lenient, like most servers).
        parts.append((part_start, end))
    return parts or None


def _parse_part(data: bytes, start: int, end: int, depth: int, default_type: tuple[str, str],
                fields: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
    """A part's node; `fields`: its header's `split_fields`, when the caller has them."""
    hend = min(header_end(data, start), end)
    if fields is None:
        # A part without a header: the body starts right away (RFC 2046 5.1: empty header).
        fields = split_fields(data[start:hend])
    node: dict[str, Any] = {"h": [start, hend], "b": [hend, end]}
    values: dict[str, str] = {}
    for name, raw in fields:
        lname = name.lower()
        if lname.startswith("content-") and lname not in values:
            values[lname] = field_value(raw)

    media, params = "", []
    if "content-type" in values:
        media, params = _split_params(_strip_comments(values["content-type"]) if "(" in values["content-type"]
                                      else values["content-type"])
    mtype, slash, subtype = media.partition("/")
    mtype, subtype = mtype.strip().upper(), subtype.strip().upper()
    if not slash or not mtype or not subtype or not mtype.isascii() or " " in mtype + subtype:
        # RFC 2045 section 5.2: missing or invalid Content-Type is text/plain; charset=us-ascii.
        mtype, subtype = default_type
        if default_type == ("TEXT", "PLAIN"):
            params = [["CHARSET", "us-ascii"]]
    node["t"], node["s"], node["p"] = mtype, subtype, params
    node["id"] = values.get("content-id")
    node["desc"] = values.get("content-description")
    enc = values.get("content-transfer-encoding")
    node["enc"] = _strip_comments(enc).upper() if enc else None
    node["md5"] = values.get("content-md5")
    disp = values.get("content-disposition")
    if disp:
        dtype, dparams = _split_params(disp)
        node["disp"] = [dtype.upper(), dparams] if dtype else None
    else:
        node["disp"] = None
    lang = values.get("content-language")
    node["lang"] = [x.strip() for x in lang.split(",") if x.strip()] if lang else None
    node["loc"] = values.get("content-location")

    body = data[hend:end]
    if mtype == "MULTIPART" and depth < MAX_DEPTH:
        boundary = next((v for k, v in params if k == "BOUNDARY"), None)
        ranges = None
        if boundary:
            b = boundary.strip().strip('"').encode("utf-8", "replace")
            if b:
                ranges = _find_boundaries(data, hend, end, b)
        if ranges:
            child_default = ("MESSAGE", "RFC822") if subtype == "DIGEST" else ("TEXT", "PLAIN")
            node["parts"] = [_parse_part(data, s, e, depth + 1, child_default) for s, e in ranges]
            return node
        # Unusable multipart: answer as a single text/plain leaf.
        node["t"], node["s"], node["p"] = "TEXT", "PLAIN", [["CHARSET", "us-ascii"]]
    if mtype == "MESSAGE" and subtype in ("RFC822", "GLOBAL") and depth < MAX_DEPTH and node["enc"] in (
        None, "7BIT", "8BIT", "BINARY"
    ):
        child = _parse_part(data, hend, end, depth + 1, ("TEXT", "PLAIN"))
        child["env"] = envelope(split_fields(data[hend : child["h"][1]]))
        node["msg"] = child
    if node["t"] in ("TEXT", "MESSAGE"):
        node["lines"] = body.count(b"\n")
    return node


def parse_structure(data: bytes, fields: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
    """`fields`: the message's `message_fields`, when the caller has them."""
    try:
        if fields is None:
            fields = message_fields(data)
        root = _parse_part(data, 0, len(data), 0, ("TEXT", "PLAIN"), fields)
        root["env"] = envelope(fields)
    except RecursionError:
        root = {"h": [0, 0], "b": [0, len(data)], "t": "TEXT", "s": "PLAIN", "p": [], "id": None, "desc": None,
                "enc": None, "md5": None, "disp": None, "lang": None, "loc": None, "lines": data.count(b"\n"),
                "env": [None] * 10}
    root["v"] = VERSION
    return root


def find_part(root: dict[str, Any], path: tuple[int, ...]) -> dict[str, Any] | None:
    """The node for a section-part (RFC 9051 section 6.4.5): numbers index multipart
    children; in a message/rfc822 part they index the encapsulated message's parts, and
    part 1 of a non-multipart is the part itself."""
    node = root
    for n in path:
        if "msg" in node and node is not root:
            node = node["msg"]
        parts = node.get("parts")
        if parts is None:
            if n != 1:
                return None
            continue
        if n > len(parts):
            return None
        node = parts[n - 1]
    return node
