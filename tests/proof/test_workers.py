"""Background jobs on real workers: gunicorn queues, `manage.py db_worker` processes run the jobs,
on the suite's database (SQLite in the first run of `make test`, PostgreSQL in the second).

A worker killed with SIGKILL mid-job: the job is recovered after CODEFRAME_JOB_TIMEOUT, retried
from the cache by the next worker, and exactly one whole codeframe is stored. A worker whose
database connection drops (idle or mid-job) goes on, and so does its job. The request that
queues a 50,000-answer generation returns at once. Projects take turns: one client's backlog
does not hold another client's job queued after it.
"""

import statistics
import time

import pytest

from tests.proof.live import ADMIN_PASSWORD, ADMIN_USER, Http, admin_login, wait_for_job

pytestmark = [pytest.mark.proof, pytest.mark.faults, pytest.mark.slow]

SLOW_BACKEND = "tests.fakes.SlowCountingBackend"  # 0.4 s per batch: a job lasts seconds
TIMEOUT = 4


def answers(tag: str, count: int) -> list[str]:
    return [
        f"{tag} answer {i}: the {('fees', 'app', 'staff', 'queue')[i % 4]} {i % 97}"
        for i in range(count)
    ]


def wait_until(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s")


def worker_app(own_redis, gunicorn_server, *, task_workers: int = 1, **env: str):
    """gunicorn (one process) and `task_workers` db_workers on a private Redis; an API client
    logged in as the admin."""
    redis_server = own_redis()
    app = gunicorn_server(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/2",
        workers=1,
        task_workers=task_workers,
        **env,
    )
    return app, Http(app.base_url, auth=(ADMIN_USER, ADMIN_PASSWORD))


def test_killed_worker_job_is_retried_from_the_cache_and_stored_once(own_redis, gunicorn_server):
    app, api = worker_app(
        own_redis,
        gunicorn_server,
        EMBEDDINGS_BACKEND=SLOW_BACKEND,
        CODEFRAME_JOB_TIMEOUT=str(TIMEOUT),
    )
    texts = answers("killed", 3000)
    queued = api.post_json("/api/codeframes/", {"responses": texts})
    assert queued.status == 202, queued.body[:300]
    job = queued.json()
    assert queued.headers["Location"] == job["status_url"]
    status_path = "/api/jobs/" + job["id"] + "/"

    def embedding_past(n):
        body = api.get(status_path).json()
        return body if body["stage"] == "embedding" and body["done"] >= n else None

    before = wait_until(lambda: embedding_past(768), timeout=120, what="embedding progress")
    [worker] = app.tasks.alive()
    app.tasks.kill(worker)
    killed_at = time.monotonic()
    done_at_kill = api.get(status_path).json()["done"]
    assert before["done"] <= done_at_kill < len(texts)

    # No worker is alive; a reader past the timeout sees the job recovered, not "running".
    time.sleep(TIMEOUT + 0.5)
    recovered = api.get(status_path).json()
    assert recovered["state"] == "queued", recovered
    assert "stopped reporting" in recovered["error"] and "attempt 2" in recovered["error"]

    app.tasks.start(1)  # what systemd or the orchestrator does with a dead worker
    final = wait_for_job(api, job["status_url"], timeout=120)
    assert final["state"] == "done", (final["error"], app.tasks.log())
    assert final["attempts"] == 2
    print(
        f"\nkill -9 at {done_at_kill} of {len(texts)} answers embedded; recovered and done "
        f"{time.monotonic() - killed_at:.1f} s later; retry: {final['cache_hits']} cache hits, "
        f"{final['cache_misses']} misses"
    )
    # The retry reused every batch the killed attempt had embedded.
    assert final["cache_hits"] >= done_at_kill
    assert final["cache_hits"] + final["cache_misses"] == len(texts)

    db = app.database
    assert db.scalar("SELECT COUNT(*) FROM codeframe_codeframe") == 1
    codeframe_id = final["codeframe"]["id"]
    assert (
        db.scalar(
            "SELECT COUNT(*) FROM codeframe_assignment "
            f"WHERE codeframe_id = {codeframe_id} AND is_primary"
        )
        == len(texts) - final["codeframe"]["uncoded"]
    )
    task_states = sorted(
        row[0]
        for row in db.query(
            "SELECT status FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'codeframe.tasks.run_generation'"
        )
    )
    assert task_states == ["FAILED", "SUCCESSFUL"]


def test_cancel_a_running_job_and_fail_one_that_runs_out_of_attempts(own_redis, gunicorn_server):
    app, api = worker_app(
        own_redis,
        gunicorn_server,
        EMBEDDINGS_BACKEND=SLOW_BACKEND,
        CODEFRAME_JOB_TIMEOUT=str(TIMEOUT),
        CODEFRAME_JOB_MAX_ATTEMPTS="1",
    )

    # Cancel while running: it stops at its next batch and stores nothing.
    job = api.post_json("/api/codeframes/", {"responses": answers("cancel", 2000)}).json()
    path = f"/api/jobs/{job['id']}/"
    wait_until(lambda: api.get(path).json()["done"] >= 256, timeout=120, what="progress")
    assert api.post_json(f"{path}cancel/", {}).status == 200
    final = wait_for_job(api, job["status_url"], timeout=60)
    assert final["state"] == "cancelled" and final["done"] < 2000, final

    # Out of attempts: a kill -9 fails the job with a message, and the worker goes on.
    job = api.post_json("/api/codeframes/", {"responses": answers("doomed", 2000)}).json()
    path = f"/api/jobs/{job['id']}/"
    wait_until(lambda: api.get(path).json()["done"] >= 256, timeout=120, what="progress")
    app.tasks.kill(app.tasks.alive()[0])
    app.tasks.start(1)
    final = wait_for_job(api, job["status_url"], timeout=TIMEOUT * 4 + 30)
    assert final["state"] == "failed", final
    assert "stopped reporting" in final["error"] and "nothing was stored" in final["error"]
    assert app.database.scalar("SELECT COUNT(*) FROM codeframe_codeframe") == 0
    # The new worker serves the next job.
    job = api.post_json("/api/codeframes/", {"responses": answers("after", 300)}).json()
    assert wait_for_job(api, job["status_url"], timeout=120)["state"] == "done"


def test_a_hung_worker_is_taken_for_dead_once_its_job_stops_moving(own_redis, gunicorn_server):
    """Alive but stuck (a call that never returns): the heartbeat thread would beat for ever,
    so it stops once the job has made no progress for CODEFRAME_JOB_STALL_TIMEOUT."""
    app, api = worker_app(
        own_redis,
        gunicorn_server,
        task_workers=2,
        EMBEDDINGS_BACKEND="tests.fakes.HangingBackend",
        CODEFRAME_JOB_TIMEOUT="2",
        CODEFRAME_JOB_STALL_TIMEOUT="3",
        CODEFRAME_JOB_MAX_ATTEMPTS="2",
    )
    texts = answers("hung", 600)
    texts[300] = "this answer makes the model hang forever"  # in the second batch of 256
    job = api.post_json("/api/codeframes/", {"responses": texts}).json()
    started = time.monotonic()
    final = wait_for_job(api, job["status_url"], timeout=120)
    seconds = time.monotonic() - started
    print(f"\nhung twice: {final['state']} after {seconds:.1f} s: {final['error']}")
    assert final["state"] == "failed", (final, app.tasks.log())
    assert final["attempts"] == 2 and final["done"] == 256  # stuck in batch 2, both times
    assert "hung?" in final["error"] and "nothing was stored" in final["error"]
    assert "no progress for 3 s" in app.tasks.log()
    assert app.database.scalar("SELECT COUNT(*) FROM codeframe_codeframe") == 0
    # Both workers are still alive, stuck: the job did not stay "running" with them.
    assert len(app.tasks.alive()) == 2
    for process in app.tasks.alive():
        app.tasks.kill(process)


def test_queueing_a_50000_answer_generation_returns_at_once(own_redis, gunicorn_server, tmp_path):
    from tests.conftest import run_manage

    app = gunicorn_server(redis_url=None, workers=1, task_workers=0)
    answers_file = tmp_path / "answers.csv"
    with answers_file.open("w", encoding="utf-8") as handle:
        handle.write("answer\n")
        handle.writelines(f"answer number {i} about {i % 50}\n" for i in range(50_000))
    imported = run_manage(
        "import_responses", str(answers_file), "--survey", "Big", env=app.env, timeout=300
    )
    assert imported.returncode == 0, imported.stderr
    question_id = int(app.database.scalar("SELECT MAX(id) FROM codeframe_question"))
    # A session, as the browser has: Basic auth would time the password hash on every request.
    api = admin_login(Http(app.base_url))
    api.get("/api/codeframes/0/")  # warm the worker (imports, connections)
    seconds = []
    for n_codes in range(2, 7):  # other options each time: the same again is the same job
        reply = api.post_json("/api/codeframes/", {"question": question_id, "n_codes": n_codes})
        assert reply.status == 202 and reply.json()["total"] == 50_000
        seconds.append(reply.seconds)
    median = statistics.median(seconds)
    print(
        f"\nqueueing 50,000 answers: median {median * 1000:.0f} ms, "
        f"max {max(seconds) * 1000:.0f} ms"
    )
    assert median < 0.2, seconds


def test_projects_take_turns_on_a_real_worker(own_redis, gunicorn_server):
    """One client's backlog queued at once does not hold another client's job queued after it:
    the worker runs it after the backlog's first job, not its last (start-time fair queuing,
    `jobs.backend.next_turn`)."""
    import re

    from tests.proof.live import Http

    app, api = worker_app(own_redis, gunicorn_server, EMBEDDINGS_BACKEND=SLOW_BACKEND)
    web = Http(app.base_url)
    admin_login(web)
    for name in ("Client A", "Client B"):
        page = web.get("/projects/").body
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        reply = web.post_form("/projects/", {"name": name, "csrfmiddlewaretoken": token.decode()})
        assert reply.status == 302, reply.body[:300]
    listed = api.get("/api/projects/").json()["results"]
    project = {p["name"]: p["id"] for p in listed}

    def queue(client: str, n: int) -> dict:
        payload = {"responses": answers(f"{client}{n}", 600), "project": project[client]}
        reply = api.post_json("/api/codeframes/", payload)
        assert reply.status == 202, reply.body[:300]
        return reply.json()

    queued = [("A1", queue("Client A", 1)), ("A2", queue("Client A", 2))]
    queued += [("A3", queue("Client A", 3)), ("B1", queue("Client B", 1))]
    finished = {name: wait_for_job(api, job["status_url"], timeout=240) for name, job in queued}
    assert all(job["state"] == "done" for job in finished.values()), finished
    started = sorted(finished, key=lambda name: finished[name]["started"])
    assert started == ["A1", "B1", "A2", "A3"], {n: j["started"] for n, j in finished.items()}


WORKER_APP = "cf-proof-db-worker"  # the workers' application_name (libpq's PGAPPNAME)


def worker_on_postgres(own_redis, gunicorn_server):
    """A server and one worker whose connections are told apart by their application_name,
    kept between polls (DATABASE_CONN_MAX_AGE) for the idle worker to lose; the worker, and
    the statement ending its connections (how many it ended)."""
    app, api = worker_app(
        own_redis, gunicorn_server, task_workers=0, EMBEDDINGS_BACKEND=SLOW_BACKEND
    )
    if not app.database.is_postgres:
        pytest.skip("terminates the worker's PostgreSQL backends (make test runs this on it)")
    [worker] = app.tasks.start(1, PGAPPNAME=WORKER_APP, DATABASE_CONN_MAX_AGE="600")
    name = app.database.url.rsplit("/", 1)[1]
    drop = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND application_name = '{WORKER_APP}'"
    )
    return app, api, worker, drop


def test_an_idle_worker_outlives_a_database_failover(own_redis, gunicorn_server):
    """Its connection dropped, and the database refusing new ones for a while: django-tasks-db's
    poll let the error out and the worker process exited."""
    app, _, worker, drop = worker_on_postgres(own_redis, gunicorn_server)
    db = app.database
    name = db.url.rsplit("/", 1)[1]

    def log_has(text: str) -> bool:
        return worker.poll() is not None or text in app.tasks.log()

    def connected() -> int:
        return db.scalar(
            f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{WORKER_APP}'"
        )

    wait_until(connected, timeout=60, what="idle worker's connection")
    db.admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        db.admin(drop)
        wait_until(lambda: log_has("connection was lost"), timeout=30, what="lost connection")
        assert worker.poll() is None, app.tasks.log()
    finally:
        db.admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    wait_until(lambda: log_has("reconnected to the database"), timeout=30, what="reconnection")
    assert worker.poll() is None, app.tasks.log()
    assert wait_until(connected, timeout=30, what="the worker's new connection")


def test_a_busy_worker_and_its_job_outlive_a_dropped_connection(own_redis, gunicorn_server):
    """Its connections (the job's and its heartbeat's) terminated at about 35 % of a 4,000-answer
    job: the progress write failed, ending the job failed too on the dead connection, and so
    did recording the task's end; the worker process exited and the job stayed running until
    the watchdog took it for a dead worker's. The write is made again on a new connection: the
    job carries on, in the same attempt, and is stored once."""
    app, api, worker, drop = worker_on_postgres(own_redis, gunicorn_server)
    db = app.database
    job = api.post_json("/api/codeframes/", {"responses": answers("dropped", 4000)}).json()
    path = f"/api/jobs/{job['id']}/"
    wait_until(lambda: api.get(path).json()["done"] >= 1400, timeout=120, what="35 % progress")
    assert db.scalar(drop) >= 1
    dropped_at = time.monotonic()

    def ended() -> bool:
        body = api.get(path).json()
        return worker.poll() is not None or body["state"] in ("done", "failed", "cancelled")

    wait_until(ended, timeout=120, what="the job's end")
    assert worker.poll() is None, app.tasks.log()
    final = api.get(path).json()
    print(f"\ndropped at 35 %: {final['state']} {time.monotonic() - dropped_at:.1f} s later")
    assert final["state"] == "done", (final, app.tasks.log())
    assert final["attempts"] == 1 and final["error"] == ""  # it carried on
    assert "trying again" in app.tasks.log()
    assert db.scalar("SELECT COUNT(*) FROM codeframe_codeframe") == 1
    statuses = db.query(
        "SELECT status FROM django_tasks_database_dbtaskresult "
        "WHERE task_path = 'codeframe.tasks.run_generation'"
    )
    assert statuses == [("SUCCESSFUL",)]
    # And it serves the next job.
    job = api.post_json("/api/codeframes/", {"responses": answers("next", 300)}).json()
    assert wait_for_job(api, job["status_url"], timeout=120)["state"] == "done"
    assert worker.poll() is None


def test_a_dead_workers_job_is_recovered_within_the_timeout_of_its_last_beat(
    own_redis, gunicorn_server
):
    """No status reads, no scrapes (each recovers): only the watchdog task, run by the other
    worker. It looked again JOB_TIMEOUT (+1 s) after it last looked, when the beat it had seen
    was younger than the timeout, so the job of a worker that died mid-job was recovered up to
    twice the timeout later (9m41s with 300 s)."""
    timeout = 8
    app, api = worker_app(
        own_redis,
        gunicorn_server,
        EMBEDDINGS_BACKEND=SLOW_BACKEND,
        CODEFRAME_JOB_TIMEOUT=str(timeout),
    )
    [busy] = app.tasks.alive()
    queued = api.post_json("/api/codeframes/", {"responses": answers("watched", 8000)})
    assert queued.status == 202  # the last request to the web app until the job is recovered

    def job() -> tuple[str, int, int]:
        return app.database.query("SELECT state, attempts, done FROM codeframe_generationjob")[0]

    wait_until(lambda: job()[0] == "running", timeout=120, what="the job running")
    claimed = time.monotonic()
    app.tasks.start(1)  # the worker that runs the watchdog's checks
    wait_until(
        lambda: app.tasks.log().count("Starting worker") == 2, timeout=60, what="a 2nd worker"
    )
    # Mid-attempt (10 batches of 0.4 s: some 4 s in), when the first check finds a live beat.
    wait_until(lambda: job()[2] >= 2560, timeout=120, what="embedding progress")
    app.tasks.kill(busy)
    killed = time.monotonic()
    assert job()[:2] == ("running", 1)
    wait_until(lambda: job()[1] == 2, timeout=3 * timeout + 30, what="the job recovered")
    recovered = time.monotonic() - killed
    print(
        f"\nkilled {killed - claimed:.1f} s into the attempt; recovered by the watchdog "
        f"{recovered:.1f} s later (JOB_TIMEOUT {timeout} s)"
    )
    assert recovered <= timeout + 4, app.tasks.log()
    final = wait_for_job(api, queued.json()["status_url"], timeout=120)
    assert final["state"] == "done" and final["attempts"] == 2, final
