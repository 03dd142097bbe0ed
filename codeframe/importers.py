"""Readers that turn an uploaded CSV / XLSX file or pasted text into answers, streaming.

Every reader yields `ImportedRow`s lazily, so `services.import_responses` can write them in
batches inside one transaction: a bad line halfway through raises `ImportFailed` (with its line
number) and nothing is kept. The first row of a file is its header; the answer column is chosen
by name (case-insensitive) or 1-based number, or guessed when there is only one likely column.
A CSV line with more cells than the header has an unquoted separator in an answer: in a
one-column file the whole line is the answer, otherwise the line is refused rather than cut.
"""

import csv
import datetime
import itertools
import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

from codeframe.conf import get_config
from codeframe.exceptions import ImportFailed
from codeframe.uploads import human_bytes
from codeframe.validators import as_id

ANSWER_COLUMN_NAMES = ("answer", "answers", "response", "text", "verbatim", "comment", "open_end")
# Guessed in this order (names casefolded, spaces as "_"): what survey platforms call the
# respondent's id (Qualtrics ResponseId, Confirmit/Forsta and Dimensions serial, SurveyMonkey
# respondent_id, uuid exports).
ID_COLUMN_NAMES = (
    "respondent_id", "respondentid", "respondent", "respid", "resp_id", "responseid",
    "response_id", "serial", "case_id", "caseid", "uuid", "id", "record",
)  # fmt: skip
# Then any name made of one word of each (`_guess_id_by_words`).
ID_WHO = {"resp", "respondent", "response", "case", "record", "interview", "participant"}
ID_NUMBER = {"id", "no", "nr", "num", "number", "serial", "ref"}
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# Lines after the header that decide a CSV file's separator (`_separator`).
SNIFF_LINES = 50
MAX_ID_CHARS = 100  # Response.respondent_id's max_length
# A CSV is read this many bytes at a time and split into lines here (see `_byte_lines`), so
# memory stays at a block plus the longest line, whatever the file's line endings.
_BLOCK_BYTES = 64 * 1024

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportedRow:
    line: int  # line (CSV, pasted text) or row (XLSX) number in the source, for messages
    respondent_id: str  # "" when the source has none: the importer numbers the answer by `line`
    text: str  # cleaned; "" for a blank answer (skipped by the importer)


def clean_answer(value: object) -> str:
    """The answer as text the database accepts: stripped, without NUL or lone surrogates."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        value = _date_text(value)
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    # PostgreSQL refuses lone surrogates (possible from JSON "\ud800"); replace them.
    return text.encode("utf-8", "replace").decode("utf-8").strip()


def _date_text(value: datetime.datetime | datetime.date | datetime.time) -> str:
    """A spreadsheet's date or time cell as a person typed it: 2024-01-02 (not 2024-01-02
    00:00:00, what str() gives for a date, which openpyxl reads as a midnight datetime),
    2024-01-02 14:30, 14:30; seconds only when there are some."""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        value = value.date()
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    moment = value.time() if isinstance(value, datetime.datetime) else value
    spec = "minutes" if moment.second == 0 and moment.microsecond == 0 else "seconds"
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec=spec)
    return value.replace(tzinfo=None).isoformat(timespec=spec)


def read_upload(
    file: IO[bytes],
    *,
    filename: str,
    column: str | None = None,
    id_column: str | None = None,
    sheet: str | None = None,
) -> Iterator[ImportedRow]:
    """Rows of an uploaded file, read by its extension (.csv/.tsv/.txt or .xlsx).

    Raises ImportFailed for an unknown extension, an empty or unreadable file, a column that is
    not there, a line that is not UTF-8 or an answer longer than CODEFRAME["MAX_ANSWER_CHARS"].
    """
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return read_xlsx(file, column=column, id_column=id_column, sheet=sheet)
    if suffix in CSV_SUFFIXES:
        if (kind := _workbook_kind(file)) is not None:  # read as text: "Line 1 is not UTF-8"
            raise ImportFailed(
                f"{filename} is an Excel workbook ({kind}) named {suffix}: upload it as "
                ".xlsx, or save it from Excel as “CSV UTF-8”."
            )
        return read_csv(file, column=column, id_column=id_column)
    raise ImportFailed(f"{filename or 'The file'}: upload a .csv or .xlsx file.")


def _workbook_kind(file: IO[bytes]) -> str | None:
    """ ".xlsx" or ".xls" when the file's first bytes are a workbook's (a zip, or an old OLE2
    .xls), read without moving it; None otherwise, or when it cannot be peeked at."""
    try:
        start = file.tell()
        head = file.read(8)
        file.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    if head.startswith(b"PK\x03\x04"):
        return ".xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return ".xls"
    return None


def read_csv(
    file: IO[bytes], *, column: str | None = None, id_column: str | None = None
) -> Iterator[ImportedRow]:
    """Rows of a UTF-8 CSV file (comma, semicolon or tab separated; a BOM is fine; lines end
    in LF, CRLF or CR).

    The header is read (and the columns checked) on the call, the rest as it is iterated. A
    file whose header is one name without a separator has one column: a line's unquoted
    commas are part of its answer. Otherwise a line with non-empty cells past the header's
    last column raises ImportFailed with its number (empty ones, as Excel may write, are
    ignored).
    """
    lines = _decoded_lines(file)
    first = next(lines, None)
    if first is None or not first.strip():
        raise ImportFailed("The file is empty." if first is None else "The first line is empty.")
    separated = any(d in first for d in ",;\t")
    sample, lines = _sample(lines)
    delimiter = _separator(first, sample) if separated else ","
    source = _Lines(first, lines)
    reader = csv.reader(source, delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ImportFailed(f"Line 1: {exc}") from exc
    if source.ended and header and header[-1].endswith(_END):
        raise _unclosed(1)
    answer_at, id_at = _resolve_columns(header, column=column, id_column=id_column)
    return _csv_rows(
        reader,
        source,
        answer_at=answer_at,
        id_at=id_at,
        width=len(header),
        one_column=not separated and len(header) == 1,
    )


# What a damaged workbook raises from inside openpyxl and zipfile while a sheet is read: bad XML
# (ParseError is a SyntaxError; defusedxml's refusals are ValueErrors), a truncated or corrupt
# member (BadZipFile on a CRC or size mismatch, zlib.error, EOFError), references to missing
# parts or shared strings (KeyError, IndexError) and unexpected values (TypeError, ValueError).
MALFORMED_XLSX = (
    SyntaxError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    OSError,
)


def check_xlsx_archive(file: IO[bytes]) -> None:
    """Refuse an .xlsx archive that would expand too far (a zip bomb) before openpyxl opens it.

    The members' uncompressed sizes come from the archive's directory; Python's zipfile never
    reads more than a member declares (it fails on the CRC instead), so the declared sizes
    bound the work. Raises ImportFailed when the total is above
    CODEFRAME["XLSX_MAX_UNCOMPRESSED_BYTES"] or a member above 1 MB expands more than
    CODEFRAME["XLSX_MAX_RATIO"] times, or its shared strings (read into memory whole) are
    above CODEFRAME["XLSX_MAX_SHARED_STRINGS_BYTES"]; leaves the file at its start.
    """
    config = get_config()
    max_total, max_ratio = config["XLSX_MAX_UNCOMPRESSED_BYTES"], config["XLSX_MAX_RATIO"]
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
            types = _content_types(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportFailed(f"The file is not a readable .xlsx workbook ({exc}).") from exc
    finally:
        file.seek(0)
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 1024 * 1024 and ratio > max_ratio:
            raise ImportFailed(
                f"The workbook looks like a zip bomb: its part {member.filename!r} expands from "
                f"{human_bytes(member.compress_size)} to {human_bytes(member.file_size)} "
                f"({ratio:,.0f} times; the limit is {max_ratio:,}). Nothing was imported; save "
                "the sheet as CSV."
            )
    strings = _shared_strings_size(members, types)
    if strings > config["XLSX_MAX_SHARED_STRINGS_BYTES"]:
        raise ImportFailed(
            f"The workbook's text cells take {human_bytes(strings)} unpacked; the limit is "
            f"{human_bytes(config['XLSX_MAX_SHARED_STRINGS_BYTES'])} (a workbook is read whole "
            "into memory). Nothing was imported; save the sheet with the answers as CSV."
        )
    if total > max_total:
        raise ImportFailed(
            f"The workbook expands to {human_bytes(total)} when unpacked; the limit is "
            f"{human_bytes(max_total)}. Nothing was imported; save the sheet as CSV, or split it."
        )


SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)


def _content_types(archive: zipfile.ZipFile):
    """The archive's parsed `[Content_Types].xml` (defusedxml), or None when it has none or it
    is unreadable (openpyxl then says what is wrong, in its words). One too large to be one is
    refused, as a bomb."""
    from defusedxml import ElementTree

    try:
        part = archive.getinfo("[Content_Types].xml")
    except KeyError:
        return None
    if part.file_size > 1024 * 1024:
        raise ImportFailed(
            "The workbook's [Content_Types].xml is too large to be one. Nothing was "
            "imported; save the sheet as CSV."
        )
    try:
        return ElementTree.fromstring(archive.read(part))
    except (zipfile.BadZipFile, OSError, ValueError, ElementTree.ParseError) as exc:
        logger.debug("unreadable [Content_Types].xml: %s", exc)
        return None


def _shared_strings_size(members: list[zipfile.ZipInfo], types) -> int:
    """The unpacked size of the workbook's shared-strings parts: those its content `types`
    declare as such (openpyxl finds them there, under any name), and `xl/sharedStrings.xml`
    in any case."""
    by_name = {m.filename: m for m in members}
    wanted = {m.filename for m in members if m.filename.lower() == "xl/sharedstrings.xml"}
    for override in [] if types is None else types:
        if override.get("ContentType") == SHARED_STRINGS_TYPE:
            wanted.add(str(override.get("PartName", "")).lstrip("/"))
    return sum(by_name[name].file_size for name in wanted if name in by_name)


def read_xlsx(
    file: IO[bytes],
    *,
    column: str | None = None,
    id_column: str | None = None,
    sheet: str | None = None,
) -> Iterator[ImportedRow]:
    """Rows of one sheet (default: the first) of an .xlsx workbook, read with openpyxl's
    read-only streaming mode after `check_xlsx_archive`.

    A formula in the answer column is refused with its row (its cached result may be stale
    or missing: paste the values instead). A damaged workbook (bad XML, a truncated part)
    raises ImportFailed naming the problem; the workbook is closed in every case.
    """
    import openpyxl

    check_xlsx_archive(file)
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=False)
    except SyntaxError as exc:  # xml ParseError while reading the sheet's size
        raise ImportFailed(
            f"The workbook is damaged: its XML is malformed ({_why(exc)}). Nothing was imported; "
            "open it in Excel or LibreOffice, save it again (or as CSV) and upload that."
        ) from exc
    except MALFORMED_XLSX as exc:
        raise ImportFailed(f"The file is not a readable .xlsx workbook ({_why(exc)}).") from exc
    try:
        try:
            worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
        except (KeyError, IndexError) as exc:
            names = ", ".join(workbook.sheetnames) or "none"
            raise ImportFailed(f"No sheet {sheet!r} in the workbook (sheets: {names}).") from exc
        rows = worksheet.iter_rows()
        try:
            header_row = next(rows, None)
        except MALFORMED_XLSX as exc:
            raise _malformed(1, exc) from exc
        if header_row is None or not any(cell.value not in (None, "") for cell in header_row):
            raise ImportFailed("The sheet is empty." if header_row is None else "Row 1 is empty.")
        header = ["" if cell.value is None else str(cell.value) for cell in header_row]
        answer_at, id_at = _resolve_columns(header, column=column, id_column=id_column)
    except BaseException:
        workbook.close()
        raise
    return _xlsx_rows(workbook, rows, answer_at=answer_at, id_at=id_at)


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _malformed(row: int, exc: BaseException) -> ImportFailed:
    return ImportFailed(
        f"The sheet is damaged at row {row:,} ({_why(exc)}); nothing was imported. Open it in "
        "Excel or LibreOffice, save it again (or as CSV) and upload that."
    )


def read_pasted(text: str) -> Iterator[ImportedRow]:
    """One answer per line; respondent ids are the line numbers."""
    max_chars = get_config()["MAX_ANSWER_CHARS"]
    for number, line in enumerate(text.splitlines(), start=1):
        yield _row(number, "", line, max_chars=max_chars)


def _byte_lines(file: IO[bytes]) -> Iterator[bytes]:
    """The file's lines, each with its ending (LF, CRLF or a lone CR), read a block at a time.

    Iterating a binary file splits at LF only: an old-Mac file (CR endings) would come as one
    "line" that csv refuses ("new-line character seen in unquoted field"). Decoding the file
    as text instead would lose the number of the line with a byte that is not UTF-8.
    """
    line: list[bytes] = []  # pieces of the line being read, joined once when it ends
    while block := file.read(_BLOCK_BYTES):
        for piece in block.splitlines(keepends=True):  # bytes split at CR, LF and CRLF only
            # A piece ending in CR waits for the next: its LF may start the next block.
            if line and line[-1].endswith(b"\r") and piece != b"\n":
                yield b"".join(line)
                line = []
            line.append(piece)
            if piece.endswith(b"\n"):
                yield b"".join(line)
                line = []
    if line:
        yield b"".join(line)


def _decoded_lines(file: IO[bytes]) -> Iterator[str]:
    for number, raw in enumerate(_byte_lines(file), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                f"Line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position "
                f"{exc.start + 1}). Save the file as “CSV UTF-8” and upload it again."
            ) from exc
        if number == 1:
            line = line.removeprefix("\ufeff")
        yield line


# Fed to csv.reader after a file's last line. csv ends a quoted field left open at the end of
# the file without a word (the rest of the file becomes one answer); this line then ends up in
# that field, which tells. A file may hold the same text: only once `_Lines.ended` is it ours.
_END = "\ufffeend of file\ufffe"


class _Lines:
    """The lines csv.reader reads: `first`, the rest, then _END (`ended` once it is read)."""

    def __init__(self, first: str, rest: Iterator[str]) -> None:
        self.lines, self.ended = itertools.chain((first,), rest), False

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        try:
            return next(self.lines)
        except StopIteration:
            if self.ended:
                raise
            self.ended = True
            return _END


def _sample(lines: Iterator[str]) -> tuple[list[str], Iterator[str]]:
    """(up to SNIFF_LINES lines, every line again): an error that stops the sampling (a line
    not UTF-8) is raised when the rows get there, as it would have been without the sample."""
    sample: list[str] = []
    try:
        for line in lines:
            sample.append(line)
            if len(sample) == SNIFF_LINES:
                break
    except ImportFailed as exc:
        return sample, _then_raise(sample, exc)
    return sample, itertools.chain(sample, lines)


def _then_raise(lines: list[str], error: ImportFailed) -> Iterator[str]:
    yield from lines
    raise error


def _separator(header: str, sample: list[str]) -> str:
    """The separator (comma, semicolon, tab) a file's cells line up with, from its header and
    the lines sampled after it: the most lines with as many cells as the header (more than
    one; empty trailing cells aside), then the fewest cells starting with a space (", " is
    how prose is written, not how a program separates), then the most header cells, then
    comma, semicolon, tab. Counting the header alone read "Serial;Q5. Why, in your own words?"
    as comma separated, cutting every answer at its comma and losing the ids."""

    def score(delimiter: str) -> tuple[int, int, int, int]:
        try:
            rows = list(csv.reader([header, *sample], delimiter=delimiter))
        except csv.Error:
            return (-1, 0, 0, 0)
        if len(sample) == SNIFF_LINES:
            rows = rows[:-1]  # the last sampled line may end inside a quoted answer
        cells = len(rows[0])
        if cells < 2:
            return (-1, 0, cells, 0)
        fits = sum(1 for row in rows[1:] if len(_trimmed(row)) == cells or len(row) == cells)
        spaced = sum(1 for row in rows for cell in row[1:] if cell.startswith(" "))
        return (fits, -spaced, cells, -",;\t".index(delimiter))

    return max(",;\t", key=score)


def _trimmed(row: list[str]) -> list[str]:
    while row and not row[-1].strip():
        row = row[:-1]
    return row


def _unclosed(line: int) -> ImportFailed:
    return ImportFailed(
        f"Line {line}: a double quote opens an answer that is never closed, so the rest of the "
        "file would be one answer. Close it (a quote inside a quoted answer is written twice: "
        '""), or save the file from Excel as “CSV UTF-8”.'
    )


def _csv_rows(
    reader: Any,
    source: _Lines,
    *,
    answer_at: int,
    id_at: int | None,
    width: int,
    one_column: bool,
) -> Iterator[ImportedRow]:
    max_chars = get_config()["MAX_ANSWER_CHARS"]
    delimiter = reader.dialect.delimiter
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):  # csv's own cap, far above ours
                if reader.line_num > start:  # a quoted field ran on over lines: most likely
                    raise _unclosed(start) from exc  # a quote never closed
                raise ImportFailed(
                    f"Line {start}: a field is over {csv.field_size_limit():,} "
                    f"characters long; the limit for an answer is {max_chars:,}."
                ) from exc
            raise ImportFailed(f"Line {reader.line_num}: {exc}") from exc
        if source.ended and cells and cells[-1].endswith(_END):
            if cells == [_END]:
                return  # the end: every quote was closed
            raise _unclosed(start)
        if not cells:
            continue
        if len(cells) > width:
            if one_column:
                # csv keeps the spaces around each cell, so this is the line as written.
                cells = [delimiter.join(cells)]
            elif any(cell.strip() for cell in cells[width:]):
                # Dropping the cells past the header would keep half an answer, silently.
                raise ImportFailed(
                    f"Line {reader.line_num} has {len(cells)} fields but the header has "
                    f"{width}: an answer with a {SEPARATOR_NAMES[delimiter]} must be in double "
                    "quotes. Save the file from Excel as “CSV UTF-8”, which quotes them."
                )
        yield _from_cells(cells, reader.line_num, answer_at, id_at, max_chars=max_chars)


def _xlsx_rows(workbook: Any, rows: Iterator, *, answer_at: int, id_at: int | None):
    config = get_config()
    max_chars, max_blank_run = config["MAX_ANSWER_CHARS"], config["XLSX_MAX_BLANK_RUN"]
    number = 1
    blank_run = 0
    try:
        while True:
            number += 1
            try:
                cells = next(rows)
            except StopIteration:
                return
            except MALFORMED_XLSX as exc:
                raise _malformed(number, exc) from exc
            if all(cell.value is None for cell in cells):
                # A sheet may hold a million formatted but empty rows; parsing them costs
                # about 0.1 ms each, so a long enough run of them ends the sheet.
                blank_run += 1
                if blank_run >= max_blank_run:
                    logger.info("xlsx: stopped at row %d after %d empty rows", number, blank_run)
                    return
                yield ImportedRow(line=number, respondent_id="", text="")
                continue
            blank_run = 0
            answer = cells[answer_at] if answer_at < len(cells) else None
            if answer is not None and answer.data_type == "f":
                raise ImportFailed(
                    f"Row {number:,}: the answer is a formula ({str(answer.value)[:60]}), not "
                    "text. Paste the column as values (Paste Special → Values) and upload again."
                )
            values = [cell.value for cell in cells]
            yield _from_cells(values, number, answer_at, id_at, max_chars=max_chars)
    finally:
        workbook.close()


def _from_cells(
    cells: list, number: int, answer_at: int, id_at: int | None, *, max_chars: int
) -> ImportedRow:
    answer = cells[answer_at] if answer_at < len(cells) else None
    if id_at is None:
        return _row(number, "", answer, max_chars=max_chars)
    respondent = _id_text(cells[id_at] if id_at < len(cells) else None, number)
    if len(respondent) > MAX_ID_CHARS:
        # Cut, it would no longer merge back onto the survey file (and two could collide).
        raise ImportFailed(
            f"Line {number}: the respondent id is {len(respondent):,} characters long; the "
            f"limit is {MAX_ID_CHARS}."
        )
    row = _row(number, respondent, answer, max_chars=max_chars)
    if row.text and not respondent:
        # Numbered by its line instead, it could take another respondent's id, and the codes
        # would be merged back onto the wrong case.
        raise ImportFailed(
            f"Line {number}: the answer has no respondent id. Fill in the id column, or "
            "choose another one."
        )
    return row


# Excel keeps a number to 15 significant digits: a longer id typed as a number is already
# changed in the file (123456789012345678 is stored as 1.23456789012346E+17).
EXCEL_DIGITS = 15


def _id_text(value: object, number: int) -> str:
    """A respondent id cell of a spreadsheet as text: a whole number as its digits (1003, not
    1003.0 or 1.003e3). Raises ImportFailed for a whole number longer than Excel keeps: it no
    longer is the survey's id, and would merge the codes onto no case, or the wrong one."""
    if isinstance(value, float) and value.is_integer():
        if abs(value) >= 10**EXCEL_DIGITS:
            raise ImportFailed(
                f"Line {number}: the respondent id {value:.15g} is a number longer than the "
                f"{EXCEL_DIGITS} digits Excel keeps, so its last digits are lost in the file. "
                "Export the survey with the id column as text and import again."
            )
        return str(int(value))
    return clean_answer(value)


def _row(number: int, respondent_id: str, answer: object, *, max_chars: int) -> ImportedRow:
    text = clean_answer(answer)
    if len(text) > max_chars:
        raise ImportFailed(
            f"Line {number}: the answer is {len(text):,} characters long; the limit is "
            f"{max_chars:,}."
        )
    return ImportedRow(line=number, respondent_id=respondent_id, text=text)


def _resolve_columns(
    header: list[str], *, column: str | None, id_column: str | None
) -> tuple[int, int | None]:
    names = [name.strip() for name in header]
    listed = ", ".join(repr(n) for n in names if n) or "none"
    if column and column.strip():
        answer_at = _find(names, column.strip())
        if answer_at is None:
            raise ImportFailed(f"There is no column {column.strip()!r}. Columns: {listed}.")
    else:
        answer_at = _guess(names, ANSWER_COLUMN_NAMES)
        if answer_at is None:
            if sum(1 for n in names if n) == 1:
                answer_at = next(i for i, n in enumerate(names) if n)
            else:
                raise ImportFailed(f"Choose the column that holds the answers. Columns: {listed}.")
    if id_column and id_column.strip():
        id_at = _find(names, id_column.strip())
        if id_at is None:
            raise ImportFailed(f"There is no column {id_column.strip()!r}. Columns: {listed}.")
        if id_at == answer_at:  # dropped, it was numbered with a message to name it instead
            raise ImportFailed(
                f"The respondent id column cannot be the answer column ({names[id_at]!r}): "
                f"choose another, or none to number the answers. Columns: {listed}."
            )
    else:
        id_at = _guess(names, ID_COLUMN_NAMES)
        if id_at is None:
            id_at = _guess_id_by_words(names)
    if id_at == answer_at:
        id_at = None
    return answer_at, id_at


def _find(names: list[str], wanted: str) -> int | None:
    lowered = [n.casefold() for n in names]
    if wanted.casefold() in lowered:
        return lowered.index(wanted.casefold())
    if (number := as_id(wanted)) is not None and 1 <= number <= len(names):
        return number - 1
    return None


def _guess_id_by_words(names: list[str]) -> int | None:
    """The first column whose name has "serial", or a word for the respondent with one for a
    number ("Respondent.Serial", "Serial number", "Resp No", "Record ID"): what ID_COLUMN_NAMES
    misses of the names survey platforms and data processors give it."""
    for at, name in enumerate(names):
        words = [w for w in re.split(r"[^0-9a-z]+", name.casefold()) if w]
        if len(words) > 3 or "?" in name or re.match(r"q\d", name.casefold()):
            continue  # a question ("Q5 Describe your response (no more than 50 words)")
        if "serial" in words or (ID_WHO.intersection(words) and ID_NUMBER.intersection(words)):
            return at
    return None


def _guess(names: list[str], candidates: tuple[str, ...]) -> int | None:
    lowered = [n.casefold().replace(" ", "_") for n in names]
    for candidate in candidates:
        if candidate in lowered:
            return lowered.index(candidate)
    return None
