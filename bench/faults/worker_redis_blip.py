"""Does the portal's Celery worker survive a Redis blip, and keep consuming?

    .venv/bin/python bench/faults/worker_redis_blip.py [--cycles 5] [--down 30]
        [--port 63811] [--pool prefork --concurrency 4] [--conf KEY=VALUE ...]
        [--worker-arg=--without-heartbeat ...]

Starts its own Redis on 127.0.0.1 (its own port, AOF on, data in a temporary
folder) and a real worker of this project run as compose runs it
(``celery -A smt_portal worker --concurrency=4``: prefork, with gossip, mingle
and the worker heartbeat on; REDIS_URL pointing at that Redis, a scratch
SQLite file as DATABASE_URL), with ``bench/faults/blip_tasks.py`` included for
load and a probe. A thread keeps
publishing short ``busy`` tasks so the worker has messages in flight. Each
cycle stops Redis (SIGTERM, as ``docker stop`` does) for ``--down`` seconds,
starts it again on the same AOF, then publishes a ``mark`` task every few
seconds until the worker writes its file (or ``--recover-timeout`` passes).

One row per cycle: is the worker process alive, its exit status if not, did it
consume after the blip and how long after Redis came back, and the worker's
"Unrecoverable error" line if it logged one. A worker that died is started
again before the next cycle, so each cycle is a fresh trial.

``--conf KEY=VALUE`` is handed to the worker as a configuration override
(``celery worker -- KEY=VALUE``; ``(json)`` casts, e.g.
``broker_connection_max_retries=(json)null``). Everything started is stopped
on exit, Ctrl-C included; the run is bounded by the timeouts above.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab import HOST, ROOT, Redis  # noqa: E402 - the lab shared with the fault battery

PROBE_EVERY = 3.0


def main():
    args = _parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up on TERM too
    work = Path(tempfile.mkdtemp(prefix="worker-redis-blip-"))
    redis = Redis(args.port, work)
    worker = Worker(args, work)
    publisher = None
    rows = []
    try:
        redis.start()
        _print_versions(args)
        worker.start()
        if not worker.consumes(timeout=args.recover_timeout):
            sys.exit(f"the worker never consumed a first task; see {worker.log_path}")
        publisher = Publisher(worker.broker_url, rate=args.rate, seconds=args.task_seconds)
        publisher.start()
        for cycle in range(1, args.cycles + 1):
            rows.append(_one_cycle(cycle, args, redis, worker))
            _print_row(rows[-1], header=cycle == 1)
        _print_summary(rows)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan them
        if publisher:
            publisher.stop()
        worker.stop()
        redis.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _one_cycle(cycle, args, redis, worker):
    restarted = False
    if not worker.alive():
        worker.start()
        restarted = worker.consumes(timeout=args.recover_timeout)
    time.sleep(args.busy_before)
    log_mark = worker.log_size()
    redis.stop()
    time.sleep(args.down)
    redis.start()
    back = time.monotonic()
    consumed = worker.consumes(timeout=args.recover_timeout)
    return {
        "cycle": cycle,
        "alive": worker.alive(),
        "exit": worker.exit_status(),
        "consumed": consumed,
        "after": round(time.monotonic() - back, 1) if consumed else None,
        "error": worker.unrecoverable_since(log_mark),
        "restarted": restarted,
    }


class Worker:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.broker_url = f"redis://{HOST}:{args.port}/0"
        self.log_path = work / "worker.log"
        self.probe_path = work / "probe"
        self.process = None
        self.probe_app = _app(self.broker_url)

    def start(self):
        env = {k: v for k, v in os.environ.items() if k not in {"EMAIL_URL", "SMT_TESTING"}}
        env.update(
            REDIS_URL=self.broker_url,
            DATABASE_URL=f"sqlite:///{self.work / 'scratch.sqlite3'}",
            # --pythonpath first: other celery/kombu/redis versions, installed
            # with `pip install --target DIR`, shadow the venv's for the worker.
            PYTHONPATH=os.pathsep.join([*self.args.pythonpath, str(ROOT)]),
        )
        command = [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "smt_portal",
            "worker",
            "--loglevel=INFO",
            f"--pool={self.args.pool}",
            f"--concurrency={self.args.concurrency}",
            "--include=bench.faults.blip_tasks",
            f"--hostname=blip-{uuid.uuid4().hex[:6]}@%h",
            *self.args.worker_arg,
        ]
        if self.args.conf:
            command += ["--", *self.args.conf]
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def exit_status(self):
        return None if self.process is None else self.process.poll()

    def consumes(self, timeout):
        """Publish a probe every few seconds until the worker writes its file."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        next_probe = 0.0
        while time.monotonic() < deadline and self.alive():
            if time.monotonic() >= next_probe:
                next_probe = time.monotonic() + PROBE_EVERY
                _publish(self.probe_app, "bench.faults.mark", (str(self.probe_path), token))
            if self.probe_path.exists() and self.probe_path.read_text() == token:
                return True
            time.sleep(0.2)
        return False

    def log_size(self):
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def unrecoverable_since(self, offset):
        with self.log_path.open(errors="replace") as log:
            log.seek(offset)
            text = log.read()
        found = re.search(r"Unrecoverable error: (.*)", text)
        return found.group(1).strip()[:90] if found else ""

    def stop(self):
        if not self.alive():
            return
        self.process.terminate()  # a warm shutdown: the main process stops its pool
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Publisher(threading.Thread):
    """Keeps publishing short tasks; failures while Redis is down are counted."""

    def __init__(self, broker_url, *, rate, seconds):
        super().__init__(daemon=True)
        self.app = _app(broker_url)
        self.interval = 1 / rate
        self.seconds = seconds
        self.stopping = threading.Event()
        self.sent = self.failed = 0

    def run(self):
        while not self.stopping.wait(self.interval):
            if _publish(self.app, "bench.faults.busy", (self.seconds,)):
                self.sent += 1
            else:
                self.failed += 1

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)


def _app(broker_url):
    """A bare client app: publishing is not what is under test."""
    from celery import Celery

    app = Celery("blip-client", broker=broker_url)
    app.conf.update(
        broker_connection_timeout=2,
        task_publish_retry=False,
        broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2},
        broker_connection_retry_on_startup=False,
    )
    return app


def _publish(app, name, args):
    try:
        app.send_task(name, args=args)
    except Exception:  # Redis is down: the caller counts or retries
        return False
    return True


def _print_versions(args):
    import importlib.metadata

    # The worker's versions: --pythonpath folders come first on its path.
    versions = {}
    for dist in importlib.metadata.distributions(path=[*args.pythonpath, *sys.path]):
        versions.setdefault(dist.metadata["Name"].lower(), dist.version)
    server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    print(
        f"celery {versions['celery']}, kombu {versions['kombu']}, redis-py {versions['redis']}, "
        f"redis-server {server.stdout.split()[2]}; pool {args.pool} x{args.concurrency}; "
        f"Redis down {args.down:g} s per cycle"
    )
    for extra in [*args.worker_arg, *args.conf]:
        print(f"  worker option: {extra}")


def _print_row(row, *, header):
    if header:
        print(f"{'cycle':>5} {'alive':>5} {'exit':>4} {'consumed':>8} {'after s':>7}  error")
    exit_status = "" if row["exit"] is None else str(row["exit"])
    after = "" if row["after"] is None else f"{row['after']:.1f}"
    note = " (worker restarted before this cycle)" if row["restarted"] else ""
    print(
        f"{row['cycle']:>5} {'yes' if row['alive'] else 'NO':>5} {exit_status:>4} "
        f"{'yes' if row['consumed'] else 'NO':>8} {after:>7}  {row['error']}{note}",
        flush=True,
    )


def _print_summary(rows):
    survived = sum(1 for row in rows if row["alive"] and row["consumed"])
    print(f"survived and consumed: {survived} of {len(rows)}")


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--down", type=float, default=30.0, help="seconds Redis stays stopped")
    parser.add_argument("--port", type=int, default=63811, help="this script's own Redis")
    parser.add_argument("--pool", default="prefork", help="as in compose: prefork")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20.0, help="busy tasks published per second")
    parser.add_argument("--task-seconds", type=float, default=0.2, help="length of a busy task")
    parser.add_argument("--busy-before", type=float, default=5.0, help="seconds of load first")
    parser.add_argument("--recover-timeout", type=float, default=120.0)
    parser.add_argument("--conf", action="append", default=[], help="worker config KEY=VALUE")
    parser.add_argument(
        "--worker-arg",
        action="append",
        default=[],
        help="extra worker option, e.g. --worker-arg=--without-heartbeat",
    )
    parser.add_argument(
        "--pythonpath",
        action="append",
        default=[],
        help="a folder put first on the worker's path (pip install --target it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    args = parser.parse_args()
    if args.cycles < 1 or args.down < 0 or args.rate <= 0:
        parser.error("--cycles at least 1, --down at least 0, --rate above 0")
    return args


if __name__ == "__main__":
    main()
