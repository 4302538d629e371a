"""Run the real app under gunicorn on 127.0.0.1 for tests that need a running server: browser
journeys, concurrent clients, outages. Used by the ``serve`` fixture in tests/fixtures/apps.py."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30.0, path: str = "/healthz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


@contextmanager
def gunicorn(env: dict, log_path: Path, workers: int = 1, threads: int = 4, port: int | None = None,
             extra_args: tuple = ()):
    """Serve ``wsgi:app`` with ``env`` added to this process's environment; yield its base URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, "SITE_URL": url, **env}
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--threads", str(threads), *extra_args, "wsgi:app"],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_until_up(url, process)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; log:\n{log_path.read_text()[-3000:]}") from None
            yield url
        finally:
            # SIGQUIT: gunicorn's quick shutdown (SIGTERM would wait for idle keep-alive connections);
            # the workers still exit through their at-exit steps (the metering flusher's last flush).
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class RedisServer:
    """A redis-server of the test's own on a free port, to stop and start (outage tests): the
    shared one on 6379 is never stopped from a test."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def listen_args(self) -> list[str]:
        return ["--port", str(self.port)]

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=0.5)

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--bind", "127.0.0.1", *self.listen_args(), "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with self.connect() as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class ClusterNodeServer(RedisServer):
    """One node of a Redis Cluster: its own folder (for nodes.conf) and its own cluster bus port."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(directory)
        self.bus_port = free_port()

    def listen_args(self) -> list[str]:
        return ["--port", str(self.port), "--cluster-enabled", "yes", "--cluster-port", str(self.bus_port),
                "--cluster-config-file", str(self.directory / "nodes.conf"), "--cluster-node-timeout", "5000"]


class RedisClusterServer:
    """A real Redis Cluster of the test run's own: ``nodes`` redis-servers on free ports, their slots
    assigned by ``redis-cli --cluster create`` (no replicas). ``url`` names every node."""

    def __init__(self, directory: Path, nodes: int = 3):
        self.nodes = [ClusterNodeServer(directory / f"node-{i}") for i in range(nodes)]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0",  # noqa: S607
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [subprocess.run(["redis-cli", "-p", str(node.port), "cluster", "info"],  # noqa: S607
                                     capture_output=True, text=True, timeout=5).stdout for node in self.nodes]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class TlsRedisServer(RedisServer):
    """A redis-server of the test's own that speaks TLS only, with a self-signed certificate for
    127.0.0.1; ``url`` is a ``rediss://`` URL that trusts that certificate."""

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.cert, self.key = directory / "redis-cert.pem", directory / "redis-key.pem"
        _self_signed(self.cert, self.key)

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.cert}"

    def listen_args(self) -> list[str]:
        return ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.cert),
                "--tls-key-file", str(self.key), "--tls-auth-clients", "no"]

    def connect(self):
        context = ssl.create_default_context(cafile=str(self.cert))
        raw = super().connect()
        try:
            return context.wrap_socket(raw, server_hostname="127.0.0.1")
        except OSError:
            raw.close()
            raise


def _self_signed(cert_path: Path, key_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


class HttpClient:
    """A browser-like client of a served app over real HTTP: a cookie jar, no redirects followed,
    the CSRF token of the page it last opened, and the Origin header a browser sends."""

    def __init__(self, base: str):
        import http.cookiejar

        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None,
                timeout: float = 30):
        """(status, headers, body text)."""
        from urllib.error import HTTPError
        from urllib.parse import urlencode

        body = urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"Origin": self.base, **(headers or {})})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.headers, response.read().decode("utf-8", "replace")
        except HTTPError as exc:
            return exc.code, exc.headers, exc.read().decode("utf-8", "replace")

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def submit(self, page: str, data: dict, action: str | None = None):
        """Open ``page``, then post ``data`` with its CSRF token to ``action`` (default: the page)."""
        import re

        _, _, html = self.get(page)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        token = match.group(1) if match else ""
        return self.request("POST", action or page, {"csrf_token": token, **data})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
