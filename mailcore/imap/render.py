"""ENVELOPE and BODY/BODYSTRUCTURE response data (RFC 9051 section 7.5.2) from the
tree of `mailcore.message.structure`."""
from __future__ import annotations

from typing import Any

from mailcore.imap.mimeparams import merge_continuations
from mailcore.imap.response import nstring, paren, string


def _addresses(addrs: list[list[str | None]] | None) -> bytes:
    if not addrs:
        return b"NIL"
    # RFC 9051 section 9: env-from = "(" 1*address ")" / nil; addresses are not separated.
    return b"(" + b"".join(
        b"(%s %s %s %s)" % (nstring(a[0]), nstring(a[1]), nstring(a[2]), nstring(a[3])) for a in addrs
    ) + b")"


def envelope(env: list[Any] | None) -> bytes:
    if not env:
        return b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    return b"(%s %s %s %s %s %s %s %s %s %s)" % (
        nstring(env[0]), nstring(env[1]), _addresses(env[2]), _addresses(env[3]), _addresses(env[4]),
        _addresses(env[5]), _addresses(env[6]), _addresses(env[7]), nstring(env[8]), nstring(env[9]),
    )


def _params(params: list[list[str]] | None) -> bytes:
    if not params:
        return b"NIL"
    # RFC 9051 section 7.5.2: continuations decoded (RFC 2231 section 3).
    return paren(string(k) + b" " + string(v) for k, v in merge_continuations(params))


def _disposition(disp: list[Any] | None) -> bytes:
    if not disp:
        return b"NIL"
    return paren([string(disp[0]), _params(disp[1])])


def _language(lang: list[str] | None) -> bytes:
    if not lang:
        return b"NIL"
    if len(lang) == 1:
        return string(lang[0])
    return paren(string(x) for x in lang)


def bodystructure(node: dict[str, Any], *, extended: bool = True) -> bytes:
    """BODYSTRUCTURE (extended) or BODY (extended=False)."""
    if node.get("parts"):
        out = [b"".join(bodystructure(p, extended=extended) for p in node["parts"]), string(node["s"])]
        if extended:
            out += [_params(node.get("p")), _disposition(node.get("disp")), _language(node.get("lang")),
                    nstring(node.get("loc"))]
        return paren(out)
    size = node["b"][1] - node["b"][0]
    params = node.get("p") or []
    if node["t"] == "TEXT" and not any(k == "CHARSET" for k, _ in params):
        # RFC 2046 section 4.1.2: the default charset of text is US-ASCII (Dovecot says so too).
        params = [["CHARSET", "us-ascii"], *params]
    out = [
        string(node["t"]), string(node["s"]), _params(params), nstring(node.get("id")),
        nstring(node.get("desc")), string(node.get("enc") or "7BIT"), str(size).encode(),
    ]
    if "msg" in node:
        msg = node["msg"]
        out += [envelope(msg.get("env")), bodystructure(msg, extended=extended), str(node.get("lines", 0)).encode()]
    elif node["t"] == "TEXT":
        out.append(str(node.get("lines", 0)).encode())
    if extended:
        out += [nstring(node.get("md5")), _disposition(node.get("disp")), _language(node.get("lang")),
                nstring(node.get("loc"))]
    return paren(out)


def stored_envelope(tree: dict[str, Any]) -> bytes:
    """ENVELOPE kept with a message (Message.envelope): tagged with the structure version
    of `tree`, so a row parsed by an older parser is answered from a fresh parse."""
    return b"%d:" % int(tree.get("v") or 0) + envelope(tree.get("env"))


def envelope_from_store(stored: bytes | memoryview | None, version: int) -> bytes | None:
    """The ENVELOPE of a `stored_envelope` value made at `version`, else None."""
    if stored is None:
        return None
    data = bytes(stored)
    tag = b"%d:" % version
    return data[len(tag):] if data.startswith(tag) else None
