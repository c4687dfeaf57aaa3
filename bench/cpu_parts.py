"""CPU time spent by each part of a bench run under gunicorn: the workers,
their PostgreSQL backends, Redis and the client (this process). On a machine
whose CPUs all these share, throughput follows the sum, so the split says
where a request's cost is, which no wall-clock figure can (a server process
waiting for PostgreSQL costs nothing). Needs Django set up and Linux /proc.

    before = cpu_parts(server.pid)
    ... drive the requests ...
    per_request = cpu_per_request(before, cpu_parts(server.pid), count)
"""

import os
import resource

from django.db import connection

_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid):
    """Seconds of CPU (user + system) a process has spent, 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_parts(server_pid):
    """CPU seconds so far: gunicorn's workers (the children of ``server_pid``),
    the backends connected to this database (but this process's), Redis (the
    whole server, when REDIS_URL is set) and this client. The workers must
    keep their connections for the run (CONN_MAX_AGE), or a closed backend's
    CPU is lost."""
    import redis

    with open(f"/proc/{server_pid}/task/{server_pid}/children") as children:
        workers = [int(pid) for pid in children.read().split()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
    parts = {
        "workers": sum(_process_cpu(pid) for pid in workers),
        "postgres": sum(_process_cpu(pid) for pid in backends),
    }
    if os.environ.get("REDIS_URL"):
        info = redis.Redis.from_url(os.environ["REDIS_URL"]).info("cpu")
        parts["redis"] = info["used_cpu_user"] + info["used_cpu_sys"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    parts["client"] = usage.ru_utime + usage.ru_stime
    return parts


def cpu_per_request(before, after, count):
    """Milliseconds of CPU per request, by part."""
    return {part: (after[part] - before.get(part, 0.0)) / count * 1000 for part in after}


def cpu_line(name, per_request):
    shown = ", ".join(f"{part} {ms:.2f}" for part, ms in per_request.items())
    return f"  {name:<8}{sum(per_request.values()):6.2f} = {shown}"
