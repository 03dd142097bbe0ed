"""Where texts to warm come from: files, stdin, or the project's database, read as streams.

Every reader yields `(line_number, text)` pairs, one per record, lazily, so a file of millions of
lines is never held in memory. `text` is None for a record that exists but holds no usable text
(a short CSV row, a JSONL object whose field is null or not a string); callers count those as
skipped. Blank texts are yielded as they are: deciding what is blank is the caller's business.

Texts are kept exactly as written (only the line terminator is removed), because the cache key
is the SHA-256 of the exact text: a warmed text must be byte-identical to the one embedded later.

Input that cannot be read at all (missing file, undecodable bytes, malformed JSON, a CSV column
or JSONL field that is not there) raises `SourceError` with the line number.
"""

import codecs
import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.db import DatabaseError
from django.utils.module_loading import import_string

from embeddings.conf import get_config
from embeddings.exceptions import EmbeddingsError

FORMATS = ("txt", "csv", "jsonl")
STDIN = "-"

Record = tuple[int, str | None]


class SourceError(EmbeddingsError):
    """The input cannot be read; `line_number` says where (None when it is not about a line)."""

    def __init__(self, message: str, *, line_number: int | None = None) -> None:
        self.line_number = line_number
        super().__init__(f"line {line_number}: {message}" if line_number else message)


def format_for(path: str, *, column: str | None = None, field: str | None = None) -> str:
    """Guess the format of `path` from its extension; stdin is csv with a column, jsonl with a
    field, else txt."""
    if path == STDIN:
        return "csv" if column is not None else "jsonl" if field is not None else "txt"
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in {"jsonl", "ndjson"}:
        return "jsonl"
    if suffix in {"csv", "txt"}:
        return suffix
    return "txt"


def count_lines(path: str) -> int | None:
    """Number of lines in `path` (for a progress total), None for stdin or an unreadable file."""
    if path == STDIN:
        return None
    try:
        with open(path, "rb") as handle:
            count = 0
            last = b"\n"
            for block in iter(lambda: handle.read(1 << 20), b""):
                count += block.count(b"\n")
                last = block[-1:]
            return count + (last != b"\n")
    except OSError:
        return None


def read_texts(
    path: str,
    *,
    format: str | None = None,
    column: str | None = None,
    field: str | None = None,
    encoding: str = "utf-8",
) -> Iterator[Record]:
    """Yield `(line_number, text)` from a txt, csv or jsonl file, or from stdin when `path` is
    "-".

    txt: one text per line. csv: the `column` (a header name) of each row; rows are numbered by
    the line they start on. jsonl: the string `field` of each object.

    Raises SourceError (with the line number) when the file cannot be opened, a line cannot be
    decoded with `encoding`, a JSONL line is not valid JSON, or the column/field is missing.
    """
    format = format or format_for(path, column=column, field=field)
    if format not in FORMATS:
        raise SourceError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
    if format == "csv" and not column:
        raise SourceError("a CSV source needs a column name (--column)")
    if format == "jsonl" and not field:
        raise SourceError("a JSONL source needs a field name (--field)")
    handle = _open(path)
    try:
        lines = _decoded_lines(handle, encoding=encoding, name=path)
        if format == "txt":
            yield from _txt(lines)
        elif format == "csv":
            yield from _csv(lines, column=column)
        else:
            yield from _jsonl(lines, field=field)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def database_texts(*, question_ids: list[int] | None = None) -> Iterator[Record]:
    """Yield `(n, text)` for the responses of `question_ids` (None = every question), through
    the callable named by the `TEXT_SOURCE` setting (the embeddings app never imports the
    product's models). `n` counts records from 1.

    Raises SourceError when TEXT_SOURCE is not set or cannot be imported, or the source raises
    LookupError (ids it does not know: a typo must not warm nothing and succeed).
    """
    path = get_config()["TEXT_SOURCE"]
    if not path:
        raise SourceError(
            "no database text source is configured: set EMBEDDINGS['TEXT_SOURCE'] to the dotted "
            "path of a callable(*, question_ids) that yields response texts"
        )
    try:
        source: Callable[..., Iterable[str]] = import_string(path)
    except ImportError as exc:
        raise SourceError(f"EMBEDDINGS['TEXT_SOURCE'] {path!r} cannot be imported: {exc}") from exc
    try:
        for number, text in enumerate(source(question_ids=question_ids), start=1):
            yield number, text if isinstance(text, str) else None
    except LookupError as exc:
        raise SourceError(str(exc).strip("'\"")) from exc
    except DatabaseError as exc:
        raise SourceError(f"cannot read responses from the database: {exc}") from exc


def _open(path: str) -> BinaryIO:
    if path == STDIN:
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # closed by read_texts' finally
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _decoded_lines(handle: BinaryIO, *, encoding: str, name: str) -> Iterator[tuple[int, str]]:
    """Yield `(line_number, line)` with the terminator kept; a UTF-8 BOM on line 1 is dropped."""
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise SourceError(f"unknown encoding {encoding!r}") from exc
    number = 0
    try:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                if number == 1 and raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
                    raise SourceError(
                        f"{name} is a spreadsheet (XLSX/XLS), not text: save the column as "
                        "CSV, or import the file as answers and warm with --question",
                        line_number=number,
                    ) from exc
                raise SourceError(
                    f"{name}: bytes that are not valid {encoding} at column {exc.start + 1}",
                    line_number=number,
                ) from exc
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield number, line
    except OSError as exc:
        raise SourceError(f"{name}: read failed: {exc}", line_number=number + 1) from exc


def _strip_terminator(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    return line


def _txt(lines: Iterator[tuple[int, str]]) -> Iterator[Record]:
    for number, line in lines:
        yield number, _strip_terminator(line)


def _csv(lines: Iterator[tuple[int, str]], *, column: str) -> Iterator[Record]:
    # csv.reader pulls lines one at a time from this generator; `current` is the last line it
    # took, so a row's first line is `current` just before the reader is advanced.
    current = 0

    def feed() -> Iterator[str]:
        nonlocal current
        for number, line in lines:
            current = number
            yield line

    reader = csv.reader(feed())
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise SourceError(f"malformed CSV header: {exc}", line_number=current) from exc
    if column not in header:
        shown = ", ".join(repr(name) for name in header[:20])
        raise SourceError(f"no column {column!r} in the header (columns: {shown})", line_number=1)
    index = header.index(column)
    while True:
        start = current + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SourceError(f"malformed CSV: {exc}", line_number=start) from exc
        if not row:  # a blank line
            yield start, ""
        else:
            yield start, row[index] if index < len(row) else None


def _jsonl(lines: Iterator[tuple[int, str]], *, field: str) -> Iterator[Record]:
    checked = False
    for number, line in lines:
        if not line.strip():
            yield number, ""
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SourceError(f"not valid JSON: {exc.msg}", line_number=number) from exc
        if not isinstance(record, dict):
            yield number, None
            continue
        if not checked:
            # The first object decides whether the field name is right at all: a typo would
            # otherwise skip every line silently.
            if field not in record:
                shown = ", ".join(repr(name) for name in list(record)[:20])
                raise SourceError(
                    f"no field {field!r} in the first object (fields: {shown})",
                    line_number=number,
                )
            checked = True
        text = record.get(field)
        yield number, text if isinstance(text, str) and _encodable(text) else None


def _encodable(text: str) -> bool:
    # JSON may carry lone surrogates ("\ud800"), which no model tokenizer or database takes.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
