"""embeddings_warm / embeddings_flush through call_command, and as real processes for exit codes,
interrupts and the real model."""

import os
import select
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import redis
from django.core.cache import caches
from django.core.management import CommandError, call_command

from embeddings import keys
from embeddings.backends import get_backend
from embeddings.maintenance import current_namespace, model_namespace
from embeddings.services import embed_texts, embed_texts_with_report
from tests.conftest import FAKE_BACKEND, run_manage, subprocess_env
from tests.fakes import CountingBackend

ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def manage(*args, redis_url: str, fake: bool = True, **kwargs) -> subprocess.CompletedProcess:
    env = subprocess_env(
        REDIS_URL=redis_url, **({"EMBEDDINGS_BACKEND": FAKE_BACKEND} if fake else {})
    )
    return run_manage(*args, env=env, **kwargs)


def _lines(tmp_path, texts, name="answers.txt") -> str:
    path = tmp_path / name
    path.write_text("".join(f"{t}\n" for t in texts), encoding="utf-8")
    return str(path)


def _our_keys(client) -> set[bytes]:
    return set(client.scan_iter(match=f"{current_namespace()}*", count=1000))


# --- embeddings_warm ------------------------------------------------------------------------


def test_warm_a_text_file_then_resume(redis_cache, tmp_path):
    path = _lines(tmp_path, ["Too expensive", "", "Friendly staff", "Too expensive", "Slow"])
    out = run("embeddings_warm", path)
    assert "5 read, 0 already cached, 3 newly embedded, 1 repeated, 1 skipped" in out
    assert "texts/s" in out
    assert len(_our_keys(redis.Redis.from_url(redis_cache))) == 3
    CountingBackend.calls = []
    out = run("embeddings_warm", path, "--batch-size", "2")
    assert "5 read, 4 already cached, 0 newly embedded" in out
    assert CountingBackend.calls == []


def test_warm_csv_and_jsonl(redis_cache, tmp_path):
    csv_path = tmp_path / "survey.csv"
    csv_path.write_text('id,answer\n1,"Too expensive"\n2,"Long,\nquoted"\n3\n', encoding="utf-8")
    out = run("embeddings_warm", str(csv_path), "--column", "answer")
    assert "3 read, 0 already cached, 2 newly embedded, 0 repeated, 1 skipped" in out
    jsonl = tmp_path / "survey.jsonl"
    jsonl.write_text('{"text": "Too expensive"}\n{"text": "New one"}\n', encoding="utf-8")
    out = run("embeddings_warm", str(jsonl), "--field", "text")
    assert "2 read, 1 already cached, 1 newly embedded" in out
    assert CountingBackend.encoded_texts() == ["Too expensive", "Long,\nquoted", "New one"]


def test_warm_bad_input_is_a_command_error_with_the_line(redis_cache, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"first\nsecond\nbad \xff\nnever read\n")
    with pytest.raises(CommandError, match=r"line 3: .*not valid utf-8"):
        run("embeddings_warm", str(path))
    # What came before the bad line is cached; nothing else was lost.
    assert embed_texts_with_report(["first", "second"]).hits == 2

    # A spreadsheet is named as one, not "bytes that are not valid utf-8".
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["answer"])
    book.active.append(["Too expensive"])
    book.save(tmp_path / "answers.xlsx")
    with pytest.raises(CommandError, match=r"answers.xlsx is a spreadsheet \(XLSX/XLS\)"):
        run("embeddings_warm", str(tmp_path / "answers.xlsx"), "--column", "answer")

    csv_path = tmp_path / "a.csv"
    csv_path.write_text("id,answer\n1,x\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"line 1: no column 'text'"):
        run("embeddings_warm", str(csv_path), "--column", "text")
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"answer": "x"}\n', encoding="utf-8")
    with pytest.raises(CommandError, match=r"line 1: no field 'text'"):
        run("embeddings_warm", str(jsonl), "--field", "text")
    with pytest.raises(CommandError, match=r"cannot read .*missing\.txt"):
        run("embeddings_warm", str(tmp_path / "missing.txt"))


def test_warm_needs_exactly_one_source(tmp_path):
    with pytest.raises(CommandError, match="exactly one source"):
        run("embeddings_warm")
    with pytest.raises(CommandError, match="exactly one source"):
        run("embeddings_warm", "x.txt", "--all")
    with pytest.raises(CommandError, match="--batch-size"):
        run("embeddings_warm", "x.txt", "--batch-size", "0")


def test_warm_dry_run_does_not_load_the_model_or_write(real_model, redis_cache, tmp_path):
    client = redis.Redis.from_url(redis_cache)
    path = _lines(tmp_path, ["one", "two", "two", ""])
    out = run("embeddings_warm", path, "--dry-run")
    assert "Dry run: 4 read, 0 already cached, 2 would embed, 1 repeated, 1 skipped" in out
    assert get_backend().is_loaded is False
    assert list(client.scan_iter(match="emb:v1:*")) == []


def test_warm_from_the_database_source(redis_cache, settings):
    settings.EMBEDDINGS = {
        **settings.EMBEDDINGS,
        "TEXT_SOURCE": "tests.embeddings.sources_fake.texts",
    }
    out = run("embeddings_warm", "--question", "1")
    assert "3 read, 0 already cached, 2 newly embedded, 0 repeated, 1 skipped" in out
    out = run("embeddings_warm", "--all")
    assert "4 read, 2 already cached, 1 newly embedded" in out


def test_warm_from_the_database_needs_a_source(settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "TEXT_SOURCE": None}
    with pytest.raises(CommandError, match="no database text source is configured"):
        run("embeddings_warm", "--all")


def test_warm_from_the_real_codeframe_selector(redis_cache, db):
    # Through the project's configured TEXT_SOURCE (codeframe's selector): the embeddings app
    # itself never imports codeframe.
    from django.conf import settings

    from codeframe.models import Question, Response
    from codeframe.services import default_project

    assert settings.EMBEDDINGS["TEXT_SOURCE"] == "codeframe.selectors.iter_response_texts"
    project = default_project()
    first = Question.objects.create(project=project, survey="s", text="Why?")
    second = Question.objects.create(project=project, survey="s", text="What else?")
    for position, text in enumerate(["Too expensive", "Slow", "Too expensive"]):
        Response.objects.create(question=first, text=text, position=position)
    Response.objects.create(question=second, text="Friendly", position=0)

    out = run("embeddings_warm", "--question", str(first.pk))
    assert "3 read, 0 already cached, 2 newly embedded, 1 repeated" in out
    out = run("embeddings_warm", "--all")
    assert "4 read, 3 already cached, 1 newly embedded" in out
    # A question that does not exist is an error, not "0 read" and exit 0.
    with pytest.raises(CommandError, match=f"There is no question {second.pk + 1}."):
        run("embeddings_warm", "--question", str(first.pk), "--question", str(second.pk + 1))


def test_warm_progress_lines_when_not_a_terminal(redis_cache, tmp_path):
    path = _lines(tmp_path, [f"answer {i}" for i in range(10)])
    out = run("embeddings_warm", path, "--batch-size", "4")
    assert out.splitlines()[0].startswith("progress: 4/10 lines (40.0%)")
    assert "progress:" not in run("embeddings_warm", path, "--quiet")


# --- embeddings_flush -----------------------------------------------------------------------

FOREIGN = {
    b":1:django.contrib.sessions.cacheabc": b"a session",
    b"emb:stats:hits": b"7",
    b"other-app:1:emb:v1:x": b"other",
}


def _fill(texts):
    embed_texts(list(texts))


def test_flush_deletes_our_keys_and_spares_every_other_key(redis_cache):
    client = redis.Redis.from_url(redis_cache)
    client.mset(FOREIGN)
    _fill(f"text {i}" for i in range(1500))
    other_model = model_namespace("0123456789abcdef")
    client.set(other_model + keys.text_digest("x"), b"other model")

    out = run("embeddings_flush", "--noinput", "--batch-size", "500")
    assert "1,500 embedding keys of the current model" in out
    assert "Deleted 1,500 keys" in out
    assert _our_keys(client) == set()
    assert {key: client.get(key) for key in FOREIGN} == FOREIGN
    assert client.exists(other_model + keys.text_digest("x"))

    out = run("embeddings_flush", "--noinput", "--model", "0123456789abcdef")
    assert "Deleted 1 keys" in out
    assert list(client.scan_iter(match="emb:v1:*")) == []


def test_flush_dry_run_and_all_models(redis_cache):
    client = redis.Redis.from_url(redis_cache)
    client.mset(FOREIGN)
    _fill(["a", "b"])
    client.set(model_namespace("0123456789abcdef") + "d", b"v")
    out = run("embeddings_flush", "--all-models", "--dry-run")
    assert "3 embedding keys of every model under 'emb:v1:'" in out
    assert "model 0123456789abcdef: 1" in out
    assert len(list(client.scan_iter(match="emb:v1:*"))) == 3
    out = run("embeddings_flush", "--all-models", "--noinput")
    assert "Deleted 3 keys" in out
    assert {key: client.get(key) for key in FOREIGN} == FOREIGN


def test_flush_asks_first(redis_cache, monkeypatch):
    _fill(["a", "b"])
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "no")
    out = run("embeddings_flush")
    assert "deletes 2 cached embeddings" in asked[0]
    assert "Flush cancelled." in out
    assert embed_texts_with_report(["a", "b"]).hits == 2
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert "Deleted 2 keys" in run("embeddings_flush")


def test_flush_without_a_terminal_says_noinput(redis_cache, monkeypatch):
    """cron or `docker exec` without -i: input() meets end of file; an EOFError traceback."""
    import io

    _fill(["a"])
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="--noinput"):
        run("embeddings_flush")
    assert embed_texts_with_report(["a"]).hits == 1


def test_flush_nothing_to_do_does_not_ask(redis_cache, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked"))
    assert "0 embedding keys" in run("embeddings_flush")


def test_flush_rejects_a_bad_fingerprint():
    with pytest.raises(CommandError, match="lowercase hex"):
        run("embeddings_flush", "--model", "emb:*", "--noinput")


def test_flush_on_the_embedded_disk_cache():
    cache = caches["embeddings"]
    cache.set("someone-else", "kept")
    _fill(["a", "b", "c"])
    out = run("embeddings_flush", "--noinput")
    assert "Deleted 3 keys" in out
    assert cache.get("someone-else") == "kept"
    assert "0 embedding keys" in run("embeddings_flush", "--dry-run")


# --- real processes -------------------------------------------------------------------------


def test_process_exit_codes(redis_url, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    result = manage("embeddings_warm", str(bad), redis_url=redis_url)
    assert result.returncode == 1
    assert "line 2" in result.stderr and "Traceback" not in result.stderr
    good = _lines(tmp_path, ["one", "two"])
    result = manage("embeddings_warm", good, redis_url=redis_url)
    assert result.returncode == 0, result.stderr
    assert "2 read, 0 already cached, 2 newly embedded" in result.stdout
    result = manage("embeddings_flush", redis_url=redis_url, input="no\n")
    assert result.returncode == 0 and "Flush cancelled." in result.stdout
    result = manage("embeddings_flush", "--noinput", redis_url=redis_url)
    # "ok", read before the bad line, was kept.
    assert result.returncode == 0 and "Deleted 3 keys" in result.stdout


def _read_until(stream, marker: str, timeout: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} within {timeout}s; got {seen!r}")
        line = stream.readline()
        if not line:
            raise AssertionError(f"process ended before {marker!r}; got {seen!r}")
        seen += line
    return seen


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_then_resume(redis_url, tmp_path, signum, code):
    texts = [f"survey answer {i}" for i in range(130)]
    env = subprocess_env(REDIS_URL=redis_url, EMBEDDINGS_BACKEND=FAKE_BACKEND)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "embeddings_warm", "-", "--batch-size", "50"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # One full batch, then 20 lines of the next; the process then waits for more input.
        proc.stdin.write("".join(f"{t}\n" for t in texts[:70]))
        proc.stdin.flush()
        _read_until(proc.stdout, "progress: 50 lines")
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert "50 read, 0 already cached, 50 newly embedded" in stdout
    assert "interrupted" in stdout and "Interrupted after line 50" in stderr
    assert len(set(redis.Redis.from_url(redis_url).scan_iter(match="emb:v1:*"))) == 50

    path = _lines(tmp_path, texts)
    result = manage("embeddings_warm", path, redis_url=redis_url)
    assert result.returncode == 0, result.stderr
    assert "130 read, 50 already cached, 80 newly embedded" in result.stdout


@pytest.mark.slow
def test_real_model_process_warms_what_embed_texts_returns(redis_url, settings, tmp_path):
    texts = ["Too expensive", "Friendly staff", "The app crashes on login"]
    path = _lines(tmp_path, texts)
    result = manage("embeddings_warm", path, redis_url=redis_url, fake=False)
    assert result.returncode == 0, result.stderr
    assert "3 read, 0 already cached, 3 newly embedded" in result.stdout

    from tests.conftest import REAL_BACKEND, redis_cache_settings

    settings.CACHES = {**settings.CACHES, "embeddings": redis_cache_settings(redis_url)}
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "BACKEND": REAL_BACKEND}
    report = embed_texts_with_report(texts)
    assert report.hits == 3 and report.encoded == 0
    assert get_backend().is_loaded is False  # served from what the process wrote
    fresh = get_backend().encode(texts)
    assert report.vectors.shape == (3, 384)
    np.testing.assert_allclose(report.vectors, fresh, atol=1e-5)
    assert os.environ.get("EMBEDDINGS_BACKEND") is None


class _Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(redis_cache, tmp_path):
    path = _lines(tmp_path, [f"answer {i}" for i in range(10)])
    out = _Terminal()
    call_command("embeddings_warm", path, "--batch-size", "4", stdout=out)
    text = out.getvalue()
    assert "100%" in text and "lines/s" in text  # tqdm's bar, with its rate
    assert "10 read, 0 already cached, 10 newly embedded" in text
    out = _Terminal()
    call_command("embeddings_flush", "--noinput", stdout=out)
    assert "100%" in out.getvalue() and "keys/s" in out.getvalue()
