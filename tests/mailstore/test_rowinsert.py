"""mailstore.rowinsert: a row inserted with the prepared INSERT reads back as the ORM's."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.forms.models import model_to_dict

from mailstore.models import Change, Message
from mailstore.rowinsert import RowInserter


@pytest.mark.django_db
def test_a_message_row_is_stored_as_the_orm_stores_it(alice) -> None:
    from mailstore.actions import ensure_store
    from mailstore.models import Mailbox

    ensure_store(alice)
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    values = dict(
        account=alice, mailbox=inbox, modseq=7, created_modseq=7, size=123, prefix=b"X-A: b\r\n",
        path="accounts/x/msg/ab/abc", message_id="<m@x>", subject="h\u00e9", from_address="a@x",
        to_addresses=["b@y", "c@z"], sent_date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        received=datetime(2026, 1, 2, 3, 4, 6, 789000, tzinfo=timezone.utc), parsed={"type": "text", "n": [1, 2]},
        keywords=["$label1"], dkim_domains=["x"], validations={"spf": "pass"}, seen=True, mailbox_orig=inbox.pk,
    )
    orm = Message.objects.create(uid=1, **values)
    inserter = RowInserter(Message)
    assert inserter.plain
    fast = Message(uid=2, **values)
    params = inserter.params(fast)
    fast.uid = 3
    inserter.refresh(fast, params, ("uid",))
    inserter.insert(fast, params=params)
    assert fast.pk is not None and fast.pk != orm.pk and not fast._state.adding

    def stored(pk: int) -> dict[str, object]:
        row = model_to_dict(Message.objects.get(pk=pk))
        row.pop("id")
        row.pop("uid")
        return row

    assert stored(fast.pk) == stored(orm.pk)
    assert Message.objects.get(pk=fast.pk).uid == 3
    change = RowInserter(Change).insert(Change(account=alice, modseq=8, kind=Change.Kind.ADD, uids=[3]))
    assert Change.objects.get(pk=change.pk).uids == [3]


@pytest.mark.django_db
def test_params_are_the_values_djangos_field_methods_make(alice) -> None:
    """Values taken as they are (text, bool, int, None) and those converted by the
    fields (dates, JSON, binary, keys, a text choice, an int given as text) alike."""
    from django.db import connection

    from mailstore.actions import ensure_store
    from mailstore.models import Mailbox

    ensure_store(alice)
    inbox = Mailbox.objects.get(account=alice, name="Inbox")
    message = Message(
        account=alice, mailbox=inbox, uid=5, modseq="7", created_modseq=7, size=123, prefix=b"X-A: b\r\n",
        path="accounts/x/msg/ab/abc", message_id="<m@x>", subject="h\u00e9", from_address=None, seen=True,
        answered=False, received=datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc), parsed={"n": [1]},
        keywords=["$label1"], mailbox_orig=inbox.pk, mail_from_validation=Message.Validation.PASS,
    )
    inserter = RowInserter(Message)
    expected = [f.get_db_prep_save(f.pre_save(message, True), connection) for f in inserter.fields]
    got = inserter.params(message)
    assert [type(v) for v in got] == [type(v) for v in expected]

    def plain(value: object) -> object:  # psycopg's Jsonb wrappers compare by identity
        return getattr(value, "obj", value)

    assert [plain(v) for v in got] == [plain(v) for v in expected]
    assert got[[f.name for f in inserter.fields].index("modseq")] == 7  # "7" converted, as the ORM does


@pytest.mark.django_db
def test_fetch_one_returns_the_first_row_and_raises_djangos_errors(alice) -> None:
    from django.db import IntegrityError, connection, transaction

    from accounts.models import Domain
    from mailstore.rowinsert import fetch_one

    table = Domain._meta.db_table
    Domain.objects.create(name="one.test", ascii="one.test")
    assert fetch_one(connection, f"SELECT ascii FROM {table} WHERE name = %s", ["one.test"]) == ("one.test",)
    assert fetch_one(connection, f"SELECT ascii FROM {table} WHERE name = %s", ["none.test"]) is None
    assert fetch_one(connection, "SELECT %s || '%%'", ["a"]) == ("a%",)
    with pytest.raises(IntegrityError), transaction.atomic():
        fetch_one(connection, f"UPDATE {table} SET name = %s WHERE name = %s RETURNING id",
                  ["one.test", "one.test"])  # no change: returns the row
        Domain.objects.create(name="two.test", ascii="two.test")
        fetch_one(connection, f"UPDATE {table} SET name = %s WHERE name = %s RETURNING id", ["one.test", "two.test"])


@pytest.mark.django_db
def test_values_params_and_insert_values_make_the_rows_an_instance_would(alice) -> None:
    inserter = RowInserter(Change)
    values = {"account_id": alice.pk, "modseq": 41, "mailbox_id_ref": 7, "kind": "add", "uids": [3]}
    made = inserter.values_params(values)
    from_instance = inserter.params(Change(account=alice, modseq=41, mailbox_id_ref=7, kind=Change.Kind.ADD,
                                           uids=[3]))

    def plain(value: object) -> object:  # psycopg's Jsonb wrappers compare by identity
        return getattr(value, "obj", value)

    assert [plain(v) for v in made] == [plain(v) for v in from_instance]
    rows = [inserter.values_params({**values, "modseq": 41 + i, "uids": [3 + i]}) for i in range(3)]
    inserter.insert_values(rows)
    stored = Change.objects.filter(account=alice, modseq__gte=41).order_by("modseq")
    assert [(c.modseq, c.mailbox_id_ref, c.kind, c.uids, c.data) for c in stored] == [
        (41 + i, 7, "add", [3 + i], {}) for i in range(3)]


@pytest.mark.django_db
def test_an_instance_made_by_position_is_the_one_made_by_keyword(alice, django_assert_num_queries) -> None:
    """InstanceMaker: the given values, every other field at its default (a fresh list
    or dict each time), the related account kept without a query to read it back."""
    from django.db.models.base import DEFERRED

    from mailstore.rowinsert import InstanceMaker

    values = dict(uid=0, modseq=0, created_modseq=0, size=12, prefix=b"X: y\r\n", path="accounts/1/msg/ab/c",
                  received=datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc), subject="s", to_addresses=["b@y"],
                  seen=True, remote_ip_masked1="10.0.0.1")
    maker = InstanceMaker(Message)
    made = maker.make({"account_id": alice.pk, **values}, cached={"account": alice})
    by_keyword = Message(account=alice, **values)
    generated = {f.attname for f in Message._meta.concrete_fields if f.generated}
    assert {k: v for k, v in made.__dict__.items() if k != "_state" and k not in generated} == \
        {k: v for k, v in by_keyword.__dict__.items() if k != "_state" and k not in generated}
    assert made.__dict__.get("flagmask", DEFERRED) is DEFERRED
    assert made._state.adding and made.pk is None
    with django_assert_num_queries(0):
        assert made.account is alice
    other = maker.make({"account_id": alice.pk, **values})
    assert other.keywords == [] and other.parsed == {}
    assert other.keywords is not made.keywords and other.parsed is not made.parsed
