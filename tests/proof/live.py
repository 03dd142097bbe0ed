"""The real thing, for the proof tests: gunicorn on a free 127.0.0.1 port, its own database and a
Redis the test controls, plus a small HTTP client (the standard library's: one connection per
request, so it is safe from many threads).

The server's database is not pytest-django's test database (a separate process could not see
its transactions): it is a migrated SQLite file, or, when the suite runs on PostgreSQL, a
database cloned from a migrated template on the same server. Either way the test reads it back
with plain SQL through `ServerDatabase.query`.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from tests.conftest import free_port, subprocess_env
from tests.conftest import run_manage as manage

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_USER = "proof-admin"
ADMIN_PASSWORD = "proof-admin-pw-4711"


# --- Databases ------------------------------------------------------------------------------


@dataclass
class ServerDatabase:
    url: str
    path: Path | None = None  # SQLite only

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgres://", "postgresql://"))

    def query(self, sql: str) -> list[tuple]:
        if self.is_postgres:
            import psycopg

            with psycopg.connect(_libpq_url(self.url), autocommit=True) as conn:
                return conn.execute(sql).fetchall()
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def scalar(self, sql: str):
        return self.query(sql)[0][0]

    def admin(self, *statements: str) -> None:
        """Run `statements` from the server's `postgres` database (PostgreSQL only): what works
        while this database refuses connections, or on it as a whole."""
        _pg_admin(self.url, *statements)


def _libpq_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", *parts[1:]))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _pg_admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(_libpq_url(_with_database(url, "postgres")), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


class DatabaseFactory:
    """Migrates one template database per test session and hands out fresh copies of it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        suite_url = os.environ.get("DATABASE_URL", "")
        self.postgres = suite_url.startswith(("postgres://", "postgresql://"))
        self.base_url = suite_url
        self._made: list[ServerDatabase] = []
        self._template: ServerDatabase | None = None

    def _template_db(self) -> ServerDatabase:
        if self._template is not None:
            return self._template
        if self.postgres:
            name = f"proof_tpl_{uuid.uuid4().hex[:8]}"
            _pg_admin(self.base_url, f'CREATE DATABASE "{name}"')
            template = ServerDatabase(_with_database(self.base_url, name))
        else:
            path = self.workdir / "template.sqlite3"
            template = ServerDatabase(f"sqlite:///{path}", path)
        self._template = template
        env = subprocess_env(DATABASE_URL=template.url, DJANGO_VAR_DIR=str(self.workdir))
        for args in (
            ("migrate", "--noinput", "-v", "0"),
            ("createsuperuser", "--noinput", "--username", ADMIN_USER, "--email", "a@example.com"),
        ):
            done = manage(*args, env={**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD})
            if done.returncode:
                raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        return template

    def fresh(self) -> ServerDatabase:
        template = self._template_db()
        if self.postgres:
            name = f"proof_{uuid.uuid4().hex[:10]}"
            template_name = urlsplit(template.url).path.strip("/")
            _pg_admin(self.base_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
            db = ServerDatabase(_with_database(self.base_url, name))
        else:
            path = self.workdir / f"{uuid.uuid4().hex[:10]}.sqlite3"
            shutil.copyfile(template.path, path)
            db = ServerDatabase(f"sqlite:///{path}", path)
        self._made.append(db)
        return db

    def close(self) -> None:
        if not self.postgres:
            return
        for db in [*self._made, *([self._template] if self._template else [])]:
            name = urlsplit(db.url).path.strip("/")
            try:
                _pg_admin(self.base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # teardown: report, keep dropping the others
                print(f"could not drop {name}: {exc}", file=sys.stderr)


# --- The server -----------------------------------------------------------------------------


@dataclass
class LiveServer:
    database: ServerDatabase
    env: dict[str, str]
    workers: int
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    tasks: TaskWorkers | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60) -> LiveServer:
        command = [
            str(BIN / "gunicorn"),
            "config.wsgi:application",
            "--config",
            "config/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--graceful-timeout",
            "5",
            "--access-logfile",
            "-",
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(L)ss",
        ]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can end every worker
        )
        client = Http(self.base_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}:\n{self.log()}")
            try:
                if client.get("/admin/login/", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in {timeout} s:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(child) for child in children]

    def wait_for_workers(self, count: int, *, timeout: float = 30) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) >= count:
                return pids
            time.sleep(0.1)
        raise RuntimeError(f"only {self.worker_pids()} workers after {timeout} s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        # Workers that outlived the master (or a master that would not stop).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def status_counts(self) -> dict[int, int]:
        """Statuses in the access log (method path status seconds), by status."""
        counts: dict[int, int] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0].isalpha() and parts[2].isdigit():
                counts[int(parts[2])] = counts.get(int(parts[2]), 0) + 1
        return counts


@dataclass
class TaskWorkers:
    """`manage.py db_worker` processes beside a server, on its database and environment."""

    env: dict[str, str]
    log_path: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, count: int = 1, **env: str) -> list[subprocess.Popen]:
        """`count` more workers, with `env` on top of the server's environment."""
        started = []
        log = open(self.log_path, "ab")  # noqa: SIM115 - each process holds its own handle
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--interval", "0.2", "--no-reload"],
                cwd=ROOT,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            started.append(process)
        log.close()
        self.processes += started
        return started

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.processes if p.poll() is None]

    def kill(self, process: subprocess.Popen) -> None:
        """kill -9: no chance to clean up, as when a machine dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.alive():
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""


def generate(client: Http, payload: dict, *, timeout: float = 300) -> Reply:
    """POST /api/codeframes/, then poll the job until it ends: what a client of the API does.
    Returns the POST's reply when it is not a 202; otherwise a reply whose status is 201 if the
    job is done (body: the codeframe) or 500 if it failed (body: the job), and whose seconds
    run from the POST to the end."""
    started = time.perf_counter()
    queued = client.post_json("/api/codeframes/", payload, timeout=timeout)
    if queued.status != 202:
        return queued
    job = wait_for_job(client, queued.json()["status_url"], timeout=timeout)
    done = job["state"] == "done"
    body = json.dumps(job["codeframe"] if done else job).encode()
    return Reply(201 if done else 500, queued.headers, body, time.perf_counter() - started)


def wait_for_job(client: Http, status_url: str, *, timeout: float = 300) -> dict:
    """Poll a job's status URL until it ends; its last JSON (raises on timeout)."""
    path = urlsplit(status_url).path
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = client.get(path, timeout=30)
        if reply.status != 200:
            raise RuntimeError(f"GET {path}: {reply.status} {reply.body[:300]!r}")
        body = reply.json()
        if body["state"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.3)
    raise RuntimeError(f"job {path} did not end in {timeout} s: {body}")


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


class Http:
    """Requests to one server; `auth` = (user, password) sends HTTP Basic (the API takes it)."""

    def __init__(self, base_url: str, *, auth: tuple[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.auth = auth
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> Reply:
        headers = dict(headers or {})
        if self.auth:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return Reply(response.status, dict(response.headers), data, elapsed)

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post_json(self, path: str, payload, **kwargs) -> Reply:
        headers = {"Content-Type": "application/json", **self._csrf(path)}
        return self.request(
            "POST", path, body=json.dumps(payload).encode(), headers=headers, **kwargs
        )

    def _csrf(self, path: str) -> dict[str, str]:
        """What a session-authenticated POST needs (none with Basic auth)."""
        if "csrftoken" not in self.cookies:
            return {}
        return {
            "X-CSRFToken": self.cookies["csrftoken"],
            "Referer": f"http://{self.host}:{self.port}{path}",
        }

    def post_form(self, path: str, fields: dict[str, str], **kwargs) -> Reply:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **self._csrf(path)}
        body = urlencode(fields).encode()
        return self.request("POST", path, body=body, headers=headers, **kwargs)


def server_env(
    *, database: ServerDatabase, redis_url: str | None, var_dir: Path, **extra: str
) -> dict[str, str]:
    """Environment of a gunicorn run: local settings (DJANGO_ENV=local, from subprocess_env),
    short Redis timeouts, no throttling, one torch thread per
    worker (two cores are shared by the workers, the load generator and the test)."""
    env = subprocess_env(
        DATABASE_URL=database.url,
        DJANGO_VAR_DIR=str(var_dir),
        EMBEDDINGS_REDIS_CONNECT_TIMEOUT="0.2",
        EMBEDDINGS_REDIS_TIMEOUT="0.5",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        # Load and fault runs make hundreds of codeframes as one user: rates that never bite.
        CODEFRAME_GENERATE_RATE="1000000/hour",
        CODEFRAME_IMPORT_RATE="1000000/hour",
        **extra,
    )
    if redis_url:
        env["EMBEDDINGS_REDIS_URL"] = redis_url
    return env


def admin_login(client: Http, *, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD):
    """Log `client` into the admin with a session, through the real login form (CSRF and all)."""
    import re

    page = client.get("/admin/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1)
    reply = client.post_form(
        "/admin/login/",
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token.decode(),
            "next": "/admin/",
        },
    )
    if reply.status != 302 or "sessionid" not in client.cookies:
        raise RuntimeError(f"admin login failed: {reply.status} {reply.body[:300]!r}")
    return client
