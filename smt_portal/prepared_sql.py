"""Statements built once for the API's hottest paths, read and written as the ORM would.

On a request that does little else, the ORM's compiling of a query costs more
than the database spends answering it (issue 16: a key lookup with its CSP
joined, 18 columns, compiled afresh on every request). These helpers build
the SQL once per process and keep the ORM's conventions: values prepared by
the model's fields on the way in, converted by the backend's and the fields'
converters on the way out, instances made by ``Model.from_db``.
"""

from django.db import connection


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
        return [
            field.get_db_prep_save(
                values[field.attname] if field.attname in values else field.get_default(),
                connection,
            )
            for field in self.fields
        ]

    def execute(self, values):
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params(values))


class ModelColumns:
    """All of a model's columns as ``alias.column`` for a SELECT list, and the
    instance made from its slice of a row."""

    def __init__(self, model, alias):
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]
        quote = connection.ops.quote_name
        self.sql = ", ".join(f"{alias}.{quote(f.column)}" for f in self.fields)
        self.width = len(self.fields)
        self._converters = None

    def instance(self, row, start=0):
        values = list(row[start : start + self.width])
        for index, converters, col in self._conversions():
            value = values[index]
            for convert in converters:
                value = convert(value, col, connection)
            values[index] = value
        return self.model.from_db(connection.alias, self.attnames, values)

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
