"""Read premise authentication's tables and indexes into PostgreSQL's shared
buffers (``pg_prewarm``), so that a bench measures the lookup, not the disk:
after a restart, 7,000,000 premises are read from disk on every first touch.
Floor and portal read the same relations and profit alike. Used by
``bench_authentication.py`` and ``bench_api.py``; needs Django set up."""

from django.db import DatabaseError, connection

from premises.models import Meter

_LOOKUP_RELATIONS = [
    "premises_premise", "premises_premise_esi_id_key", "premises_premise_pkey", "premises_meter",
]  # fmt: skip


def lookup_relations_prewarm():
    if connection.vendor != "postgresql":
        return
    relations = (
        _LOOKUP_RELATIONS
        + [index.name for index in Meter._meta.indexes]
        + [f"{Meter._meta.db_table}_premise_id_%"]
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            cursor.execute(
                "SELECT c.relname, pg_prewarm(c.oid::regclass, 'buffer') FROM pg_class c"
                " WHERE c.relname = ANY(%s) OR c.relname LIKE %s",
                [relations[:-1], relations[-1]],
            )
            warmed = cursor.fetchall()
    except DatabaseError as exc:
        print(f"prewarm skipped ({exc.__class__.__name__}): the first round reads from disk")
        return
    print("prewarmed (pages): " + ", ".join(f"{name} {pages:,}" for name, pages in warmed))
