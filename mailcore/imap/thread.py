"""THREAD (RFC 5256 sections 2.1, 3, 4): base subjects, ORDEREDSUBJECT and a
simplified REFERENCES, and the thread-list response syntax."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

_LEADER = re.compile(r"^(?:\s*(?:re|fwd?)\s*(?:\[[^\]]*\])?\s*:|\s*\[[^\]]*\]\s*)", re.IGNORECASE)


def base_subject(subject: str) -> str:
    """RFC 5256 section 2.1 (after RFC 2047 decoding by the caller): drop leading
    re:/fw:/fwd: and [blob]s, trailing (fwd), [fwd: ...] wrappers; collapse spaces."""
    s = " ".join(subject.split())
    while True:
        before = s
        while s.lower().endswith("(fwd)"):
            s = s[:-5].rstrip()
        m = _LEADER.match(s)
        while m and m.end() < len(s):
            s = s[m.end():].lstrip()
            m = _LEADER.match(s)
        if s.lower().startswith("[fwd:") and s.endswith("]"):
            s = s[5:-1].strip()
        if s == before:
            return s.lower()


@dataclass
class ThreadMessage:
    number: int  # sequence number or UID, as answered
    subject: str
    date: datetime
    message_id: str = ""
    references: list[str] = field(default_factory=list)  # References, then In-Reply-To


@dataclass
class Node:
    message: ThreadMessage
    children: list[Node] = field(default_factory=list)


def ordered_subject(messages: list[ThreadMessage]) -> list[Node]:
    """RFC 5256 section 3 ORDEREDSUBJECT: group by base subject; the first message
    (by sent date) is the parent of all others."""
    groups: dict[str, list[ThreadMessage]] = {}
    for m in sorted(messages, key=lambda m: (m.date, m.number)):
        groups.setdefault(base_subject(m.subject), []).append(m)
    roots = [Node(g[0], [Node(m) for m in g[1:]]) for g in groups.values()]
    return sorted(roots, key=lambda n: (n.message.date, n.message.number))


def references(messages: list[ThreadMessage]) -> list[Node]:
    """RFC 5256 section 4 REFERENCES, simplified: parent links from References and
    In-Reply-To among the messages present; roots and siblings ordered by sent date.
    todo: dummy containers for missing parents and merging roots by subject."""
    by_id: dict[str, Node] = {}
    nodes = [Node(m) for m in messages]
    for node in nodes:
        if node.message.message_id and node.message.message_id not in by_id:
            by_id[node.message.message_id] = node
    roots: list[Node] = []
    for node in nodes:
        parent = None
        for ref in reversed(node.message.references):
            candidate = by_id.get(ref)
            if candidate is not None and candidate is not node:
                parent = candidate
                break
        # Avoid loops: a parent must not descend from this node.
        p = parent
        while p is not None and p is not node:
            p = getattr(p, "_parent", None)
        if parent is not None and p is None:
            parent.children.append(node)
            node._parent = parent  # type: ignore[attr-defined]
        else:
            roots.append(node)

    def order(ns: list[Node]) -> list[Node]:
        for n in ns:
            n.children = order(n.children)
        return sorted(ns, key=lambda n: (n.message.date, n.message.number))

    return order(roots)


def format_threads(roots: list[Node]) -> str:
    """thread-list (RFC 5256 section 4, formal syntax): one child continues the list,
    several children are each parenthesized."""

    def members(node: Node) -> str:
        out = str(node.message.number)
        while len(node.children) == 1:
            node = node.children[0]
            out += f" {node.message.number}"
        if node.children:
            out += " " + "".join(f"({members(c)})" for c in node.children)
        return out

    return "".join(f"({members(r)})" for r in roots)
