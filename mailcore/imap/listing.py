"""Which mailboxes a LIST or LSUB answers, with which attributes: RFC 9051 section
6.3.9, RFC 5258 (LIST-EXTENDED: selection SUBSCRIBED, REMOTE, RECURSIVEMATCH; return
SUBSCRIBED, CHILDREN; CHILDINFO), RFC 6154 (SPECIAL-USE selection) and RFC 3501 section
6.3.9 for LSUB. Pure: names in, entries out; the session formats them and adds STATUS
(RFC 5819) for entries that are `selectable`.

The hierarchy separator is "/". Attributes are given in one fixed order (RFC 5258 leaves
the order free): \\Subscribed, \\NonExistent or \\Noselect, \\HasChildren or
\\HasNoChildren, then the special-use attribute.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

SEP = "/"


@dataclass(frozen=True)
class ListRequest:
    patterns: tuple[str, ...]
    # Selection options (RFC 5258 section 3.1, RFC 6154 section 3).
    subscribed: bool = False
    special_use: bool = False
    recursive: bool = False
    # Return options (RFC 5258 section 3.2).
    return_subscribed: bool = False
    return_children: bool = False
    lsub: bool = False


@dataclass
class ListEntry:
    name: str
    attributes: list[str] = field(default_factory=list)
    # RFC 5258 section 3.5: ("CHILDINFO" ("SUBSCRIBED")) when a descendant that is not
    # itself listed matches the selection criteria.
    childinfo: tuple[str, ...] = ()
    # Exists and matches the selection criteria: gets STATUS with RETURN (STATUS ...)
    # (RFC 5819 section 2).
    selectable: bool = False


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """RFC 9051 6.3.9: "*" matches anything, "%" anything but the hierarchy separator."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append("[^/]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _ancestors(name: str) -> Iterable[str]:
    parts = name.split(SEP)
    for i in range(1, len(parts)):
        yield SEP.join(parts[:i])


def list_entries(req: ListRequest, mailboxes: dict[str, str], subscriptions: set[str]) -> list[ListEntry]:
    """The responses, sorted by name. `mailboxes` maps existing names to their
    special-use attribute ("" for none)."""
    regexes = [pattern_regex(p) for p in req.patterns]
    by_subscription = req.subscribed or req.lsub

    def matches(name: str) -> bool:
        return any(r.match(name) for r in regexes)

    def meets(name: str) -> bool:
        # RFC 5258 section 3.1: the selection criteria; without SUBSCRIBED only existing
        # mailboxes qualify, with it subscribed names whether or not they exist.
        if by_subscription and name not in subscriptions:
            return False
        if not by_subscription and name not in mailboxes:
            return False
        return not req.special_use or bool(mailboxes.get(name))

    base = {n for n in (set(mailboxes) | (subscriptions if by_subscription else set())) if meets(n)}
    candidates = set(base)
    for name in base:
        candidates.update(_ancestors(name))
    # Descendants of each candidate that meet the criteria but are not listed themselves.
    hidden: dict[str, bool] = {}
    for name in base:
        if matches(name):
            continue
        for parent in _ancestors(name):
            hidden[parent] = True

    parents = {p for m in mailboxes for p in _ancestors(m)}
    out = []
    for name in sorted(candidates):
        if not matches(name):
            continue
        exists = name in mailboxes
        listed = name in base
        childinfo = req.recursive and hidden.get(name, False)
        # RFC 3501 6.3.9 (LSUB) and RFC 9051 6.3.9 ("%"): a level of hierarchy above
        # something listed only through it is returned as not selectable. LIST (SUBSCRIBED)
        # without RECURSIVEMATCH does not do that (RFC 5258 section 5, example 8).
        implied = (
            not listed and hidden.get(name, False)
            and (req.lsub or (not exists and not req.subscribed and not req.special_use))
        )
        if not (listed or childinfo or implied):
            continue
        entry = ListEntry(name, childinfo=("SUBSCRIBED",) if childinfo else ())
        if (req.subscribed or req.return_subscribed) and not req.lsub and name in subscriptions:
            entry.attributes.append("\\Subscribed")
        if req.lsub:
            if not exists or not listed:
                entry.attributes.append("\\Noselect")
        elif not exists:
            entry.attributes.append("\\NonExistent")
        if req.return_children or (implied and not req.lsub):
            # RFC 5258 section 5 example 10: a missing level is listed with \HasChildren.
            entry.attributes.append("\\HasChildren" if name in parents else "\\HasNoChildren")
        if exists and mailboxes[name] and not req.lsub:
            entry.attributes.append(mailboxes[name])
        entry.selectable = exists and listed
        out.append(entry)
    return out
