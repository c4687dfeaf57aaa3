"""Statements built once for the API's hottest paths, read and written as the ORM would.

On a request that does little else, the ORM's compiling of a query costs more
than the database spends answering it (issue 16: a key lookup with its CSP
joined, 18 columns, compiled afresh on every request). These helpers build
the SQL once per process and keep the ORM's conventions: values prepared by
the model's fields on the way in, converted by the backend's and the fields'
converters on the way out, instances made by ``Model.from_db``.

On PostgreSQL their SELECTs are also planned once per connection
(``planned_once_cursor``): planning the premise lookup took three times as
long as running it (0.24 against 0.07 ms).
"""

from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections


class PreparedInsert:
    """A single-row ``INSERT`` into one model's table."""

    def __init__(self, model):
        # Every column but an automatic primary key; a value not given is the field's default.
        self.fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        table = connection.ops.quote_name(model._meta.db_table)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608

    def params(self, values):
        """``values`` by attribute name (``csp_id``, not ``csp``)."""
        # The connection itself, not the proxy: each of its attributes is a
        # thread-local lookup, a dozen per call on the hottest path.
        db = connections[DEFAULT_DB_ALIAS]
        return [
            field.get_db_prep_save(
                values[field.attname] if field.attname in values else field.get_default(), db
            )
            for field in self.fields
        ]

    def execute(self, values):
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params(values))


class ModelColumns:
    """A model's columns (all, or the ``only`` named: the rest deferred, as
    ``QuerySet.only`` leaves them) as ``alias.column`` for a SELECT list, and
    the instance made from its slice of a row."""

    def __init__(self, model, alias, *, only=None):
        self.model = model
        if only is None:
            self.fields = list(model._meta.concrete_fields)
        else:
            self.fields = [model._meta.get_field(name) for name in only]
        self.attnames = [f.attname for f in self.fields]
        quote = connection.ops.quote_name
        self.sql = ", ".join(f"{alias}.{quote(f.column)}" for f in self.fields)
        self.width = len(self.fields)
        self._converters = None

    def instance(self, row, start=0):
        db = connections[DEFAULT_DB_ALIAS]
        values = list(row[start : start + self.width])
        for index, converters, col in self._conversions():
            value = values[index]
            for convert in converters:
                value = convert(value, col, db)
            values[index] = value
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)

    def _conversions(self):
        # As SQLCompiler.get_converters does: the backend's, then the field's.
        if self._converters is None:
            conversions = []
            for index, field in enumerate(self.fields):
                col = field.get_col(self.model._meta.db_table)
                converters = [
                    *connection.ops.get_db_converters(col),
                    *col.get_db_converters(connection),
                ]
                if converters:
                    conversions.append((index, converters, col))
            self._converters = conversions
        return self._converters


@contextmanager
def planned_once_cursor():
    """A cursor (Django's: logged, wrapped, its errors Django's) whose
    statements PostgreSQL parses and plans once per connection, as prepared
    statements, then only binds and runs.

    Django turns psycopg's prepared statements off for everything, since a
    transaction-mode pooler (PgBouncer before 1.21) cannot keep them; behind
    one, set ``DATABASE_PREPARED_STATEMENTS=0``. Statements used here name
    their columns (never ``*``), so a migration that adds a column does not
    invalidate a prepared statement's result type. Elsewhere, and on SQLite,
    an ordinary cursor.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        with db.cursor() as cursor:
            yield cursor
        return
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = _prepared_cursor_class()(db.connection)
    raw.keep_query = db.queries_logged
    with db._prepare_cursor(raw) as cursor:
        yield cursor


_PREPARED_CURSOR = None


def _prepared_cursor_class():
    global _PREPARED_CURSOR
    if _PREPARED_CURSOR is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparingCursor(ServerBindingCursor):
            # Django's query log (DEBUG, tests) reads ``_query.query``, which a
            # run of a prepared statement leaves empty: there it gets the
            # statement with its values in place, as for any other query.
            keep_query = False

            def execute(self, query, params=None, **kwargs):
                kwargs.setdefault("prepare", True)
                super().execute(query, params, **kwargs)
                if self.keep_query:
                    self._query = _LoggedQuery(connection.ops.compose_sql(query, params))
                return self

        _PREPARED_CURSOR = PreparingCursor
    return _PREPARED_CURSOR


class _LoggedQuery:
    __slots__ = ("query",)

    def __init__(self, text):
        self.query = text.encode()
