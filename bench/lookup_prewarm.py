"""Read premise authentication's tables and all their indexes into
PostgreSQL's shared buffers (``pg_prewarm``), so that a bench measures the
lookup, not the disk: after a restart, or another bench's writes, 7,000,000
premises are read from disk on first touch. All the indexes, since the
planner may answer ``esi_id = %s`` from either of the two on that column
(the unique one or the ``varchar_pattern_ops`` one Django adds), and floor
and portal may not pick the same. Used by ``bench_authentication.py`` and
``bench_api.py``; needs Django set up."""

from django.db import DatabaseError, connection

from premises.models import Meter, Premise, RetailElectricProvider

_TABLES = [Premise._meta.db_table, Meter._meta.db_table, RetailElectricProvider._meta.db_table]


def lookup_relations_prewarm():
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            cursor.execute(
                "SELECT c.relname, pg_prewarm(c.oid::regclass, 'buffer') FROM pg_class c"
                " WHERE c.oid = ANY(SELECT t.oid FROM pg_class t WHERE t.relname = ANY(%s)"
                " UNION SELECT i.indexrelid FROM pg_index i JOIN pg_class t"
                " ON t.oid = i.indrelid WHERE t.relname = ANY(%s)) ORDER BY 1",
                [_TABLES, _TABLES],
            )
            warmed = cursor.fetchall()
    except DatabaseError as exc:
        print(f"prewarm skipped ({exc.__class__.__name__}): the first round reads from disk")
        return
    print("prewarmed (pages): " + ", ".join(f"{name} {pages:,}" for name, pages in warmed))
