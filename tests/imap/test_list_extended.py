"""LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819) with the RFCs' own examples.

The examples are replayed over the wire on the RFCs' hierarchies. Differences from the
RFC text, all allowed by it: our INBOX is spelled "Inbox" and has no \\Marked or
\\NoInferiors; responses come sorted by name; attributes come in one fixed order
(\\Subscribed, \\NonExistent, children, special-use) where example 8 happens to write
"(\\HasChildren \\Subscribed)". Example 10 needs a missing level of hierarchy, which
our store never has (CREATE and RENAME make parents, DELETE keeps them while they have
children), so it is checked on the pure function that decides the responses.
"""
from __future__ import annotations

from mailcore.imap.listing import ListRequest, list_entries
from mailstore import actions
from mailstore.models import Subscription
from tests.fixtures_imap import MESSAGE, imap_db

pytestmark = imap_db

DEFAULTS = ("Sent", "Archive", "Trash", "Drafts", "Junk")


def hierarchy(account, names: list[str], subscribed: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Only Inbox and `names` exist; exactly `subscribed` is subscribed."""
    for name in DEFAULTS:
        actions.delete_mailbox(account, name)
    for name in names:
        actions.create_mailbox(account, name)
    for sub in Subscription.objects.filter(account=account).values_list("name", flat=True):
        if sub not in subscribed:
            actions.unsubscribe(account, sub)
    for name in subscribed:
        actions.subscribe(account, name)


def login(raw):  # type: ignore[no-untyped-def]
    """Log in after the test's setup: changes made while logged in are announced with
    untagged LIST responses (mox), which the examples do not show."""
    raw.login()
    return raw


RFC_HIERARCHY = ["Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable/Broccoli", "Vegetable/Corn"]
RFC_SUBSCRIBED = ["Inbox", "Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli"]


def test_rfc5258_examples_1_to_6(raw, alice):
    hierarchy(alice, RFC_HIERARCHY, RFC_SUBSCRIBED)
    # Example 1: the whole hierarchy.
    raw_alice = login(raw)
    assert raw_alice.cmd('A01 LIST "" "*"') == [
        '* LIST () "/" Fruit',
        '* LIST () "/" Fruit/Apple',
        '* LIST () "/" Fruit/Banana',
        '* LIST () "/" Inbox',
        '* LIST () "/" Tofu',
        '* LIST () "/" Vegetable',
        '* LIST () "/" Vegetable/Broccoli',
        '* LIST () "/" Vegetable/Corn',
        "A01 OK LIST done",
    ]
    # Example 2: subscribed mailboxes, including one that no longer exists.
    subscribed = [
        '* LIST (\\Subscribed) "/" Fruit/Banana',
        '* LIST (\\Subscribed \\NonExistent) "/" Fruit/Peach',
        '* LIST (\\Subscribed) "/" Inbox',
        '* LIST (\\Subscribed) "/" Vegetable',
        '* LIST (\\Subscribed) "/" Vegetable/Broccoli',
    ]
    assert raw_alice.cmd('A02 LIST (SUBSCRIBED) "" "*"') == subscribed + ["A02 OK LIST done"]
    # Example 3: CHILDREN tells which top-level mailboxes have children.
    children = [
        '* LIST (\\HasChildren) "/" Fruit',
        '* LIST (\\HasNoChildren) "/" Inbox',
        '* LIST (\\HasNoChildren) "/" Tofu',
        '* LIST (\\HasChildren) "/" Vegetable',
    ]
    assert raw_alice.cmd('A03 LIST () "" "%" RETURN (CHILDREN)') == children + ["A03 OK LIST done"]
    # Examples 4 and 5: REMOTE is accepted; we have no remote mailboxes to add.
    assert raw_alice.cmd('A04 LIST (REMOTE) "" "%" RETURN (CHILDREN)') == children + ["A04 OK LIST done"]
    assert raw_alice.cmd('A05 LIST (REMOTE SUBSCRIBED) "" "*"') == subscribed + ["A05 OK LIST done"]
    # Example 6: subscription state of every mailbox; the missing Fruit/Peach is not listed.
    assert raw_alice.cmd('A06 LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)') == [
        '* LIST () "/" Fruit',
        '* LIST () "/" Fruit/Apple',
        '* LIST (\\Subscribed) "/" Fruit/Banana',
        '* LIST (\\Subscribed) "/" Inbox',
        '* LIST () "/" Tofu',
        '* LIST (\\Subscribed) "/" Vegetable',
        '* LIST (\\Subscribed) "/" Vegetable/Broccoli',
        '* LIST () "/" Vegetable/Corn',
        "A06 OK LIST done",
    ]


def test_rfc5258_example_7_multiple_patterns(raw, alice):
    for name in ("Sent/March2004", "Sent/December2003", "Sent/August2004"):
        actions.create_mailbox(alice, name)
    raw_alice = login(raw)
    assert raw_alice.cmd('BBB LIST "" ("INBOX" "Drafts" "Sent/%")') == [
        '* LIST (\\Drafts) "/" Drafts',
        '* LIST () "/" Inbox',
        '* LIST () "/" Sent/August2004',
        '* LIST () "/" Sent/December2003',
        '* LIST () "/" Sent/March2004',
        "BBB OK LIST done",
    ]


def test_rfc5258_example_8_hasnochildren_versus_childinfo(raw, alice):
    hierarchy(alice, ["Foo/Bar", "Foo/Baz", "Moo"], ["Foo/Baz"])
    raw_alice = login(raw)
    assert raw_alice.cmd('C01 LIST "" "*"') == [
        '* LIST () "/" Foo', '* LIST () "/" Foo/Bar', '* LIST () "/" Foo/Baz', '* LIST () "/" Inbox',
        '* LIST () "/" Moo', "C01 OK LIST done",
    ]
    assert raw_alice.cmd('CA3 LIST "" "%" RETURN (CHILDREN)') == [
        '* LIST (\\HasChildren) "/" Foo', '* LIST (\\HasNoChildren) "/" Inbox', '* LIST (\\HasNoChildren) "/" Moo',
        "CA3 OK LIST done",
    ]
    # A) Only Foo/Baz is subscribed.
    assert raw_alice.cmd('C02 LIST (SUBSCRIBED) "" "*"') == ['* LIST (\\Subscribed) "/" Foo/Baz', "C02 OK LIST done"]
    assert raw_alice.cmd('C03 LIST (SUBSCRIBED) "" "%"') == ["C03 OK LIST done"]
    assert raw_alice.cmd('C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == [
        '* LIST () "/" Foo ("CHILDINFO" ("SUBSCRIBED"))', "C04 OK LIST done",
    ]
    # A1) Foo is subscribed too.
    actions.subscribe(alice, "Foo")
    assert raw_alice.cmd('C05 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == [
        '* LIST (\\Subscribed) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))', "C05 OK LIST done",
    ]
    # B) Nothing subscribed: no responses, although Foo has children.
    actions.unsubscribe(alice, "Foo")
    actions.unsubscribe(alice, "Foo/Baz")
    assert raw_alice.cmd('C06 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == ["C06 OK LIST done"]
    # Only Foo and Moo subscribed: Foo has no subscribed children but has children.
    actions.subscribe(alice, "Foo")
    actions.subscribe(alice, "Moo")
    assert raw_alice.cmd('C07 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)') == [
        '* LIST (\\Subscribed \\HasChildren) "/" Foo', '* LIST (\\Subscribed \\HasNoChildren) "/" Moo',
        "C07 OK LIST done",
    ]


def test_rfc5258_example_9_childinfo_without_haschildren(raw, alice):
    hierarchy(alice, ["foo"], ["foo/bar"])
    raw_alice = login(raw)
    assert raw_alice.cmd('a1 LIST "" ("foo" "foo/*")') == ['* LIST () "/" foo', "a1 OK LIST done"]
    assert raw_alice.cmd('a2 LIST (SUBSCRIBED) "" "foo/*"') == [
        '* LIST (\\Subscribed \\NonExistent) "/" foo/bar', "a2 OK LIST done",
    ]
    assert raw_alice.cmd('a3 LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)') == [
        '* LIST (\\HasNoChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))', "a3 OK LIST done",
    ]


def test_rfc5258_example_10_missing_hierarchy_levels() -> None:
    mailboxes = {"music/rock": "", "Inbox": ""}
    entries = list_entries(ListRequest(("%",)), mailboxes, set())
    assert [(e.name, e.attributes, e.selectable) for e in entries] == [
        ("Inbox", [], True),
        ("music", ["\\NonExistent", "\\HasChildren"], False),
    ]
    assert [e.name for e in list_entries(ListRequest(("*",)), mailboxes, set())] == ["Inbox", "music/rock"]


def test_recursivematch_lists_childinfo_only_for_descendants_not_listed_themselves() -> None:
    # RFC 5258 section 3.5: a parent is listed for CHILDINFO only when a matching
    # descendant is not returned itself; a listed parent gets CHILDINFO the same way.
    mailboxes = {n: "" for n in ("Foo2", "Foo2/Bar1", "Foo2/Bar2", "Baz2", "Baz2/Bar2", "eps2", "eps2/mamba")}
    subs = {"Foo2/Bar1", "Foo2/Bar2", "Baz2/Bar2", "eps2", "eps2/mamba", "qux2/bar2"}
    req = ListRequest(("*2",), subscribed=True, recursive=True)
    assert [(e.name, e.attributes, e.childinfo) for e in list_entries(req, mailboxes, subs)] == [
        ("Baz2/Bar2", ["\\Subscribed"], ()),
        ("Foo2", [], ("SUBSCRIBED",)),
        ("Foo2/Bar2", ["\\Subscribed"], ()),
        ("eps2", ["\\Subscribed"], ("SUBSCRIBED",)),
        ("qux2/bar2", ["\\Subscribed", "\\NonExistent"], ()),
    ]


def test_rfc5819_examples_status_only_for_listed_selectable_mailboxes(raw, alice):
    hierarchy(alice, ["foo/bar"], ["Inbox", "foo/bar"])
    actions.deliver_bytes(alice, "Inbox", MESSAGE)
    actions.deliver_bytes(alice, "Inbox", MESSAGE, flags={"\\Seen"})
    actions.deliver_bytes(alice, "foo", MESSAGE)
    raw_alice = login(raw)
    assert raw_alice.cmd('A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))') == [
        '* LIST () "/" Inbox',
        "* STATUS Inbox (MESSAGES 2 UNSEEN 1)",
        '* LIST () "/" foo',
        "* STATUS foo (MESSAGES 1 UNSEEN 1)",
        "A01 OK LIST done",
    ]
    # "foo" is listed for its subscribed child only: no STATUS for it.
    assert raw_alice.cmd('A02 LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES))') == [
        '* LIST (\\Subscribed) "/" Inbox',
        "* STATUS Inbox (MESSAGES 2)",
        '* LIST () "/" foo ("CHILDINFO" ("SUBSCRIBED"))',
        "A02 OK LIST done",
    ]
    # A subscribed name that does not exist gets no STATUS either.
    actions.subscribe(alice, "Gone")
    assert raw_alice.cmd('A03 LIST (SUBSCRIBED) "" "G*" RETURN (STATUS (MESSAGES) CHILDREN)') == [
        '* LIST (\\Subscribed \\NonExistent \\HasNoChildren) "/" Gone', "A03 OK LIST done",
    ]


def test_special_use_selection_and_return_option(raw, alice):
    actions.create_mailbox(alice, "Lists")
    raw_alice = login(raw)
    assert raw_alice.cmd('s1 LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)') == [
        '* LIST (\\Archive) "/" Archive',
        '* LIST (\\Drafts) "/" Drafts',
        '* LIST (\\Junk) "/" Junk',
        '* LIST (\\Sent) "/" Sent',
        '* LIST (\\Trash) "/" Trash',
        "s1 OK LIST done",
    ]
    assert raw_alice.cmd('s2 LIST "" "L%" RETURN (SPECIAL-USE SUBSCRIBED)') == [
        '* LIST (\\Subscribed) "/" Lists', "s2 OK LIST done",
    ]


def test_it_refuses_invalid_selection_and_return_options(raw_alice):
    # RFC 5258 section 3: unknown options and RECURSIVEMATCH on its own are BAD.
    assert raw_alice.cmd('b1 LIST (RECURSIVEMATCH) "" "*"') == [
        "b1 BAD RECURSIVEMATCH needs the SUBSCRIBED selection option (at '\"\" \"*\"')"
    ]
    assert raw_alice.cmd('b2 LIST (REMOTE RECURSIVEMATCH) "" "*"') == [
        "b2 BAD RECURSIVEMATCH needs the SUBSCRIBED selection option (at '\"\" \"*\"')"
    ]
    assert raw_alice.cmd('b3 LIST (BOGUS) "" "*"') == ["b3 BAD unknown list selection option BOGUS (at '\"\" \"*\"')"]
    assert raw_alice.cmd('b4 LIST "" "*" RETURN (BOGUS)') == ["b4 BAD unknown list return option BOGUS (at ')')"]
    assert raw_alice.cmd('b5 LIST "" "*" RETURN ()') == [
        '* LIST (\\Archive) "/" Archive', '* LIST (\\Drafts) "/" Drafts', '* LIST () "/" Inbox',
        '* LIST (\\Junk) "/" Junk', '* LIST (\\Sent) "/" Sent', '* LIST (\\Trash) "/" Trash', "b5 OK LIST done",
    ]


def test_lsub_returns_unsubscribed_parents_as_noselect(raw, alice):
    hierarchy(alice, ["Work/Projects/Old"], ["Inbox", "Work/Projects/Old", "Gone"])
    raw_alice = login(raw)
    assert raw_alice.cmd('l1 LSUB "" "%"') == [
        '* LSUB (\\Noselect) "/" Gone', '* LSUB () "/" Inbox', '* LSUB (\\Noselect) "/" Work', "l1 OK LSUB done",
    ]
    assert raw_alice.cmd('l2 LSUB "" "Work/%"') == ['* LSUB (\\Noselect) "/" Work/Projects', "l2 OK LSUB done"]
    assert raw_alice.cmd('l3 LSUB "" "*"') == [
        '* LSUB (\\Noselect) "/" Gone', '* LSUB () "/" Inbox', '* LSUB () "/" Work/Projects/Old', "l3 OK LSUB done",
    ]
