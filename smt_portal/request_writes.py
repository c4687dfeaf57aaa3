"""Rows an API request owes, written with its request-log row in one round trip.

On the API's hottest path, premise authentication (issue 16), a request owes
two rows that nothing reads before the answer: monitoring's attempt and the
request log. Each was its own INSERT, its own round trip to PostgreSQL.
Inside an API request (``request_writes_collected``, opened by the API
middleware) whose view writes nothing else (``request_writes_defer``), an
app that owes a single row outside any transaction of its own queues it here
(``request_write_queue``); the middleware then writes the queue and the log
row as one list of statements, which PostgreSQL runs as one implicit
transaction: all or none.

Nothing is lost and nothing is answered unrecorded: the answer leaves only
after the write, and when the write fails the middleware answers 503
instead (``csp_registry.api.middleware``). Inside a transaction opened after
the collection began (the agreements endpoint) a row is never queued: it
belongs to that transaction and commits or rolls back with it.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction

from smt_portal.prepared_sql import PreparedInsert

_collecting: ContextVar["_Queue | None"] = ContextVar("request_writes", default=None)


class _Queue(list):
    def __init__(self):
        super().__init__()
        # The transactions already open when the request began (a test's own).
        self.depth = len(connection.atomic_blocks)
        # Only a view that commits nothing of its own opens it: a 503 after
        # another change had committed would tell a client "nothing was done".
        self.open = False


@contextmanager
def request_writes_collected():
    """Collect the request's queued rows; yields the queue to flush."""
    token = _collecting.set(queue := _Queue())
    try:
        yield queue
    finally:
        _collecting.reset(token)


def request_writes_defer():
    """Let this request's rows wait for its final write. Called by a view
    whose only writes are such rows (premise authentication), so that the
    503 a failed final write answers is true: nothing was done."""
    queue = _collecting.get()
    if queue is not None:
        queue.open = True


def request_write_queue(insert: PreparedInsert, values: dict) -> bool:
    """Queue one row for the request's final write. ``False`` (the caller
    writes it now) outside an API request whose view deferred its writes, or
    inside a transaction the request opened."""
    queue = _collecting.get()
    if queue is None or not queue.open or len(connection.atomic_blocks) != queue.depth:
        return False
    queue.append((insert, values))
    return True


def request_writes_flush(queue, *, last=()):
    """Write the queued rows and ``last`` (more ``(insert, values)``) in one
    round trip on PostgreSQL; raises ``DatabaseError`` if any of them fails,
    and then none is written."""
    writes = [*queue, *last]
    queue.clear()
    if not writes:
        return
    if len(writes) == 1:
        insert, values = writes[0]
        insert.execute(values)
        return
    if connection.vendor != "postgresql":
        # SQLite runs one statement per call (and has no round trip to save).
        with transaction.atomic():
            for insert, values in writes:
                insert.execute(values)
        return
    # Statements separated by ";" go as one simple query: one round trip, and
    # PostgreSQL runs them as one implicit transaction.
    sql = ";\n".join(insert.sql for insert, _ in writes)
    params = [param for insert, values in writes for param in insert.params(values)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
