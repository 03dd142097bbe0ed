"""Codeframe generation under load: gunicorn and `db_worker` processes on 127.0.0.1, the real
model, a private Redis.

    .venv/bin/python bench/load.py [--workers 2] [--task-workers 2] [--answers 1000]
                                   [--generations 20]

The web only queues; the task workers generate. Against one server started for the run (its own
SQLite database, its own Redis), with a logged-in session as a browser has:
0. idle: the stats API and the question list, 30 GETs each with nothing else running (the
   baseline of the ratios);
1. cold: `--generations` generations of `--answers` answers each over overlapping windows of a
   pool of distinct answers, queued at once (POST /api/codeframes/ answers 202), then run by the
   task workers while a stats GET and a question-list GET go every 0.2 s beside them;
2. cached: the same again, every vector now cached.
Every job must end done; the cache's counters must add up to the texts the jobs embedded; 300
cached vectors are checked against a direct `model.encode` in this process. Requests are
bounded in count and time; loopback only.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, ROOT, machine, private_redis, setup_django, table

sys.path.insert(0, str(ROOT))


def answer_pool(size: int) -> list[str]:
    """Distinct answers: banking77 questions (if shared/data has them), the sample survey,
    then variants of those."""
    base: list[str] = []
    banking = DATA / "banking77_test.csv"
    if banking.exists():
        with banking.open(newline="", encoding="utf-8") as f:
            base += [row["text"] for row in csv.DictReader(f)]
    with (ROOT / "sample_data/survey_responses.csv").open(newline="", encoding="utf-8") as f:
        base += [row["answer"] for row in csv.DictReader(f) if row["answer"]]
    base = list(dict.fromkeys(base))
    pool, wave = list(base), 1
    while len(pool) < size:
        pool += [f"{text} (wave {wave})" for text in base]
        wave += 1
    return list(dict.fromkeys(pool))[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--task-workers", type=int, default=2, help="db_worker processes")
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--pool", type=int, default=3000, help="distinct answers in all")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds per phase")
    args = parser.parse_args()

    from tests.proof.live import (
        DatabaseFactory,
        Http,
        LiveServer,
        TaskWorkers,
        admin_login,
        server_env,
        wait_for_job,
    )
    from tests.proof.traffic import StatsStream, percentile, run_bounded

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    pool = answer_pool(args.pool)
    step = max(1, len(pool) // args.generations)
    sets = [
        [pool[(i * step + j) % len(pool)] for j in range(args.answers)]
        for i in range(args.generations)
    ]
    print(machine())
    print(
        f"gunicorn: {args.workers} gthread workers x 4 threads; {args.task_workers} db_worker "
        f"processes; {args.generations} generations x {args.answers} answers over {len(pool)} "
        "distinct; stats API and question list GETs every 0.2 s each\n"
    )
    with private_redis() as url:
        redis_url = url.rsplit("/", 1)[0] + "/2"
        databases = DatabaseFactory(workdir)
        database = databases.fresh()
        env = server_env(
            database=database,
            redis_url=redis_url,
            var_dir=workdir,
            CODEFRAME_MAX_QUEUED_GENERATIONS=str(args.generations * 2),  # one user queues all
        )
        server = LiveServer(
            database=database, env=env, workers=args.workers, log_path=workdir / "gunicorn.log"
        )
        tasks = TaskWorkers(env=env, log_path=workdir / "tasks.log")
        server.start()
        tasks.start(args.task_workers)
        try:
            api = admin_login(Http(server.base_url))
            pages = admin_login(Http(server.base_url))

            def streams():
                return (
                    StatsStream(api, interval=0.2),
                    StatsStream(pages, path="/questions/", interval=0.2),
                )

            def p95(outcomes) -> float:
                ok = [o.seconds for o in outcomes if o.status == 200]
                return percentile(ok, 95) if ok else float("nan")

            # 0. idle baseline, after a few warm-up GETs (imports, first connections)
            for _ in range(5):
                api.get("/api/embeddings/stats/"), pages.get("/questions/")
            idle_stats = run_bounded(
                [lambda: api.get("/api/embeddings/stats/")] * 30, concurrency=1, time_limit=120
            )
            idle_pages = run_bounded(
                [lambda: pages.get("/questions/")] * 30, concurrency=1, time_limit=120
            )
            base_stats, base_pages = p95(idle_stats), p95(idle_pages)

            rows, finished = [], []

            def phase(name: str) -> None:
                stats_stream, page_stream = streams()
                with stats_stream, page_stream:
                    started = time.perf_counter()
                    queued = run_bounded(
                        [
                            lambda t=texts: api.post_json("/api/codeframes/", {"responses": t})
                            for texts in sets
                        ],
                        concurrency=args.generations,
                        time_limit=args.time_limit,
                    )
                    jobs = [
                        wait_for_job(api, o.reply.json()["status_url"], timeout=args.time_limit)
                        for o in queued
                        if o.status == 202
                    ]
                    wall = time.perf_counter() - started
                finished.extend(jobs)
                done = sum(j["state"] == "done" for j in jobs)
                fivexx = sum(
                    1
                    for o in queued + stats_stream.outcomes + page_stream.outcomes
                    if o.status and o.status >= 500
                )
                queue_s = [o.seconds for o in queued if o.status == 202] or [float("nan")]
                run_s = [j["elapsed_seconds"] for j in jobs if j["state"] == "done"]
                stats_p95, pages_p95 = p95(stats_stream.outcomes), p95(page_stream.outcomes)
                rows.append(
                    [
                        name,
                        f"{done} / {len(sets)}",
                        fivexx,
                        f"{percentile(queue_s, 50) * 1000:.0f} / {percentile(queue_s, 95) * 1000:.0f}",
                        f"{percentile(run_s, 50):.1f}" if run_s else "-",
                        f"{wall:.1f}",
                        f"{len(stats_stream.outcomes)} / {stats_p95 * 1000:.0f} (x{stats_p95 / base_stats:.1f})",
                        f"{len(page_stream.outcomes)} / {pages_p95 * 1000:.0f} (x{pages_p95 / base_pages:.1f})",
                    ]
                )

            phase("1. cold, queued at once")
            phase("2. cached, queued at once")
            print(
                table(
                    [
                        "phase",
                        "jobs done",
                        "5xx",
                        "queue POST ms p50 / p95",
                        "job run s p50",
                        "wall s",
                        "stats GETs / p95 ms (x idle)",
                        "question list GETs / p95 ms (x idle)",
                    ],
                    rows,
                )
            )
            print(
                f"\nidle baseline (same run, 30 GETs each): stats API p95 {base_stats * 1000:.0f} ms, "
                f"question list p95 {base_pages * 1000:.0f} ms; target under load: <= 250 ms"
            )
            stats = api.get("/api/embeddings/stats/").json()
            lifetime = stats["lifetime"]
            embedded = sum(
                j["cache_hits"]
                + j["cache_misses"]
                + int(j["codeframe"]["timings"].get("label_phrase_lookups", 0))
                for j in finished
                if j["codeframe"]
            )
            print(
                f"counters: {lifetime['requests']:,} lookups ({lifetime['hits']:,} hits + "
                f"{lifetime['misses']:,} misses); answers and label phrases the jobs embedded: {embedded:,} "
                f"({'exact' if embedded == lifetime['requests'] else 'MISMATCH'}); model time "
                f"{lifetime['encode_seconds']:.1f} s; queue now: {stats['sections'].get('codeframe_jobs')}"
            )
            print(f"statuses in the access log: {server.status_counts()}")
        finally:
            tasks.stop()
            server.stop()
            databases.close()

        setup_django(EMBEDDINGS_REDIS_URL=redis_url, DATABASE_URL=database.url)
        import numpy as np

        from embeddings.backends import get_backend
        from embeddings.services import embed_texts_with_report

        sample = pool[:: max(1, len(pool) // 300)][:300]
        cached = embed_texts_with_report(sample)
        direct = (
            get_backend()
            ._loaded()
            .encode(sample, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
        )
        print(
            f"vectors: {cached.hits} of {len(sample)} sampled texts cached, {cached.corrupt} "
            f"corrupt, max |cached - model.encode| = {np.abs(cached.vectors - direct).max():.2e}"
        )


if __name__ == "__main__":
    main()
