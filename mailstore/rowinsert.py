"""One INSERT for a model instance with its SQL built once, for the delivery path.

`Model.objects.create` compiles its INSERT afresh for every row (quoting, placeholders,
expression checks, signals): for a Message, with its 60 columns, that was a quarter of
the SMTP ingest benchmark's Python time. The values go through the same field methods
the ORM uses (`pre_save`, `get_db_prep_save`), so stored values are identical; models
whose fields need more than a plain %s (database defaults, other placeholders) are
saved by the ORM; generated columns are left to the database, as the ORM leaves them.
"""
from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations

M = TypeVar("M", bound=models.Model)
_ABSENT = object()


class _JSON_TEXT:  # noqa: N801 - a marker, never instantiated
    """`RowInserter._unchanged_types`'s mark of a JSON field stored as `json.dumps` text."""


def fetch_one(connection: BaseDatabaseWrapper, sql: str, params: Sequence[object]) -> tuple[Any, ...] | None:
    """Run `sql` (%s placeholders; a statement that returns rows) and return its first
    row, None without one.

    On SQLite the statement goes straight to the driver's cursor (`_driver_cursor`):
    Django's cursor rewrote the placeholders with a regular expression over the whole
    statement on every call (for the Message INSERT's 60 columns, a quarter of the group
    commit thread's time). Where queries are logged or wrapped (DEBUG, tests counting
    them), Django's cursor runs it."""
    if _direct(connection):
        with _driver_cursor(connection) as cursor:
            cursor.execute(_qmark(sql), params)
            return cursor.fetchone()  # type: ignore[no-any-return]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]


def _direct(connection: BaseDatabaseWrapper) -> bool:
    """Whether statements may skip Django's cursor: SQLite, queries neither logged nor wrapped."""
    return connection.vendor == "sqlite" and not connection.queries_logged and not connection.execute_wrappers


@contextlib.contextmanager
def _driver_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """The driver's own cursor, with Django's error translation and broken-transaction check."""
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        cursor = connection.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


@functools.lru_cache(maxsize=256)
def _qmark(sql: str) -> str:
    """Django's SQLite placeholder conversion ("format" to "qmark" style), once per statement."""
    from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX

    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


class RowInserter(Generic[M]):
    def __init__(self, model: type[M]) -> None:
        meta = model._meta
        self.model = model
        self.pk = meta.pk
        # Generated columns are the database's to fill, as in the ORM's INSERT.
        self.fields = [f for f in meta.concrete_fields if f is not meta.pk and not getattr(f, "generated", False)]
        self._index = {f.name: i for i, f in enumerate(self.fields)}
        self.plain = isinstance(meta.pk, models.AutoField) and not any(f.has_db_default() for f in self.fields)
        self._sql: dict[str, str | None] = {}
        self._sql_rows: dict[tuple[str, int, bool], str] = {}
        self._kinds: dict[str, tuple[type | None, ...]] = {}

    def _statement(self, connection: BaseDatabaseWrapper) -> str | None:
        """The INSERT, or None when a field wants a placeholder other than %s here
        (BinaryField does on MySQL)."""
        if connection.vendor not in self._sql:
            self._sql[connection.vendor] = self._build(connection)
        return self._sql[connection.vendor]

    def _build(self, connection: BaseDatabaseWrapper) -> str | None:
        for f in self.fields:
            placeholder = getattr(f, "get_placeholder", None)
            if placeholder is not None and any(placeholder(v, None, connection) != "%s" for v in (None, b"")):
                return None
        return self._sql_for(connection, 1)

    def _sql_for(self, connection: BaseDatabaseWrapper, rows: int, returning: bool = True) -> str:
        """The INSERT of `rows` rows (made once per vendor, row count and RETURNING)."""
        key = (connection.vendor, rows, returning)
        if key not in self._sql_rows:
            self._sql_rows[key] = self._make_sql(connection, rows, returning)
        return self._sql_rows[key]

    def _make_sql(self, connection: BaseDatabaseWrapper, rows: int, returning: bool) -> str:
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in self.fields)
        marks = ", ".join([f"({', '.join(['%s'] * len(self.fields))})"] * rows)
        assert self.pk is not None
        sql = f"INSERT INTO {qn(self.model._meta.db_table)} ({columns}) VALUES {marks}"
        return f"{sql} RETURNING {qn(self.pk.column)}" if returning else sql

    def params(self, obj: M, using: str = "default") -> list[object]:
        """`obj`'s values as the database takes them, in the INSERT's column order. A
        value the field's methods would return unchanged (`_unchanged_types`) is taken
        as it is: those calls were most of the time of building a Message's 57 values."""
        connection = connections[using]
        values = obj.__dict__
        out: list[object] = []
        for f, kind in zip(self.fields, self._unchanged_types(connection), strict=True):
            value = values.get(f.attname, _ABSENT)
            # `_shortcut` written out for the plain kinds (it ran for each of a Message's
            # 52 values), then the field's methods for what is left.
            if kind is None or (kind is not _JSON_TEXT and value is not None and type(value) is not kind):
                value = _ABSENT
            elif kind is _JSON_TEXT:
                value = _shortcut(kind, value)
            out.append(f.get_db_prep_save(f.pre_save(obj, True), connection) if value is _ABSENT else value)
        return out

    def values_params(self, values: dict[str, object], using: str = "default") -> list[object]:
        """`params()` of a new instance with these field values (by attname; others get
        their defaults), without making the instance: for rows nobody reads back (a
        delivery's change-log rows). Only for models whose fields' `pre_save` returns
        the value as it is (no auto_now, no file fields)."""
        connection = connections[using]
        out: list[object] = []
        for f, kind in zip(self.fields, self._unchanged_types(connection), strict=True):
            value = values[f.attname] if f.attname in values else f.get_default()
            quick = _shortcut(kind, value) if kind is not None else _ABSENT
            out.append(f.get_db_prep_save(value, connection) if quick is _ABSENT else quick)
        return out

    def insert_values(self, params: Sequence[list[object]], using: str = "default") -> None:
        """Insert rows given as `params()` lists, their keys not wanted back, with one
        statement per batch the database takes."""
        connection = connections[using]
        size = max(1, connection.ops.bulk_batch_size(self.fields, params))
        for start in range(0, len(params), size):
            chunk = params[start : start + size]
            sql = self._sql_for(connection, len(chunk), returning=False)
            flat = [v for values in chunk for v in values]
            if _direct(connection):
                _insert_rows(connection, sql, flat)
            else:
                with connection.cursor() as cursor:
                    cursor.execute(sql, flat)

    def _unchanged_types(self, connection: BaseDatabaseWrapper) -> tuple[type | None, ...]:
        """Per field, the type whose values (and None) its `pre_save` and
        `get_db_prep_save` return unchanged on this connection, or None: text for the
        plain text fields, bool for BooleanField, int for the integer fields where the
        backend adapts none (psycopg 3 wraps them) and for a foreign key to an automatic
        key the backend takes as it is (`_key_kind`). `_JSON_TEXT` for a JSONField without
        an encoder where the backend stores JSON as `json.dumps` text (SQLite): a list or
        dict value is dumped here, as the field's methods would."""
        found = self._kinds.get(connection.vendor)
        if found is None:
            ops = type(connection.ops)
            kinds: dict[type, type] = {models.CharField: str, models.TextField: str, models.BooleanField: bool}
            if ops.adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value:
                kinds.update({t: int for t in (models.IntegerField, models.BigIntegerField, models.SmallIntegerField,
                                               models.PositiveIntegerField, models.PositiveBigIntegerField,
                                               models.PositiveSmallIntegerField)})
            if ops.adapt_json_value is BaseDatabaseOperations.adapt_json_value:
                kinds[models.JSONField] = _JSON_TEXT
            found = self._kinds[connection.vendor] = tuple(
                None if isinstance(f, models.JSONField) and f.encoder is not None
                else _key_kind(f, ops) if isinstance(f, models.ForeignKey) else kinds.get(type(f))
                for f in self.fields)
        return found

    def refresh(self, obj: M, params: list[object], names: tuple[str, ...], using: str = "default") -> None:
        """Convert again the named fields of `obj`, changed since `params` was made."""
        connection = connections[using]
        kinds = self._unchanged_types(connection)
        values = obj.__dict__
        for name in names:
            i = self._index[name]
            f, kind = self.fields[i], kinds[i]
            value = _shortcut(kind, values.get(f.attname, _ABSENT)) if kind is not None else _ABSENT
            params[i] = f.get_db_prep_save(f.pre_save(obj, True), connection) if value is _ABSENT else value

    def insert(self, obj: M, using: str = "default", *, params: list[object] | None = None) -> M:
        """Insert `obj` (a new instance) and set its primary key, as `save()` would.
        `params`: its values from `params()` (and `refresh()`), when made earlier."""
        connection = connections[using]
        sql = self._statement(connection) if self.plain and connection.features.can_return_columns_from_insert else None
        if sql is None:
            obj.save(force_insert=True, using=using)
            return obj
        if params is None:
            params = self.params(obj, using)
        row = fetch_one(connection, sql, params)
        assert row is not None
        _saved(obj, row[0], using)
        return obj

    def insert_many(self, objs: Sequence[M], params: Sequence[list[object]], using: str = "default") -> None:
        """Insert new instances, given their `params()`, with one statement per batch
        the database takes, and set their primary keys. On SQLite, whose AUTOINCREMENT
        keys of one multi-row INSERT are consecutive, they are counted back from the last
        one; rows to RETURN would each have been one more step of the statement, that is
        one more wait to take the GIL back in a busy process. Elsewhere, or where
        `insert` would use the ORM, one `insert` each."""
        connection = connections[using]
        if not (self.plain and _direct(connection) and self._statement(connection)):
            for obj, values in zip(objs, params, strict=True):
                self.insert(obj, using, params=values)
            return
        size = max(1, connection.ops.bulk_batch_size(self.fields, objs))
        for start in range(0, len(objs), size):
            chunk = objs[start : start + size]
            last = _insert_rows(connection, self._sql_for(connection, len(chunk), returning=False),
                                [v for values in params[start : start + size] for v in values])
            for pk, obj in enumerate(chunk, last - len(chunk) + 1):
                _saved(obj, pk, using)


def _key_kind(field: models.ForeignKey[Any, Any], ops: type[BaseDatabaseOperations]) -> type | None:
    """int when a foreign key's values go to the database as they are: it refers to an
    automatic (integer) key, whose `get_db_prep_value` only passes it through the
    backend's `validate_autopk_value`, here the base one that returns it unchanged."""
    target = field.target_field
    if isinstance(target, models.AutoField | models.BigAutoField | models.SmallAutoField) and \
            ops.validate_autopk_value is BaseDatabaseOperations.validate_autopk_value:
        return int
    return None


def _shortcut(kind: type, value: object) -> object:
    """`value` as the database takes it, for a field of `_unchanged_types` kind `kind`,
    when that needs no field method; else _ABSENT. An empty list or dict is the text
    `json.dumps` makes of it, without the call."""
    if kind is _JSON_TEXT:
        if type(value) is list:
            return json.dumps(value) if value else "[]"
        return (json.dumps(value) if value else "{}") if type(value) is dict else _ABSENT
    return value if value is None or type(value) is kind else _ABSENT


def _saved(obj: models.Model, pk: int, using: str) -> None:
    """`obj` as `save()` leaves a new instance: its key set, no longer adding."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = using


def _insert_rows(connection: BaseDatabaseWrapper, sql: str, params: Sequence[object]) -> int:
    """Run an INSERT on SQLite's own cursor and return the rowid of its last row."""
    with _driver_cursor(connection) as cursor:
        cursor.execute(_qmark(sql), params)
        return int(cursor.lastrowid)


class InstanceMaker(Generic[M]):
    """New, unsaved model instances made from their field values by position, as
    `Model.from_db` makes loaded ones. `Model(**values)` looked up a default for every
    field not given and went through each keyword: for a Message (55 columns, a dozen
    given), 40 µs against 9."""

    def __init__(self, model: type[M]) -> None:
        from django.db.models.base import DEFERRED

        self.model = model
        fields = model._meta.concrete_fields
        self._index = {f.attname: i for i, f in enumerate(fields)}
        # Each field's default (a generated column's is the database's), and the fields
        # whose default is made afresh for each instance (`default=list`).
        self._template = [DEFERRED if getattr(f, "generated", False) else f.get_default() for f in fields]
        self._fresh = [(i, f.get_default) for i, f in enumerate(fields)
                       if not getattr(f, "generated", False) and f.has_default() and callable(f.default)]
        self._relations = {f.name: f for f in fields if f.is_relation}

    def make(self, values: dict[str, object], cached: dict[str, models.Model] | None = None) -> M:
        """An instance with these values (by attname: `account_id`, not `account`),
        every other field at its default. `cached`: the related instances its keys
        refer to, by field name, kept on it as assigning them would (`message.account`)."""
        row = self._template.copy()
        for i, default in self._fresh:
            row[i] = default()
        index = self._index
        for name, value in values.items():
            row[index[name]] = value
        obj = self.model(*row)
        for name, other in (cached or {}).items():
            self._relations[name].set_cached_value(obj, other)
        return obj


class RowLoader(Generic[M]):
    """A model instance from a row a raw statement returned (`RETURNING` the columns of
    `returning(connection)`), with the ORM's conversions of each column."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self._converters: dict[str, list[list[Any]]] = {}

    def returning(self, connection: BaseDatabaseWrapper) -> str:
        qn = connection.ops.quote_name
        return ", ".join(qn(f.column) for f in self.fields)

    def load(self, row: tuple[Any, ...], using: str = "default") -> M:
        connection = connections[using]
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = []
            for f in self.fields:
                col = f.get_col(self.model._meta.db_table)
                converters.append(connection.ops.get_db_converters(col) + f.get_db_converters(connection))
            self._converters[connection.vendor] = converters
        values = []
        for f, value, convs in zip(self.fields, row, converters):
            for convert in convs:
                value = convert(value, f.get_col(self.model._meta.db_table), connection)
            values.append(value)
        return self.model.from_db(using, [f.attname for f in self.fields], values)
