"""THREAD (RFC 5256): base subjects (section 2.1), ORDEREDSUBJECT (section 3),
REFERENCES (section 4) and the thread-list response syntax."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_BLOB = r"\[[^\[\]]*\] *"
# subj-leader = (*subj-blob subj-refwd) / WSP; subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
_LEADER = re.compile(rf"(?:{_BLOB})*(?:re|fwd?) *(?:{_BLOB})?:| +", re.IGNORECASE)
_BLOB_RE = re.compile(_BLOB)
MSGID = re.compile(r"<[^<>\s]+>")


def subject_info(subject: str) -> tuple[str, bool]:
    """RFC 5256 section 2.1 on a subject with its encoded-words already decoded: the
    base subject (lower-cased, for case-insensitive comparison) and whether the
    extraction removed a reply or forward marker (re:, fw:, fwd:, "(fwd)", "[fwd: ...]")."""
    s = " ".join(subject.split())  # (1) white space collapsed
    reply = False
    while True:
        # (2) trailing "(fwd)" and white space.
        while True:
            if s.lower().endswith("(fwd)"):
                s, reply = s[:-5], True
            elif s.endswith(" "):
                s = s[:-1]
            else:
                break
        # (3)-(5) leading re:/fw:/fwd: (after blobs) and blobs that leave something.
        while True:
            m = _LEADER.match(s)
            if m and m.end():
                reply = reply or not s[: m.end()].isspace()
                s = s[m.end():]
                continue
            m = _BLOB_RE.match(s)
            if m and s[m.end():].strip():
                s = s[m.end():]
                continue
            break
        # (6) "[fwd:" ... "]" wrapper, then again from (2).
        if s.lower().startswith("[fwd:") and s.endswith("]"):
            s, reply = s[5:-1], True
            continue
        return s.lower(), reply


def base_subject(subject: str) -> str:
    return subject_info(subject)[0]


@dataclass
class ThreadMessage:
    number: int  # sequence number or UID, as answered
    subject: str
    date: datetime
    message_id: str = ""
    # Message-IDs of the References header; when `in_reply_to` is None, the caller gave
    # References followed by In-Reply-To here.
    references: list[str] = field(default_factory=list)
    in_reply_to: list[str] | None = None


@dataclass(eq=False)
class Node:
    message: ThreadMessage | None  # None: a dummy (a message referred to but not present)
    children: list[Node] = field(default_factory=list)
    parent: Node | None = field(default=None, repr=False)


def ordered_subject(messages: list[ThreadMessage]) -> list[Node]:
    """RFC 5256 section 3 ORDEREDSUBJECT: group by base subject; the first message
    (by sent date) is the parent of all others."""
    groups: dict[str, list[ThreadMessage]] = {}
    for m in sorted(messages, key=lambda m: (m.date, m.number)):
        groups.setdefault(base_subject(m.subject), []).append(m)
    roots = [Node(g[0], [Node(m) for m in g[1:]]) for g in groups.values()]
    return sorted(roots, key=lambda n: (n.message.date, n.message.number))  # type: ignore[union-attr]


def _is_descendant(node: Node, ancestor: Node) -> bool:
    p: Node | None = node
    while p is not None:
        if p is ancestor:
            return True
        p = p.parent
    return False


def _link(parent: Node, child: Node) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def _unlink(child: Node) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
        child.parent = None


def _refs(m: ThreadMessage) -> list[str]:
    if m.in_reply_to is None:
        return m.references
    # RFC 5256 section 4: without (valid) References, the first In-Reply-To Message ID.
    return m.references or m.in_reply_to[:1]


def _sort_key(node: Node) -> tuple[datetime, int]:
    # A dummy sorts by its first child (children are sorted first).
    while node.message is None:
        node = node.children[0]
    return node.message.date, node.message.number


def _sort(nodes: list[Node]) -> None:
    # (6) the youngest sets of siblings first, so a dummy's first child is known.
    for n in nodes:
        _sort(n.children)
    nodes.sort(key=_sort_key)


def _thread_subject(node: Node) -> tuple[str, bool]:
    m = node.message if node.message is not None else node.children[0].message
    return subject_info(m.subject) if m is not None else ("", False)


def references(messages: list[ThreadMessage]) -> list[Node]:
    """RFC 5256 section 4 REFERENCES; `messages` in mailbox (sequence) order."""
    table: dict[str, Node] = {}
    nodes: list[Node] = []
    # (1) Link messages by their references.
    for m in messages:
        ids = MSGID.findall(m.message_id)
        mid = ids[0] if ids else ""
        node = table.get(mid) if mid else None
        if node is not None and node.message is None:
            node.message = m  # a dummy made for an earlier reference becomes this message
        else:
            # No Message-ID or a duplicate: a unique one (this node is reachable by none).
            node = Node(m)
            if mid and mid not in table:
                table[mid] = node
        nodes.append(node)
        # (1A) References chain: each the parent of the next, unless already parented or a loop.
        refs = _refs(m)
        chain: list[Node] = []
        for ref in refs:
            r = table.get(ref)
            if r is None:
                r = table[ref] = Node(None)
            chain.append(r)
        for parent, child in zip(chain, chain[1:]):
            if child.parent is None and parent is not child and not _is_descendant(parent, child):
                _link(parent, child)
        # (1B) The last reference is this message's parent (breaking an earlier link).
        if chain:
            parent = chain[-1]
            if parent is not node and not _is_descendant(parent, node):
                _link(parent, node)
        else:
            _unlink(node)
    # (2) The root set: containers without a parent, in order of creation.
    seen: set[int] = set()
    roots: list[Node] = []
    for n in list(table.values()) + nodes:
        if n.parent is None and id(n) not in seen:
            seen.add(id(n))
            roots.append(n)
    # (3) Prune dummies.
    roots = _prune(roots, at_root=True)
    # (4) Sort the root set (a dummy by its first child, its children sorted first).
    for r in roots:
        if r.message is None:
            _sort(r.children)
    roots.sort(key=_sort_key)
    # (5) Gather roots with the same base subject.
    subjects: dict[str, Node] = {}
    for r in roots:
        subject, reply = _thread_subject(r)
        if not subject:
            continue
        old = subjects.get(subject)
        if old is None or (old.message is not None and (
                r.message is None or (_thread_subject(old)[1] and not reply))):
            subjects[subject] = r
    merged: list[Node] = []
    for r in roots:
        if r.parent is not None:
            continue  # already merged under a dummy made for an earlier root
        subject, reply = _thread_subject(r)
        other = subjects.get(subject) if subject else None
        if other is None or other is r:
            merged.append(r)
            continue
        if other.message is None and r.message is None:
            for c in list(r.children):
                _link(other, c)
        elif other.message is None:
            _link(other, r)
        elif reply and not _thread_subject(other)[1]:
            _link(other, r)
        else:
            dummy = Node(None)
            # The dummy takes the subject table message's place among the roots.
            where = next((i for i, x in enumerate(merged) if x is other), None)
            _link(dummy, other)
            _link(dummy, r)
            subjects[subject] = dummy
            if where is not None:
                merged[where] = dummy
            else:
                merged.append(dummy)
    # (6) Sort every set of siblings.
    _sort(merged)
    return merged


def _prune(nodes: list[Node], *, at_root: bool) -> list[Node]:
    """(3) A dummy without children goes; one with children is replaced by them, except
    at the root when it has more than one child."""
    out: list[Node] = []
    for n in nodes:
        n.children = _prune(n.children, at_root=False)
        for c in n.children:
            c.parent = n
        if n.message is not None:
            out.append(n)
        elif not n.children:
            continue
        elif at_root and len(n.children) > 1:
            out.append(n)
        else:
            for c in n.children:
                c.parent = None
            out.extend(n.children)
    return out


def format_threads(roots: list[Node]) -> str:
    """thread-list (RFC 5256 section 4, formal syntax): one child continues the list,
    several children are each parenthesized; a dummy at the root is a list of lists."""

    def members(node: Node) -> str:
        if node.message is None:
            return "".join(f"({members(c)})" for c in node.children)
        out = str(node.message.number)
        while len(node.children) == 1:
            node = node.children[0]
            out += f" {node.message.number}"  # type: ignore[union-attr]
        if node.children:
            out += " " + "".join(f"({members(c)})" for c in node.children)
        return out

    return "".join(f"({members(r)})" for r in roots)
