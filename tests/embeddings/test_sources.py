"""Streaming readers: real files in a temp dir, their line numbers and their errors."""

import io
import sys

import pytest

from embeddings.sources import SourceError, count_lines, database_texts, format_for, read_texts


def _write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def test_txt_keeps_texts_exactly_and_numbers_lines(tmp_path):
    path = _write(
        tmp_path / "a.txt", "\ufeffToo expensive\r\n  spaced  \n\nlast, no newline".encode()
    )
    assert list(read_texts(path)) == [
        (1, "Too expensive"),
        (2, "  spaced  "),
        (3, ""),
        (4, "last, no newline"),
    ]
    assert count_lines(path) == 4


def test_txt_is_read_lazily(tmp_path):
    path = _write(tmp_path / "big.txt", b"x\n" * 100_000)
    records = read_texts(path)
    assert next(records) == (1, "x")  # without reading everything first
    records.close()


def test_undecodable_bytes_name_the_line(tmp_path):
    path = _write(tmp_path / "bad.txt", b"fine\nalso fine\nbad \xff byte\n")
    records = read_texts(path)
    assert next(records) == (1, "fine")
    assert next(records) == (2, "also fine")
    with pytest.raises(SourceError, match=r"line 3: .*not valid utf-8 at column 5") as info:
        next(records)
    assert info.value.line_number == 3


def test_other_encoding(tmp_path):
    path = _write(tmp_path / "latin.txt", "café\n".encode("latin-1"))
    assert list(read_texts(path, encoding="latin-1")) == [(1, "café")]
    with pytest.raises(SourceError, match="unknown encoding"):
        list(read_texts(path, encoding="no-such-codec"))


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match=r"cannot read .*nope\.txt: No such file"):
        list(read_texts(str(tmp_path / "nope.txt")))


def test_unreadable_path(tmp_path):
    # A directory cannot be read as a file, for root too (permission bits would not stop root,
    # and a test that skips itself as root proves nothing in CI).
    folder = tmp_path / "answers.txt"
    folder.mkdir()
    with pytest.raises(SourceError, match=r"cannot read .*answers\.txt: Is a directory"):
        list(read_texts(str(folder)))


def test_csv_column_with_quoted_newlines_numbers_rows_by_first_line(tmp_path):
    data = 'id,answer\n1,"Too expensive"\n2,"two\nlines"\n\n3\n4,"Friendly, staff"\n'
    path = _write(tmp_path / "a.csv", data.encode())
    assert list(read_texts(path, column="answer")) == [
        (2, "Too expensive"),
        (3, "two\nlines"),
        (5, ""),  # a blank line
        (6, None),  # a row without that column
        (7, "Friendly, staff"),
    ]


def test_csv_unknown_column(tmp_path):
    path = _write(tmp_path / "a.csv", b"id,answer\n1,x\n")
    with pytest.raises(SourceError, match=r"line 1: no column 'text' .*'id', 'answer'"):
        list(read_texts(path, column="text"))
    with pytest.raises(SourceError, match="needs a column"):
        list(read_texts(path))


def test_csv_undecodable_row(tmp_path):
    path = _write(tmp_path / "a.csv", b"answer\nok\n\xc3(\n")
    with pytest.raises(SourceError, match="line 3"):
        list(read_texts(path, column="answer"))


def test_jsonl_field(tmp_path):
    lines = [
        '{"text": "Too expensive", "id": 1}',
        "",
        '{"text": null}',
        '{"text": 42}',
        '["not", "an", "object"]',
        '{"text": "lone \\ud800 surrogate"}',
        '{"text": "ok"}',
    ]
    path = _write(tmp_path / "a.jsonl", "\n".join(lines).encode())
    assert list(read_texts(path, field="text")) == [
        (1, "Too expensive"),
        (2, ""),
        (3, None),
        (4, None),
        (5, None),
        (6, None),
        (7, "ok"),
    ]


def test_jsonl_unknown_field_and_bad_json(tmp_path):
    path = _write(tmp_path / "a.jsonl", b'{"answer": "x"}\n')
    with pytest.raises(SourceError, match=r"line 1: no field 'text' .*'answer'"):
        list(read_texts(path, field="text"))
    path = _write(tmp_path / "b.jsonl", b'{"text": "x"}\n{"text": "y"\n')
    records = read_texts(path, field="text")
    assert next(records) == (1, "x")
    with pytest.raises(SourceError, match="line 2: not valid JSON"):
        next(records)


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"one\ntwo\n")))
    assert list(read_texts("-")) == [(1, "one"), (2, "two")]
    assert count_lines("-") is None


def test_format_guessing():
    assert format_for("a.CSV") == "csv"
    assert format_for("a.jsonl") == "jsonl"
    assert format_for("answers") == "txt"
    assert format_for("-", column="answer") == "csv"
    assert format_for("-", field="text") == "jsonl"


def test_database_texts_through_the_configured_callable(settings):
    settings.EMBEDDINGS = {
        **settings.EMBEDDINGS,
        "TEXT_SOURCE": "tests.embeddings.sources_fake.texts",
    }
    assert list(database_texts(question_ids=[1])) == [(1, "q1 first"), (2, "q1 second"), (3, None)]
    assert [text for _, text in database_texts()][-1] == "q2 only"


def test_database_texts_unconfigured_or_wrong(settings):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "TEXT_SOURCE": None}
    with pytest.raises(SourceError, match="no database text source is configured"):
        list(database_texts())
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "TEXT_SOURCE": "no.such.module.texts"}
    with pytest.raises(SourceError, match="cannot be imported"):
        list(database_texts())
