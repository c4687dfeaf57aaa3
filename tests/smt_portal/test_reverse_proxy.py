"""The compose topology's reverse proxy, run for real in front of the portal.

Caddy with the very ``deploy/Caddyfile`` the compose file mounts, on loopback,
forwarding to a live portal that trusts one proxy as production does. A
client that forges ``X-Forwarded-For`` must not choose the address the portal
records, limits by and checks for falsification (issue: a CSP chose the IP in
the record by sending the header straight to gunicorn).
"""

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from csp_registry.models import ApiRequestLog

ROOT = Path(__file__).resolve().parents[2]
CADDY = shutil.which("caddy")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CADDY is None, reason="needs Caddy (apt-get install caddy; CI installs it)"),
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def proxy(live_server, settings, tmp_path):
    settings.TRUSTED_PROXY_COUNT = 1
    port = free_port()
    upstream = live_server.url.removeprefix("http://")
    env = {
        **os.environ,
        "SITE_HOST": f"http://127.0.0.1:{port}",
        "PORTAL_UPSTREAM": upstream,
        "CADDY_ADMIN": "off",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path),
    }
    caddy = subprocess.Popen(
        [CADDY, "run", "--config", str(ROOT / "deploy/Caddyfile"), "--adapter", "caddyfile"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert caddy.poll() is None, caddy.stderr.read().decode()
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        caddy.terminate()
        caddy.wait(timeout=10)


def call(base, key, **headers):
    request = urllib.request.Request(
        f"{base}/api/v1/reps/", headers={"Authorization": f"Bearer {key}", **headers}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_forged_forwarded_for_through_the_proxy_is_not_the_recorded_address(proxy, csp_api):
    assert call(proxy, csp_api.key, **{"X-Forwarded-For": "192.0.2.77, 198.51.100.8"}) == 200
    row = ApiRequestLog.objects.get(csp=csp_api.csp)
    assert row.ip == "127.0.0.1", "the address Caddy saw, not one the client wrote"


def test_the_proxy_tells_the_portal_the_connection_it_saw(proxy, csp_api):
    assert call(proxy, csp_api.key) == 200
    row = ApiRequestLog.objects.get(csp=csp_api.csp)
    assert (row.ip, row.forwarded_header_untrusted) == ("127.0.0.1", False)
