"""Warm benchmark: what `embeddings_warm` costs on top of the model, and how fast a warm input
goes through.

    .venv/bin/python bench/warm.py [--texts 1024] [--repeats 3] [--warm-texts 200000]
                                   [--stream-lines 1000000]

On one private redis-server started for the run:
  1. cold: raw `model.encode(texts)` (the model already loaded) against
     embeddings.maintenance.warm_texts over the same texts read from a file, on an empty cache,
     paired round by round (see the comment in run()); in the same rounds, warm_texts through
     the ONNX int8 backend (--onnx-precision), whose throughput is compared with torch's.
  2. warm: warm_texts over --warm-texts lines whose vectors are all cached (384-d float32
     values written beforehand), read from a file: texts/s with no encoding at all.
  3. stream: `manage.py embeddings_warm FILE` as a separate process on --stream-lines lines, of
     which the first --cold-lines are not cached (so the real model is loaded and used) and the
     rest are: wall time, the command's own summary, and the process' peak RSS.
Texts: distinct BANKING77 test messages (Casanueva et al., 2020), short customer messages like
survey open-ends; beyond the 3,080 distinct ones, numbered variants.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, banking77_texts, machine, private_redis, setup_django, table


def run_measured(command: list[str], *, env: dict[str, str]) -> tuple[str, float]:
    """Run `command` in ROOT; return its stdout and its own peak RSS in MB.

    The peak is the child's VmHWM (/proc/PID/status), read every 50 ms while it runs: the high
    water mark only grows, so the last read is the peak but for the last 50 ms. getrusage's
    ru_maxrss cannot tell it: Linux carries the high water mark of the memory a process had
    before exec (here this bench's, with the model loaded) into its rusage."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        status, peak_kb = Path(f"/proc/{process.pid}/status"), 0
        while process.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                pass  # exited between poll() and the read
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, command, out.read(), err.read())
        return out.read(), peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1024, help="cold comparison size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--round", type=int, default=128, help="texts per paired round")
    parser.add_argument("--warm-texts", type=int, default=200_000)
    parser.add_argument("--stream-lines", type=int, default=1_000_000)
    parser.add_argument("--cold-lines", type=int, default=256)
    parser.add_argument("--onnx-precision", default="int8", choices=["int8", "fp32"])
    args = parser.parse_args()
    with private_redis() as url, tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        setup_django(EMBEDDINGS_REDIS_URL=url)
        run(url, Path(tmp), args)


def many_texts(count: int, *, offset: int = 0) -> list[str]:
    base = banking77_texts()
    out = []
    for i in range(offset, offset + count):
        variant, text = divmod(i, len(base))
        out.append(base[text] if variant == 0 else f"{base[text]} (#{variant})")
    return out


def one_line(texts: list[str]) -> list[str]:
    """The texts as a one-per-line file gives them back (a few BANKING77 texts hold newlines)."""
    return [" ".join(text.splitlines()) for text in texts]


def write_lines(path: Path, texts: list[str]) -> str:
    with path.open("w", encoding="utf-8") as handle:
        for text in texts:
            handle.write(text + "\n")
    return str(path)


def prefill(texts: list[str], *, dim: int, chunk: int = 20_000) -> None:
    """Cache vectors for `texts` without the model (random values of the real size)."""
    from embeddings import codec, keys
    from embeddings.conf import get_config
    from embeddings.maintenance import current_namespace
    from embeddings.stores import get_store

    store, ns = get_store(), current_namespace()
    rng = np.random.default_rng(0)
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        values = codec.encode(rng.random((len(part), dim), dtype=np.float32), dtype="float32")
        store.set_many(
            dict(zip(keys.text_keys(ns, part), values, strict=True)), ttl=get_config()["TTL"]
        )


def run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    import redis

    from embeddings.backends import get_backend
    from embeddings.maintenance import DEFAULT_WARM_BATCH, current_namespace, flush_keys, warm_texts
    from embeddings.sources import read_texts

    client = redis.Redis.from_url(url)
    backend = get_backend()
    model = backend._loaded()  # loaded outside every timing
    batch_size = backend.config["BATCH_SIZE"]
    ns = current_namespace()

    # 1. cold ----------------------------------------------------------------------------------
    # The machine is shared, so its speed drifts by 2x within a minute. Raw and warm are
    # therefore paired at a fine grain: the texts go in rounds of --round, and each round is
    # encoded raw and warmed back to back (alternating which goes first) on distinct texts, so
    # both see the same load. Totals over all rounds, median over repeats.
    texts = one_line(banking77_texts(args.texts))
    rounds = [texts[i : i + args.round] for i in range(0, len(texts), args.round)]
    round_files = [write_lines(tmp / f"cold-{n}.txt", part) for n, part in enumerate(rounds)]
    model.encode(texts[:64], batch_size=batch_size)  # warm up torch
    from django.conf import settings
    from django.test import override_settings

    onnx_settings = override_settings(
        EMBEDDINGS={
            **settings.EMBEDDINGS,
            "BACKEND": "embeddings.backends.onnx.OnnxBackend",
            "ONNX_PRECISION": args.onnx_precision,
        }
    )
    with onnx_settings:
        onnx_ns = current_namespace()
        onnx_label = get_backend().label
        get_backend().encode(texts[:64])  # builds the files if missing, loads, warms up

    def raw(part: list[str]) -> None:
        model.encode(part, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)

    inside_encode = [0.0]

    def warm(path: str, part: list[str]) -> None:
        stats = warm_texts(read_texts(path))
        assert stats.embedded == len(part), stats
        inside_encode[0] += stats.encode_seconds

    def warm_onnx(path: str, part: list[str]) -> None:
        with onnx_settings:
            stats = warm_texts(read_texts(path))
        assert stats.embedded == len(part), stats

    raw_totals, warm_totals, onnx_totals, round_ratios = [], [], [], []
    for repeat in range(args.repeats):
        flush_keys(namespace=ns)
        with onnx_settings:
            flush_keys(namespace=onnx_ns)
        raw_total = warm_total = onnx_total = 0.0
        for n, (part, path) in enumerate(zip(rounds, round_files, strict=True)):
            timed = {}
            steps = [
                ("raw", lambda p=part: raw(p)),
                ("warm", lambda f=path, p=part: warm(f, p)),
                ("onnx", lambda f=path, p=part: warm_onnx(f, p)),
            ]
            for name, fn in steps if (n + repeat) % 2 == 0 else reversed(steps):
                started = time.perf_counter()
                fn()
                timed[name] = time.perf_counter() - started
            raw_total += timed["raw"]
            warm_total += timed["warm"]
            onnx_total += timed["onnx"]
            round_ratios.append(timed["raw"] / timed["warm"])
        raw_totals.append(raw_total)
        warm_totals.append(warm_total)
        onnx_totals.append(onnx_total)
        print(
            f"repeat {repeat + 1}: raw {raw_total:.1f}s, warm {warm_total:.1f}s, "
            f"onnx warm {onnx_total:.1f}s",
            flush=True,
        )
    onnx_ratios = [w / o for w, o in zip(warm_totals, onnx_totals, strict=True)]
    ratios = [r / w for r, w in zip(raw_totals, warm_totals, strict=True)]
    # Load-independent view of the same thing: the share of warm_texts' time spent inside
    # model.encode; the rest (file, SHA-256, MGET, write pipeline) is what the cache costs.
    encode_share = inside_encode[0] / sum(warm_totals)
    cold_rows = [
        [
            name,
            f"{len(texts):,} in rounds of {args.round}",
            f"{statistics.median(ts):.2f}",
            f"{len(texts) / statistics.median(ts):,.1f}",
            ratio,
            " ".join(f"{t:.1f}" for t in ts),
        ]
        for name, ts, ratio in [
            ("raw model.encode", raw_totals, "1.000"),
            (
                f"warm_texts (batch {DEFAULT_WARM_BATCH})",
                warm_totals,
                f"{statistics.median(ratios):.3f} (per repeat {' '.join(f'{r:.3f}' for r in ratios)};"
                f" median per round {statistics.median(round_ratios):.3f})",
            ),
            (
                f"warm_texts, {onnx_label}",
                onnx_totals,
                f"{statistics.median(raw_totals) / statistics.median(onnx_totals):.3f}; vs torch"
                f" warm_texts {statistics.median(onnx_ratios):.3f}x (target >= 1.9x; per repeat"
                f" {' '.join(f'{r:.2f}' for r in onnx_ratios)})",
            ),
        ]
    ]

    # 2. fully warm ----------------------------------------------------------------------------
    flush_keys(namespace=ns)
    warm_list = one_line(many_texts(args.warm_texts))
    prefill(warm_list, dim=backend.dimension)
    warm_file = write_lines(tmp / "warm.txt", warm_list)
    warm_times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        stats = warm_texts(read_texts(warm_file))
        warm_times.append(time.perf_counter() - started)
        assert stats.cached == len(warm_list) and stats.embedded == 0, stats
    warm_seconds = statistics.median(warm_times)

    # 3. streaming a big file through the command ---------------------------------------------
    flush_keys(namespace=ns)
    stream = one_line(many_texts(args.stream_lines, offset=10_000_000))  # not cached by step 2
    prefill(stream[args.cold_lines :], dim=backend.dimension)
    stream_file = write_lines(tmp / "stream.txt", stream)
    del stream, warm_list
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMBEDDINGS_", "REDIS_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", HF_HUB_OFFLINE="1", EMBEDDINGS_REDIS_URL=url
    )
    started = time.perf_counter()
    stdout, peak_rss_mb = run_measured(
        [sys.executable, "manage.py", "embeddings_warm", stream_file, "--quiet"], env=env
    )
    stream_wall = time.perf_counter() - started
    summary = " / ".join(line.strip() for line in stdout.strip().splitlines())

    print()
    print(machine())
    print(
        f"model: {backend.label}, dimension {backend.dimension}, encode batch_size {batch_size}, "
        f"torch threads {__import__('torch').get_num_threads()}"
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("1. cold cache (median of repeats; ratio = raw time / warm time, >= 0.95 wanted)")
    print(f"   share of warm_texts' time spent inside model.encode: {encode_share:.4f}")
    print(
        table(
            [
                "variant",
                "texts",
                "seconds",
                "texts/s",
                "throughput ratio vs raw",
                "per-repeat seconds",
            ],
            cold_rows,
        )
    )
    print()
    print("2. fully warm input, read from a file (median)")
    print(
        table(
            ["texts", "seconds", "texts/s", "per-repeat seconds"],
            [
                [
                    f"{args.warm_texts:,}",
                    f"{warm_seconds:.2f}",
                    f"{args.warm_texts / warm_seconds:,.0f}",
                    " ".join(f"{t:.2f}" for t in warm_times),
                ]
            ],
        )
    )
    print()
    print("3. manage.py embeddings_warm as a process (model load included in wall time)")
    print(
        table(
            ["lines", "of which cold", "wall seconds", "peak RSS MB", "command summary"],
            [
                [
                    f"{args.stream_lines:,}",
                    f"{args.cold_lines:,}",
                    f"{stream_wall:.1f}",
                    f"{peak_rss_mb:,.0f}",
                    summary,
                ]
            ],
        )
    )
    client.close()


if __name__ == "__main__":
    main()
