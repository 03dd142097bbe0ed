"""A newcomer's first run: `make demo`, then a browser with the account it printed, landing on
the demo codeframe; and `make serve`, started and stopped with Ctrl-C (SIGINT) leaving no process
behind.

`make screenshots` runs this file with DOCS_SCREENSHOTS=1: the codeframe page and the cache's
admin page are then saved as the README's pictures in docs/.
"""

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, subprocess_env
from tests.proof.live import ROOT, Http, LiveServer, ServerDatabase, TaskWorkers, server_env

pytestmark = [pytest.mark.proof, pytest.mark.browser, pytest.mark.slow]

DOCS = ROOT / "docs"


def first_run_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """A fresh clone's environment: local settings, state in `var_dir`, the embedded defaults
    (SQLite, the on-disk cache, the real model), whatever database the suite runs on."""
    env = subprocess_env(DJANGO_VAR_DIR=str(var_dir), DATABASE_URL="", **extra)
    env.pop("DJANGO_ENV", None)  # the Makefile opts into local settings itself
    return env


def run_make(*args: str, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        ["make", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"make {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def test_make_demo_then_log_in_with_the_printed_account(tmp_path, browser_page, artifacts):
    port = free_port()
    output = run_make(
        "demo",
        env=first_run_env(tmp_path),
        timeout=900,
    )
    url = re.search(r"open (http://127\.0\.0\.1:8000/codeframes/\d+/)", output).group(1)
    username, password = re.search(r"log in as: (\S+)\s+password: (\S+)", output).groups()

    # What `make serve` runs (the Procfile), on the port this test was given.
    path = tmp_path / "db.sqlite3"
    database = ServerDatabase(f"sqlite:///{path}", path)
    env = server_env(database=database, redis_url=None, var_dir=tmp_path, DJANGO_ENV="local")
    server = LiveServer(database=database, env=env, workers=1, log_path=tmp_path / "web.log")
    server.port = port
    tasks = TaskWorkers(env=env, log_path=tmp_path / "tasks.log")
    server.start()
    tasks.start(1)
    try:
        page = browser_page
        page.set_viewport_size({"width": 1200, "height": 800})
        target = url.replace("http://127.0.0.1:8000", server.base_url)
        page.goto(target)
        assert "/login/" in page.url  # the page asks for the account first
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button:has-text('Log in')")
        page.wait_for_url(target)
        assert page.locator("tr.net").count() >= 1 and page.locator("tr[id^=code-]").count() >= 5
        page.screenshot(path=artifacts / "first-run-codeframe.png")
        if os.environ.get("DOCS_SCREENSHOTS"):
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=DOCS / "codeframe.png")
        page.goto(f"{server.base_url}/admin/embeddings/cachestatistics/")
        assert "Embedding cache" in page.title()
        assert "Generation jobs" in page.inner_text("#content-main")
        page.screenshot(path=artifacts / "first-run-cache-admin.png")
        if os.environ.get("DOCS_SCREENSHOTS"):
            page.screenshot(path=DOCS / "cache-admin.png")
    finally:
        tasks.stop()
        server.stop()


def descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process below `root` (honcho gives its children sessions
    of their own, so the process tree, not the session, says what `make serve` started)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])  # field 4 of /proc/PID/stat: ppid
            except (OSError, IndexError, ValueError):
                continue  # the process ended while we looked
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                with contextlib.suppress(OSError):
                    found[pid] = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
                    frontier.append(pid)
    return found


def still_running(processes: dict[int, str]) -> list[str]:
    alive = []
    for pid, command in processes.items():
        try:
            if Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ") == command:
                alive.append(command)
        except OSError:
            continue
    return alive


def test_make_serve_answers_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = first_run_env(tmp_path, SERVE_PORT=str(port))
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["make", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # a terminal's job: Ctrl-C goes to the whole process group
    )  # fmt: skip
    started: dict[int, str] = {}
    try:
        client = Http(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if client.get("/admin/login/", timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        started = descendants(process.pid)
        commands = " ".join(started.values())
        assert "gunicorn" in commands and "db_worker" in commands, commands
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        process.wait(timeout=60)
        deadline = time.monotonic() + 30
        while still_running(started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert still_running(started) == [], "processes left behind after Ctrl-C"
        output = (tmp_path / "serve.log").read_text()
        assert f"http://127.0.0.1:{port}/" in output and "SIGINT received" in output
    finally:  # on failure too: nothing of `make serve` may outlive the test
        leftovers = {**started, **descendants(process.pid)}
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)
        log.close()
