"""The production topology and the settings' behaviour with production values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PORTAL_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "SITE_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
}
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x9#k2!vQ7pL0s@w4eZr8tY1uI6oP3aSdFgHjKlZxCvBnM5qW-7Jh2Gf9Dk",
    "ALLOWED_HOSTS": "consent.example.org",
    "DATABASE_URL": "postgres://portal:secret@db.internal:5432/portal",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp://relay.internal:25",
    "SITE_URL": "https://consent.example.org",
}


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_describes_every_production_service():
    services = compose()["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "mailcatcher"} <= set(services)
    assert services["web"]["command"].startswith("gunicorn smt_portal.wsgi")
    assert "celery -A smt_portal worker" in services["worker"]["command"]
    assert "celery -A smt_portal beat" in services["beat"]["command"]


@pytest.mark.parametrize("service", ["web", "worker", "beat", "migrate"])
def test_compose_wires_each_portal_process_with_the_contract_variables(service):
    spec = compose()["services"][service]
    environment = spec["environment"]
    assert PORTAL_VARIABLES <= set(environment)
    assert environment["DEBUG"] == "false"
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["REDIS_URL"].startswith("redis://redis:")
    assert environment["EMAIL_URL"].startswith("smtp://mailcatcher:")


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_portal_processes_wait_for_migrations_and_their_servers(service):
    depends_on = compose()["services"][service]["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"


def run_manage(*args, environment):
    env = {k: v for k, v in os.environ.items() if k not in PORTAL_VARIABLES | {"SMT_TESTING"}}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_reports_nothing_with_production_values():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", environment=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysqlish://nowhere"),
        ("REDIS_URL", "memcached://cache:11211"),
        ("SITE_URL", "consent.example.org"),
        ("TRUSTED_PROXY_COUNT", "two"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable, value):
    result = run_manage("check", environment={**PRODUCTION, variable: value})
    assert result.returncode != 0
    assert variable in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    environment = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", environment=environment)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def published_ports(service):
    return [str(port) for port in compose()["services"][service].get("ports", [])]


def test_only_the_reverse_proxy_is_published_on_public_interfaces():
    services = compose()["services"]
    assert set(published_ports("proxy")) == {"80:80", "443:443", "443:443/udp"}
    assert "ports" not in services["web"], "gunicorn is reached only through the proxy"
    for name in set(services) - {"proxy"}:
        for port in published_ports(name):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_the_mail_catchers_ui_with_live_links_is_on_loopback_only():
    assert published_ports("mailcatcher") == ["127.0.0.1:8025:8025"]


def test_the_portal_trusts_exactly_the_one_proxy_in_front_of_it():
    services = compose()["services"]
    assert services["proxy"]["image"].startswith("caddy:")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["environment"]["TRUSTED_PROXY_COUNT"] == "1"
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    directives = [line.split("#")[0].strip() for line in caddyfile.splitlines()]
    # With no trusted_proxies, Caddy replaces a client's X-Forwarded-For.
    assert not any(line.startswith("trusted_proxies") for line in directives)
    assert "reverse_proxy {$PORTAL_UPSTREAM:web:8000}" in directives


def test_the_web_healthcheck_asks_as_the_proxy_would():
    check = " ".join(compose()["services"]["web"]["healthcheck"]["test"])
    assert '"Host": host' in check and '"X-Forwarded-Proto": "https"' in check


# --- Restarted on any exit (issue 10): a worker that gives up exits 0 --------


@pytest.mark.parametrize("service", ["worker", "beat", "web"])
def test_compose_restarts_each_long_running_portal_process_on_any_exit(service):
    # "on-failure" would leave a worker that exited 0 down for good.
    assert compose()["services"][service]["restart"] in {"always", "unless-stopped"}


def test_the_web_healthcheck_asks_for_readiness():
    check = " ".join(compose()["services"]["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz/ready" in check


def test_dev_up_runs_the_worker_and_beat_under_the_supervisor():
    dev = (ROOT / "dev").read_text()
    up = dev[dev.index("cmd_up() {") : dev.index("cmd_check() {")]
    assert 'bin/supervise var/worker.log "$VENV/bin/celery" -A smt_portal worker' in up
    assert 'bin/supervise var/beat.log "$VENV/bin/celery" -A smt_portal beat' in up


def supervise(tmp_path, command, **environment):
    env = {**os.environ, "SUPERVISE_BACKOFF": "0", **environment}
    return subprocess.Popen(
        [str(ROOT / "bin" / "supervise"), str(tmp_path / "worker.log"), "sh", "-c", command],
        cwd=tmp_path,
        env=env,
    )


def test_the_supervisor_restarts_a_process_that_exits_0_and_logs_each_exit(tmp_path):
    process = supervise(tmp_path, "echo run >> runs; exit 0", SUPERVISE_MAX_RESTARTS="3")
    assert process.wait(timeout=20) == 0
    assert (tmp_path / "runs").read_text().splitlines() == ["run"] * 4
    log = (tmp_path / "worker.log").read_text()
    assert log.count("sh exited with status 0; restarting in 0s") == 3


def test_the_supervisor_restarts_a_process_that_fails_and_logs_its_status(tmp_path):
    process = supervise(tmp_path, "echo run >> runs; exit 3", SUPERVISE_MAX_RESTARTS="1")
    assert process.wait(timeout=20) == 3
    assert (tmp_path / "runs").read_text().splitlines() == ["run"] * 2
    assert "sh exited with status 3; restarting" in (tmp_path / "worker.log").read_text()


def test_the_supervisor_stops_its_process_and_itself_on_term(tmp_path):
    import signal
    import time

    process = supervise(tmp_path, "echo $$ > pid; exec sleep 60")
    deadline = time.monotonic() + 10
    pid_file = tmp_path / "pid"
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the supervisor never started its process"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    assert "restarting" not in (tmp_path / "worker.log").read_text()
