"""Parse one complete IMAP command (RFC 9051 section 6 and section 9 `command`).

`parse_command(buf)` takes the command's bytes without its final CRLF, with every
literal's data inline after its `{n}\\r\\n` (the connection layer reads literals, see
`reader.literal_request`), and returns a `Command` or raises ParseError.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailcore.imap.errors import ParseError
from mailcore.imap.fetchatt import fetch_request
from mailcore.imap.reader import Reader
from mailcore.imap.searchkey import search_key, search_request, sort_request


@dataclass
class Command:
    tag: str
    # Upper-case command name; `uid` is set for the UID forms (RFC 9051 6.4.9).
    name: str
    uid: bool = False
    args: dict[str, Any] = field(default_factory=dict)
    # The name as the client wrote it, for "<tag> OK <cmd> done".
    spelled: str = ""


@dataclass
class AppendMessage:
    flags: list[str]
    date: Any
    data: bytes
    binary: bool = False


def _mailbox(r: Reader) -> str:
    # Decoding (modified UTF-7 or UTF-8) is the session's: it depends on ENABLE UTF8=ACCEPT.
    return r.astring().decode("utf-8", "surrogateescape")


def _no_args(r: Reader, a: dict[str, Any]) -> None:
    pass


def _login(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["username"] = r.astring_str()
    r.sp()
    a["password"] = r.astring_str()


def _authenticate(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["mechanism"] = r.atom().upper()
    a["initial"] = None
    if r.take(b" "):
        # RFC 4959 SASL-IR: base64 or "=" for an empty response.
        start = r.pos
        while not r.at_end() and r.buf[r.pos] not in b" ":
            r.pos += 1
        a["initial"] = r.buf[start : r.pos].decode("ascii", "replace")


def _enable(r: Reader, a: dict[str, Any]) -> None:
    caps = []
    while r.take(b" "):
        caps.append(r.atom().upper())
    if not caps:
        raise r.error("ENABLE needs a capability")
    a["capabilities"] = caps


def _select(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["mailbox"] = _mailbox(r)
    a["condstore"] = False
    a["qresync"] = None
    if r.take(b" ("):
        while True:
            word = r.atom().upper()
            if word == "CONDSTORE":
                a["condstore"] = True
            elif word == "QRESYNC":
                # RFC 7162 section 3.2.5: (uidvalidity modseq [known-uids [seq-match]])
                r.sp()
                r.expect(b"(")
                uidvalidity = r.nz_number()
                r.sp()
                modseq = r.number64()
                known = None
                if r.take(b" "):
                    if r.peek(b"("):
                        known = None
                    else:
                        known = r.seqset()
                        r.take(b" ")
                    if r.take(b"("):
                        r.seqset()
                        r.sp()
                        r.seqset()
                        r.expect(b")")
                r.expect(b")")
                a["qresync"] = (uidvalidity, modseq, known)
            else:
                raise r.error(f"unknown select parameter {word}")
            if r.take(b")"):
                break
            r.sp()


def _mailbox_arg(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["mailbox"] = _mailbox(r)


def _create(r: Reader, a: dict[str, Any]) -> None:
    _mailbox_arg(r, a)
    a["use"] = []
    if r.take(b" ("):
        # RFC 6154 section 3: CREATE mailbox (USE (\Flag ...))
        if not r.take_atom("USE"):
            raise r.error("unknown create parameter")
        r.sp()
        a["use"] = r.flag_list()
        r.expect(b")")


def _rename(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["mailbox"] = _mailbox(r)
    r.sp()
    a["new"] = _mailbox(r)


def _list(r: Reader, a: dict[str, Any]) -> None:
    # RFC 5258 LIST-EXTENDED: [selection] reference patterns [RETURN (...)]
    r.sp()
    a["select_opts"] = []
    if r.take(b"("):
        if not r.take(b")"):
            while True:
                a["select_opts"].append(r.atom().upper())
                if r.take(b")"):
                    break
                r.sp()
        r.sp()
        _check_list_selection(r, a["select_opts"])
    a["reference"] = _mailbox(r)
    r.sp()
    patterns = []
    if r.take(b"("):
        patterns.append(r.list_mailbox())
        while r.take(b" "):
            patterns.append(r.list_mailbox())
        r.expect(b")")
    else:
        patterns.append(r.list_mailbox())
    a["patterns"] = patterns
    a["return_opts"] = []
    a["status"] = []
    if r.take(b" "):
        if not r.take_atom("RETURN"):
            raise r.error("expected RETURN")
        r.sp()
        r.expect(b"(")
        if not r.take(b")"):
            while True:
                opt = r.atom().upper()
                if opt not in _LIST_RETURN:
                    raise r.error(f"unknown list return option {opt}")
                a["return_opts"].append(opt)
                if opt == "STATUS":
                    # RFC 5819 LIST-STATUS
                    r.sp()
                    a["status"] = _status_atts(r)
                if r.take(b")"):
                    break
                r.sp()


# RFC 5258 section 3.1 and 3.2, RFC 6154 section 3, RFC 5819 section 2.
_LIST_SELECTION = ("SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE")
_LIST_RETURN = ("SUBSCRIBED", "CHILDREN", "STATUS", "SPECIAL-USE")


def _check_list_selection(r: Reader, opts: list[str]) -> None:
    for opt in opts:
        if opt not in _LIST_SELECTION:
            raise r.error(f"unknown list selection option {opt}")
    # RFC 5258 section 3.1: RECURSIVEMATCH needs another selection option (not only
    # REMOTE); the one CHILDINFO criterion we know is SUBSCRIBED, so it needs that.
    if "RECURSIVEMATCH" in opts and "SUBSCRIBED" not in opts:
        raise r.error("RECURSIVEMATCH needs the SUBSCRIBED selection option")


def _lsub(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["reference"] = _mailbox(r)
    r.sp()
    a["patterns"] = [r.list_mailbox()]


def _status_atts(r: Reader) -> list[str]:
    r.expect(b"(")
    atts = [r.atom().upper()]
    while r.take(b" "):
        atts.append(r.atom().upper())
    r.expect(b")")
    for att in atts:
        if att not in ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT",
                       "APPENDLIMIT", "HIGHESTMODSEQ"):
            raise r.error(f"unknown status attribute {att}")
    return atts


def _status(r: Reader, a: dict[str, Any]) -> None:
    _mailbox_arg(r, a)
    r.sp()
    a["atts"] = _status_atts(r)


def _append(r: Reader, a: dict[str, Any]) -> None:
    _mailbox_arg(r, a)
    messages = []
    # RFC 3502 MULTIAPPEND: several messages in one command.
    while r.take(b" "):
        flags: list[str] = []
        when = None
        if r.peek(b"("):
            flags = r.flag_list()
            r.sp()
        if r.peek(b'"'):
            when = r.date_time()
            r.sp()
        binary = r.peek(b"~")
        if r.take_atom("UTF8"):
            # RFC 6855 section 4: UTF8 (literal8)
            r.sp()
            r.expect(b"(")
            data = r.literal(allow_binary=True)
            r.expect(b")")
        else:
            data = r.literal(allow_binary=True)
        messages.append(AppendMessage(flags, when, data, binary))
    if not messages:
        raise r.error("APPEND needs a message")
    a["messages"] = messages


def _search(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["request"] = search_request(r)


def _fetch(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["set"] = r.seqset()
    r.sp()
    a["request"] = fetch_request(r)


def _store(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["set"] = r.seqset()
    r.sp()
    a["unchangedsince"] = None
    if r.take(b"("):
        # RFC 7162 section 3.1.3
        if not r.take_atom("UNCHANGEDSINCE"):
            raise r.error("unknown store modifier")
        r.sp()
        a["unchangedsince"] = r.number64()
        r.expect(b")")
        r.sp()
    mode = "replace"
    if r.take(b"+"):
        mode = "add"
    elif r.take(b"-"):
        mode = "remove"
    if not r.take_atom("FLAGS", "FLAGS.SILENT"):
        raise r.error("expected FLAGS")
    a["silent"] = r.buf[r.pos - 7 : r.pos].upper() == b".SILENT"
    a["mode"] = mode
    r.sp()
    if r.peek(b"("):
        a["flags"] = r.flag_list()
    else:
        flags = [r.flag()]
        while r.take(b" "):
            flags.append(r.flag())
        a["flags"] = flags


def _copy(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["set"] = r.seqset()
    r.sp()
    a["mailbox"] = _mailbox(r)


def _uid_expunge(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["set"] = r.seqset()


def _id(r: Reader, a: dict[str, Any]) -> None:
    # RFC 2971: ID ("key" "value" ...) / NIL
    r.sp()
    params: dict[str, str | None] = {}
    if not r.take_atom("NIL"):
        r.expect(b"(")
        if not r.take(b")"):
            while True:
                key = r.string().decode("utf-8", "replace")
                r.sp()
                value = r.nstring()
                params[key] = None if value is None else value.decode("utf-8", "replace")
                if r.take(b")"):
                    break
                r.sp()
    a["params"] = params


def _sort(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["request"] = sort_request(r)


def _thread(r: Reader, a: dict[str, Any]) -> None:
    # RFC 5256 section 3: THREAD algorithm charset search-keys
    r.sp()
    a["algorithm"] = r.atom().upper()
    r.sp()
    a["charset"] = r.astring().decode("ascii", "replace").upper()
    r.sp()
    keys = [search_key(r)]
    while r.take(b" "):
        keys.append(search_key(r))
    a["key"] = keys[0] if len(keys) == 1 else ("AND", keys)


def _quota_root(r: Reader, a: dict[str, Any]) -> None:
    r.sp()
    a["root"] = r.astring().decode("utf-8", "replace")


_PARSERS = {
    "CAPABILITY": _no_args, "NOOP": _no_args, "LOGOUT": _no_args, "STARTTLS": _no_args,
    "AUTHENTICATE": _authenticate, "LOGIN": _login, "ENABLE": _enable, "SELECT": _select,
    "EXAMINE": _select, "CREATE": _create, "DELETE": _mailbox_arg, "RENAME": _rename,
    "SUBSCRIBE": _mailbox_arg, "UNSUBSCRIBE": _mailbox_arg, "LIST": _list, "LSUB": _lsub,
    "NAMESPACE": _no_args, "STATUS": _status, "APPEND": _append, "IDLE": _no_args,
    "CHECK": _no_args, "CLOSE": _no_args, "UNSELECT": _no_args, "EXPUNGE": _no_args,
    "SEARCH": _search, "FETCH": _fetch, "STORE": _store, "COPY": _copy, "MOVE": _copy,
    "ID": _id, "SORT": _sort, "THREAD": _thread, "GETQUOTA": _quota_root, "GETQUOTAROOT": _mailbox_arg,
}
_UID_COMMANDS = ("FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD")


def parse_tag(buf: bytes) -> str | None:
    """The tag of a line, if it has one, for answering BAD to an unparsable command."""
    try:
        return Reader(buf).tag_string()
    except ParseError:
        return None


def parse_command(buf: bytes) -> Command:
    r = Reader(buf)
    tag = r.tag_string()
    r.tag = tag
    r.sp()
    spelled = r.atom()
    name = spelled.upper()
    uid = False
    if name == "UID":
        r.sp()
        sub = r.atom()
        spelled = f"{spelled} {sub}"
        name = sub.upper()
        if name not in _UID_COMMANDS:
            raise ParseError(f"unknown UID command {name}", tag=tag)
        uid = True
    parser = _PARSERS.get(name)
    if parser is None:
        raise ParseError("unknown command", tag=tag, code="UNKNOWN")
    args: dict[str, Any] = {}
    if uid and name == "EXPUNGE":
        _uid_expunge(r, args)
    else:
        parser(r, args)
    r.end()
    return Command(tag, name, uid, args, spelled)
