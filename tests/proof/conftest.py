"""Fixtures of the proof tests: gunicorn servers on 127.0.0.1 with their own database and a
private Redis, stopped (with every worker) even when the test fails."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proof.live import ROOT, DatabaseFactory, LiveServer, TaskWorkers, server_env

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def server_databases() -> Iterator[DatabaseFactory]:
    with tempfile.TemporaryDirectory(prefix="cf-proof-db-") as workdir:
        factory = DatabaseFactory(Path(workdir))
        try:
            yield factory
        finally:
            factory.close()


@pytest.fixture
def gunicorn_server(server_databases, tmp_path) -> Iterator:
    """Factory: `gunicorn_server(redis_url=..., workers=2, task_workers=1, **env)` starts a
    server on a fresh copy of the migrated database (with a superuser, see `live.ADMIN_USER`)
    and `task_workers` `db_worker` processes beside it (`server.tasks`)."""
    started: list[LiveServer] = []

    def start(
        *, redis_url: str | None, workers: int = 2, task_workers: int = 1, **extra: str
    ) -> LiveServer:
        database = server_databases.fresh()
        var_dir = tmp_path / f"var-{len(started)}"
        var_dir.mkdir()
        server = LiveServer(
            database=database,
            env=server_env(database=database, redis_url=redis_url, var_dir=var_dir, **extra),
            workers=workers,
            log_path=tmp_path / f"gunicorn-{len(started)}.log",
        )
        started.append(server)
        server.tasks = TaskWorkers(env=server.env, log_path=tmp_path / f"tasks-{len(started)}.log")
        server.start()
        server.tasks.start(task_workers)
        return server

    yield start
    for server in started:
        server.tasks.stop()
        server.stop()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(artifacts):
    if not CHROMIUM.exists():  # `make test` installs it; say so instead of a cryptic error
        pytest.fail("/usr/bin/chromium is missing: run `make test` (it installs chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                accept_downloads=True, viewport={"width": 1280, "height": 900}
            )
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()
