"""counsel as a service runs it, on loopback: nginx with TLS in front of two gunicorn instances in
production mode, PostgreSQL and Redis, all from the files in config/.

`Stack.start()` makes a throwaway certificate, a database and a Redis database of its own,
places the shipped settings, environment, unit and nginx files (see `units.Placement`), runs
`counsel keys init` and `counsel setup` as the README says, starts both instances from
config/systemd/counsel@.service and nginx with config/nginx/counsel.conf, and waits until a
request through the proxy is answered. `stop()` ends every process and drops what it made.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import ipaddress
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import IO
from urllib.parse import urlencode

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from counsel.settings import PROJECT_ROOT
from tests.conftest import CSRF_PATTERN
from tests.deployed.units import Placement, read_env_file, shipped, unit

NGINX = Path("/usr/sbin/nginx")
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_SERVER = "redis://127.0.0.1:6379"
REDIS_DB = 14  # the unit tests' Redis check uses 15
HOST = "localhost"  # the name in the certificate and in nginx's server_name
STARTUP_SECONDS = 60


def missing_services() -> list[str]:
    """What the deployed stack needs and this machine lacks."""
    problems = []
    if not os.access(NGINX, os.X_OK):
        problems.append(f"{NGINX} is missing: install Debian's nginx (`apt-get install nginx`)")
    try:
        redis.Redis.from_url(REDIS_SERVER, socket_timeout=2).ping()
    except redis.RedisError as exc:
        problems.append(f"no Redis on {REDIS_SERVER} ({exc})")
    try:
        with create_engine(POSTGRES_SERVER, poolclass=NullPool).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means the same: not there
        problems.append(f"no PostgreSQL at {POSTGRES_SERVER} ({type(exc).__name__})")
    return problems


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    chain, private = folder / "fullchain.pem", folder / "privkey.pem"
    chain.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    private.chmod(0o600)
    return chain, private


@dataclass
class Instance:
    """One gunicorn of counsel, started from counsel@.service with its port as %i."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def requests_served(self) -> list[str]:
        """Gunicorn's access log lines: '127.0.0.1 "GET /path" 200 ...' for each request it answered."""
        return [line for line in self.log().splitlines() if re.match(r'^\S+ "[A-Z]+ /', line)]


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def csrf_token(self) -> str:
        match = CSRF_PATTERN.search(self.body)
        assert match, f"no form token on the page ({self.status})"
        return match.group(1)


@dataclass
class Visitor:
    """A plain HTTP client with a cookie jar: through the proxy (HTTPS) or straight to one instance.

    Straight to an instance it sends what nginx would add (X-Forwarded-For, X-Forwarded-Proto,
    Host), so a test can choose which instance answers each request.
    """

    stack: Stack
    forwarded_for: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, instance: Instance | None = None, body: str | None = None,
                headers: dict[str, str] | None = None) -> Response:
        sent = {"Host": self.stack.host, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection: http.client.HTTPConnection
        if instance is None:
            # By name, as a browser: the name goes out in SNI, which nginx's site is chosen by.
            connection = http.client.HTTPSConnection(HOST, self.stack.https_port, timeout=30,
                                                     context=self.stack.tls_context())
        else:
            connection = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=30)
            sent.update({"X-Forwarded-For": self.forwarded_for, "X-Forwarded-Proto": "https"})
        try:
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            response = Response(answer.status, answer.headers, answer.read().decode("utf-8", errors="replace"))
        finally:
            connection.close()
        for line in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(line).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str, instance: Instance | None = None, **headers: str) -> Response:
        return self.request("GET", path, instance, headers=headers)

    def post(self, path: str, form: dict[str, str], instance: Instance | None = None,
             headers: dict[str, str] | None = None) -> Response:
        return self.request("POST", path, instance, body=urlencode(form), headers={
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def same_origin(self, path: str) -> dict[str, str]:
        """What a browser sends with a form of our own page: Origin and (same-origin policy) Referer."""
        return {"Origin": self.stack.url, "Referer": f"{self.stack.url}{path}"}


@dataclass
class Stack:
    root: Path
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    instances: list[Instance] = field(default_factory=list)
    database: str = field(default_factory=lambda: f"counsel_deployed_{os.getpid()}")
    environment: dict[str, str] = field(default_factory=dict)
    admin_password: str = ""
    nginx: subprocess.Popen[bytes] | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"{HOST}:{self.https_port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"

    @property
    def certificate(self) -> Path:
        return self.root / "tls" / "fullchain.pem"

    @property
    def checkpoint_file(self) -> Path:
        return self.root / "log" / "audit-checkpoints.log"

    @property
    def access_log(self) -> Path:
        return self.root / "log" / "counsel.access.log"

    def tls_context(self) -> ssl.SSLContext:
        """Trusts the throwaway certificate, and nothing else."""
        return ssl.create_default_context(cafile=str(self.certificate))

    def placement(self) -> Placement:
        bin_dir = Path(sys.executable).parent
        ports = [instance.port for instance in self.instances]
        return Placement({
            "/opt/counsel/.venv/bin/": f"{bin_dir}/",
            "/opt/counsel": str(PROJECT_ROOT),
            "/etc/counsel": str(self.root / "etc"),
            "/var/lib/counsel": str(self.root / "lib"),
            "/var/log/counsel": str(self.root / "log"),
            "/var/log/nginx": str(self.root / "log"),
            "/etc/ssl/counsel": str(self.root / "tls"),
            "postgresql+psycopg://counsel@127.0.0.1:5432/counsel": self.database_url,
            "redis://127.0.0.1:6379/0": f"{REDIS_SERVER}/{REDIS_DB}",
            "counsel.example.org": HOST,
            "listen 443 ": f"listen 127.0.0.1:{self.https_port} ",
            "listen 80;": f"listen 127.0.0.1:{self.http_port};",
            "server 127.0.0.1:8001;": f"server 127.0.0.1:{ports[0]};",
            "server 127.0.0.1:8002;": f"server 127.0.0.1:{ports[1]};",
        })

    # --- start and stop --------------------------------------------------------------------

    def start(self) -> None:
        for folder in ("etc", "lib", "log", "tls", "nginx"):
            (self.root / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
        write_certificate(self.root / "tls")
        self.instances = [Instance(free_port(), self.root / "log" / f"instance-{n}.log") for n in "AB"]
        self._create_database()
        redis.Redis.from_url(f"{REDIS_SERVER}/{REDIS_DB}").flushdb()
        self._place_settings()
        self.environment = unit("counsel@.service", self.placement(), "0").environment()
        self.cli("keys", "init")
        setup = self.cli("setup")
        match = re.search(r"one-time password:\s+(\S+)", setup)
        assert match, setup
        self.admin_password = match.group(1)
        for instance in self.instances:
            self._start_instance(instance)
        for instance in self.instances:  # before nginx, which would mark a starting upstream as down
            self._wait_until_healthy(instance)
        self._start_nginx()
        self._wait_until_healthy(None)

    def _wait_until_healthy(self, instance: Instance | None) -> None:
        """Wait for /health through nginx (None) or straight from an instance."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if Visitor(self).get("/health", instance).status == 200:
                    return
            for process in [self.nginx] + [each.process for each in self.instances]:
                assert process is None or process.poll() is None, "a process ended:\n" + self.diagnostics()
            assert time.monotonic() < deadline, "no answer in time:\n" + self.diagnostics()
            time.sleep(0.2)

    def stop(self) -> None:
        processes = [self.nginx] + [instance.process for instance in self.instances]
        for process in processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for handle in self._logs:
            handle.close()
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(f"{REDIS_SERVER}/{REDIS_DB}").flushdb()
        self._drop_database()

    def _create_database(self) -> None:
        self._drop_database()
        server = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with server.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.database}"'))

    def _drop_database(self) -> None:
        server = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))

    def _place_settings(self) -> None:
        """/etc/counsel/counsel.toml and counsel.env, from the shipped examples, with a fresh secret."""
        placement = self.placement()
        settings = placement.apply(shipped("production.example.toml"), required=(
            "postgresql+psycopg://counsel@127.0.0.1:5432/counsel", "redis://127.0.0.1:6379/0", "/var/lib/counsel",
            "/etc/counsel", "/var/log/counsel"))
        (self.root / "etc" / "counsel.toml").write_text(settings, encoding="utf-8")
        env = placement.apply(shipped("counsel.env.example"), required=("/etc/counsel", "COUNSEL_SECRET_KEY=\n"))
        env = env.replace("COUNSEL_SECRET_KEY=\n", f"COUNSEL_SECRET_KEY={secrets.token_hex(32)}\n")
        env_file = self.root / "etc" / "counsel.env"
        env_file.write_text(env, encoding="utf-8")
        env_file.chmod(0o600)
        assert read_env_file(env_file)["COUNSEL_ENV"] == "production"

    def process_environment(self, extra: dict[str, str]) -> dict[str, str]:
        """This machine's environment without any COUNSEL_* of the test run, plus the unit's."""
        base = {key: value for key, value in os.environ.items() if not key.startswith("COUNSEL_")}
        return {**base, **extra}

    def cli(self, *args: str) -> str:
        """Run `counsel ARGS` as an operator would, with the service's environment file loaded."""
        command = [str(Path(sys.executable).parent / "counsel"), *args]
        done = subprocess.run(command, env=self.process_environment(self.environment), cwd=PROJECT_ROOT,  # noqa: S603
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"counsel {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def create_account(self, username: str, role: str = "adviser") -> str:
        """An account made by the operator with `counsel users create`; returns its one-time password."""
        printed = self.cli("users", "create", username, "--role", role, "--site", "HQ")
        return printed.rsplit("must be changed): ", 1)[1].strip()

    def _spawn(self, command: list[str], env: dict[str, str], cwd: str, log_path: Path) -> subprocess.Popen[bytes]:
        handle = log_path.open("ab")
        self._logs.append(handle)
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)  # noqa: S603

    def _start_instance(self, instance: Instance) -> None:
        service = unit("counsel@.service", self.placement(), str(instance.port))
        env = self.process_environment(service.environment())
        assert env["COUNSEL_BIND"] == instance.address
        instance.process = self._spawn(service.command(), env, service.value("Service", "WorkingDirectory"),
                                       instance.log_path)

    def _start_nginx(self) -> None:
        """Debian's nginx with a main file like /etc/nginx/nginx.conf that includes the shipped site."""
        placement = self.placement()
        site = placement.apply(shipped("nginx/counsel.conf"), required=(
            "counsel.example.org", "listen 443 ", "listen 80;", "server 127.0.0.1:8001;", "server 127.0.0.1:8002;",
            "/etc/ssl/counsel", "/var/log/nginx"))
        folder = self.root / "nginx"
        (folder / "counsel.conf").write_text(site, encoding="utf-8")
        temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                               "uwsgi", "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers write the temp paths in this root-only folder
        (folder / "nginx.conf").write_text(
            f"{user}worker_processes 1;\ndaemon off;\npid {folder / 'nginx.pid'};\n"
            f"error_log {self.root / 'log' / 'nginx-error.log'} warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n    include /etc/nginx/mime.types;\n"
            f"    access_log off;\n{temp}\n    include {folder / 'counsel.conf'};\n}}\n",
            encoding="utf-8")
        command = [str(NGINX), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
                   str(self.root / "log" / "nginx-error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)  # noqa: S603
        assert checked.returncode == 0, f"nginx -t refused the shipped site:\n{checked.stderr}"
        self.nginx = self._spawn(command, os.environ.copy(), str(folder), self.root / "log" / "nginx.out")

    def served_since(self, before: list[int], total: int, timeout: float = 10.0) -> list[int]:
        """How many requests each instance logged since `before`, once `total` are logged (or the time is up).

        gunicorn writes its access line after the response has gone out, so the last one may
        still be on its way when the client has its answer.
        """
        deadline = time.monotonic() + timeout
        while True:
            counts = [len(instance.requests_served()) - then for instance, then in zip(self.instances, before,
                                                                                       strict=True)]
            if sum(counts) >= total or time.monotonic() > deadline:
                return counts
            time.sleep(0.05)

    def diagnostics(self) -> str:
        """The logs of every process, for a failure message."""
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            if path.is_file():
                parts.append(f"--- {path.name}\n{path.read_text(encoding='utf-8', errors='replace')[-4000:]}")
        return "\n".join(parts)
