"""Codeframe generation under load: gunicorn on 127.0.0.1, the real model, a private Redis.

    .venv/bin/python bench/load.py [--workers 2] [--answers 1000] [--generations 20]

Phases, all against one server started for the run (its own SQLite database, its own Redis):
1. cold: `--generations` concurrent generations of `--answers` answers each over overlapping
   windows of a pool of distinct answers, with a stats request every 0.2 s beside them;
2. unloaded: the same cached generation 5 times, one at a time (the baseline);
3. loaded: every window again at once (all cached), with the stats stream;
4. a sweep: the cached generation at 1, 2, 4 and 8 concurrent requests.
Then the counters are checked against the texts requested, and 300 cached vectors against a
direct `model.encode` in this process. Requests are bounded in count and time; loopback only.
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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--pool", type=int, default=3000, help="distinct answers in all")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds per phase")
    args = parser.parse_args()

    from tests.proof.live import (
        ADMIN_PASSWORD,
        ADMIN_USER,
        DatabaseFactory,
        Http,
        LiveServer,
        server_env,
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
        f"gunicorn: {args.workers} gthread workers x 4 threads; {args.generations} generations x "
        f"{args.answers} answers over {len(pool)} distinct; stats GET every 0.2 s\n"
    )
    with private_redis() as url:
        redis_url = url.rsplit("/", 1)[0] + "/2"
        databases = DatabaseFactory(workdir)
        database = databases.fresh()
        server = LiveServer(
            database=database,
            env=server_env(database=database, redis_url=redis_url, var_dir=workdir),
            workers=args.workers,
            log_path=workdir / "gunicorn.log",
        )
        server.start()
        try:
            api = Http(server.base_url, auth=(ADMIN_USER, ADMIN_PASSWORD))

            def job(texts):
                return lambda: api.post_json(
                    "/api/codeframes/", {"responses": texts}, timeout=args.time_limit
                )

            def phase(jobs, concurrency):
                with StatsStream(api, interval=0.2) as stream:
                    started = time.perf_counter()
                    outcomes = run_bounded(
                        jobs, concurrency=concurrency, time_limit=args.time_limit
                    )
                    wall = time.perf_counter() - started
                return outcomes, stream.outcomes, wall

            rows = []
            cold, cold_stats, cold_wall = phase([job(t) for t in sets], args.generations)
            baseline = run_bounded([job(sets[0])] * 5, concurrency=1, time_limit=args.time_limit)
            loaded, loaded_stats, loaded_wall = phase([job(t) for t in sets], args.generations)
            base = percentile([o.seconds for o in baseline], 50)

            def row(name, outcomes, stats, wall):
                ok = [o for o in outcomes if o.status == 201]
                seconds = [o.seconds for o in ok] or [float("nan")]
                bad = len(outcomes) - len(ok)
                fivexx = sum(1 for o in outcomes + stats if o.status and o.status >= 500)
                stat_s = [o.seconds for o in stats] or [float("nan")]
                p95 = percentile(seconds, 95)
                rows.append(
                    [
                        name,
                        len(outcomes),
                        bad,
                        fivexx,
                        f"{percentile(seconds, 50):.2f}",
                        f"{p95:.2f}",
                        f"x{p95 / base:.1f}",
                        f"{len(stats)} / {percentile(stat_s, 95):.2f}",
                        f"{wall:.1f}" if wall else "",
                    ]
                )

            row("cold, all at once", cold, cold_stats, cold_wall)
            row("cached, one at a time", baseline, [], 0)
            row("cached, all at once", loaded, loaded_stats, loaded_wall)
            for concurrency in (1, 2, 4, 8):
                sweep, sweep_stats, sweep_wall = phase(
                    [job(sets[i % len(sets)]) for i in range(concurrency * 2)], concurrency
                )
                row(f"cached, {concurrency} concurrent", sweep, sweep_stats, sweep_wall)

            print(
                table(
                    [
                        "phase",
                        "requests",
                        "failed",
                        "5xx",
                        "median s",
                        "p95 s",
                        "p95 / unloaded median",
                        "stats GETs / p95 s",
                        "wall s",
                    ],
                    rows,
                )
            )
            stats = api.get("/api/embeddings/stats/").json()["lifetime"]
            requested = sum(
                len(o.reply.json()["responses"]) for o in cold + baseline + loaded if o.reply
            )
            print(
                f"\ncounters: {stats['requests']:,} lookups ({stats['hits']:,} hits + "
                f"{stats['misses']:,} misses); texts requested in phases 1-3: {requested:,} "
                f"(+ the sweep); model time {stats['encode_seconds']:.1f} s"
            )
            print(f"statuses in the access log: {server.status_counts()}")
        finally:
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
