"""The fault battery's laboratory: the portal and everything it talks to, on loopback.

Each piece is started by the battery and stopped by it, whatever happens:

- ``Postgres``: its own cluster (initdb into a temporary folder, fsync on),
  its own port, run as the ``postgres`` user when the battery runs as root;
- ``Redis``: its own server, append-only file on, on its own port;
- ``SmtpSink``: an aiosmtpd server inside the battery's process whose
  behaviour the scenarios change (refuse at RCPT, slow DATA, down, silent);
- ``Portal``: gunicorn, and the Celery worker and beat each under
  ``bin/supervise`` (the restart loop ``./dev up`` uses), in process groups
  of their own.

Nothing here listens on anything but 127.0.0.1.
"""

import asyncio
import email
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
VENV_BIN = ROOT / ".venv" / "bin"


def _port_free(port):
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def check_ports_free(*ports):
    taken = [port for port in ports if not _port_free(port)]
    if taken:
        raise SystemExit(f"ports already in use on {HOST}: {taken}; pick others (--base-port)")


def _stop_group(process, *, timeout=20.0):
    """TERM the process group, then KILL it if it has not gone within ``timeout``."""
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:  # whatever of the group is left (pool children, a sleeping backoff)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def descendants(pid):
    """Every live process below ``pid`` (read from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces.
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# --- PostgreSQL -------------------------------------------------------------


class Postgres:
    """A cluster of its own, fsync on, listening on loopback only."""

    def __init__(self, port, work):
        self.port = port
        self.dir = work / "pg"
        self.socket_dir = work / "pg-socket"
        self.log = work / "pg.log"
        self.bin = Path(
            subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
            or "/usr/lib/postgresql/15/bin"
        )
        self._as_postgres = os.geteuid() == 0
        self.started = False

    def _run(self, *command, check=True):
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        return subprocess.run(
            [*prefix, *command], capture_output=True, text=True, check=check, cwd="/"
        )

    def init(self):
        for folder in (self.dir, self.socket_dir):
            folder.mkdir(parents=True)
        if self._as_postgres:
            shutil.chown(self.dir.parent, "postgres")
            for path in (self.dir, self.socket_dir):
                shutil.chown(path, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = [
            f"listen_addresses = '{HOST}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "fsync = on",
            "synchronous_commit = on",
            "max_connections = 100",
            "shared_buffers = 128MB",
        ]
        with (self.dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# fault battery\n" + "\n".join(options) + "\n")

    def start(self):
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-w", "start")
        self.started = True

    def restart_fast(self):
        """``pg_ctl restart -m fast``: every connection is cut, then it comes back."""
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log),
            "-m", "fast", "-w", "restart",
        )  # fmt: skip

    def stop(self):
        if not self.started:
            return
        result = self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop",
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            pid_file = self.dir / "postmaster.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        self.started = False

    def create_database(self, name):
        self._run(
            str(self.bin / "createdb"), "-h", HOST, "-p", str(self.port), "-U", "postgres", name
        )

    def url(self, name):
        return f"postgres://postgres@{HOST}:{self.port}/{name}"


# --- Redis ------------------------------------------------------------------


class Redis:
    """Its own server, append-only file on (as compose runs it)."""

    def __init__(self, port, work):
        self.port = port
        self.dir = work / "redis"
        self.dir.mkdir()
        self.process = None

    def start(self):
        command = [
            "redis-server", "--port", str(self.port), "--bind", HOST,
            "--appendonly", "yes", "--save", "", "--dir", str(self.dir),
            "--logfile", "redis.log",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-h", HOST, "-p", str(self.port), "ping"],
                capture_output=True,
                text=True,
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not answer on {HOST}:{self.port}")

    def stop(self):
        """SIGTERM, as ``docker stop`` does: Redis flushes its AOF and exits."""
        _stop_group(self.process, timeout=10)
        self.process = None

    def url(self, db=0):
        return f"redis://{HOST}:{self.port}/{db}"


# --- SMTP sink --------------------------------------------------------------


@dataclass
class Received:
    message_id: str
    to: tuple
    at: float


@dataclass
class SinkState:
    received: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # (address, reply)
    refuse_450_left: int = 0
    refuse_550_pattern: re.Pattern | None = None
    data_delay: float = 0.0


class SmtpSink:
    """An SMTP server the battery controls; it records every message it accepts.

    Modes: accept; refuse RCPT with 450 for the next K recipients; refuse
    addresses matching a pattern with 550; sleep in DATA; down (nothing
    listens: connection refused); silent (accepts connections, never answers).
    """

    def __init__(self, port):
        self.port = port
        self.state = SinkState()
        self.lock = threading.Lock()
        self.controller = None
        self._silent = None

    # modes
    def reset(self):
        with self.lock:
            self.state.refuse_450_left = 0
            self.state.refuse_550_pattern = None
            self.state.data_delay = 0.0

    def refuse_next(self, count):
        with self.lock:
            self.state.refuse_450_left = count

    def refuse_matching(self, pattern):
        with self.lock:
            self.state.refuse_550_pattern = re.compile(pattern)

    def slow_data(self, seconds):
        with self.lock:
            self.state.data_delay = seconds

    def up(self):
        from aiosmtpd.controller import Controller

        self._stop_silent()
        if self.controller is None:
            self.controller = Controller(_Handler(self), hostname=HOST, port=self.port)
            self.controller.start()

    def down(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def silent(self):
        """Accept connections and never send a greeting (a hung relay)."""
        self.down()
        self._silent = _SilentListener(self.port)
        self._silent.start()

    def _stop_silent(self):
        if self._silent is not None:
            self._silent.stop()
            self._silent = None

    def stop(self):
        self._stop_silent()
        self.down()

    # records
    def snapshot(self):
        with self.lock:
            return list(self.state.received), list(self.state.refused)

    def _rcpt(self, address):
        with self.lock:
            pattern = self.state.refuse_550_pattern
            if pattern is not None and pattern.search(address):
                reply = "550 5.1.1 No such mailbox here"
            elif self.state.refuse_450_left > 0:
                self.state.refuse_450_left -= 1
                reply = "450 4.2.1 Mailbox busy, try again later"
            else:
                return None
            self.state.refused.append((address, reply))
            return reply

    def _record(self, message_id, to):
        with self.lock:
            self.state.received.append(Received(message_id, tuple(to), time.monotonic()))


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.sink._rcpt(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        delay = self.sink.state.data_delay
        if delay:
            await asyncio.sleep(delay)
        message = email.message_from_bytes(envelope.content)
        # Accepted from here: a client killed before it reads the reply sends again.
        self.sink._record((message["Message-ID"] or "").strip(), envelope.rcpt_tos)
        return "250 2.0.0 Accepted"


class _SilentListener(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((HOST, port))
        self.server.listen(64)
        self.server.settimeout(0.2)
        self.held = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self.held.append(connection)

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)
        for connection in self.held:
            connection.close()
        self.server.close()


# --- The portal ------------------------------------------------------------


class Portal:
    """gunicorn, and a Celery worker and beat each under ``bin/supervise``."""

    def __init__(self, *, env, work, port, web_workers, worker_concurrency, src=ROOT):
        self.src = src  # the code the portal runs: a snapshot of HEAD, or the work tree
        self.env = {**env, "PYTHONPATH": str(src)}
        self.work = work
        self.port = port
        self.web_workers = web_workers
        self.worker_concurrency = worker_concurrency
        self.web = self.worker = self.beat = None
        self.web_log = work / "gunicorn.log"
        self.worker_log = work / "worker.log"
        self.beat_log = work / "beat.log"

    def manage(self, *args, timeout=900):
        result = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=self.src,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def start_web(self):
        command = [
            str(VENV_BIN / "gunicorn"), "smt_portal.wsgi:application",
            "--bind", f"{HOST}:{self.port}", "--workers", str(self.web_workers),
            "--timeout", "30", "--log-level", "warning", "--backlog", "2048",
        ]  # fmt: skip
        log = self.web_log.open("a")
        self.web = subprocess.Popen(
            command, cwd=self.src, env=self.env, stdout=log, stderr=log, start_new_session=True
        )

    def _supervised(self, log, *command):
        env = {**self.env, "SUPERVISE_BACKOFF": "1"}
        return subprocess.Popen(
            [str(self.src / "bin" / "supervise"), str(log), *command],
            cwd=self.src,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def start_worker(self):
        self.worker = self._supervised(
            self.worker_log,
            str(VENV_BIN / "celery"), "-A", "smt_portal", "worker", "--loglevel=INFO",
            f"--concurrency={self.worker_concurrency}", "--hostname=battery@%h",
        )  # fmt: skip

    def start_beat(self):
        self.beat = self._supervised(
            self.beat_log,
            str(VENV_BIN / "celery"), "-A", "smt_portal", "beat", "--loglevel=INFO",
            "--schedule", str(self.work / "beat-schedule"),
        )  # fmt: skip

    def stop_worker(self):
        _stop_group(self.worker, timeout=25)
        self.worker = None

    def kill_worker(self):
        """SIGKILL the worker and its pool at once (an OOM kill, a node lost);
        the supervisor starts it again. Returns how many processes died."""
        if self.worker is None:
            return 0
        victims = descendants(self.worker.pid)
        # Not the supervisor's backoff `sleep`: only celery processes.
        victims = [pid for pid in victims if _is_celery(pid)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(victims)

    def worker_exits(self):
        return _count_exits(self.worker_log)

    def worker_readies(self):
        """How many times a worker said it was ready (once per start)."""
        if not self.worker_log.exists():
            return 0
        with self.worker_log.open(errors="replace") as lines:
            return sum(1 for line in lines if "battery@" in line and " ready." in line)

    def beat_exits(self):
        return _count_exits(self.beat_log)

    def stop(self):
        for process in (self.beat, self.worker, self.web):
            _stop_group(process, timeout=25)
        self.web = self.worker = self.beat = None


def snapshot_head(target):
    """The committed code (``git archive HEAD``) in ``target``: a run is not
    disturbed by edits in the work tree, and says which commit it measured."""
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return commit.stdout.strip()


def _is_celery(pid):
    try:
        return b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _count_exits(log):
    if not log.exists():
        return 0
    with log.open(errors="replace") as lines:
        return sum(1 for line in lines if "supervise:" in line and " exited " in line)
