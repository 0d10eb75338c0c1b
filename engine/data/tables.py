"""Delimited text tables (CSV, TSV, semicolon- or pipe-separated) as datasets.

A table spec is ``{"path": "iris.csv"}`` plus optional keys:

``target``
    The column to predict: a header name or a 0-based index (negative counts from the end;
    a string that names no column but reads as an integer is taken as an index); a list of
    them for several regression targets. Default: the last column.
``features``
    The input columns, names or indices. Default: every other column, except columns that
    hold text (left out, with a note in :attr:`Dataset.notes`) or nothing at all.
``sample_weight``
    A column of weights, one per row (Keras' ``fit(sample_weight=...)``): each sample's loss
    counts that much. Finite numbers, none below 0; never a feature. Default: none.
``delimiter``
    One character. Default: sniffed among ``,`` ``;`` tab ``|`` (Python's ``csv.Sniffer``,
    checked by how consistently each candidate splits the first 50 lines).
``header``
    Whether the first row names the columns. Default: sniffed (a first row with text over
    columns of numbers is a header). Without a header the columns are called ``column 1``,
    ``column 2``...
``encoding``
    ``"utf-8"``, ``"latin-1"`` or ``"cp1252"``. Default: UTF-8 (a byte order mark is
    skipped); when the bytes are not UTF-8, Windows-1252 if they decode as such, else Latin-1,
    with a note saying which. UTF-16 is refused with a message.
``decimal``
    ``"."`` or ``","``. Default: ``","`` only when the delimiter is not a comma and the numbers
    in the first lines use decimal commas only.
``task``
    ``"classification"`` or ``"regression"``. Default: a text target means classes; a
    numeric target with whole-number values and at most :data:`MAX_NUMERIC_CLASSES` distinct
    values means classes; anything else means regression.

Classes are numbered in sorted order of their values (text sorted as text, numbers as
numbers); :attr:`Dataset.class_names` keeps the values as text.

Row numbers in messages are what a spreadsheet shows: 1-based, the header line counted (a
quoted field spanning lines is one row). Every cell problem raises :class:`TableError`, a
:class:`~engine.errors.DataError` whose ``where`` names the file, row and column and whose
message quotes up to 3 offending values.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import pathlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.data.files import (
    MAX_AUTO_CLASSES,
    Dataset,
    check_fits,
    check_regular_file,
    show_value,
)
from engine.errors import DataError

__all__ = [
    "DELIMITERS",
    "ENCODINGS",
    "MAX_NUMERIC_CLASSES",
    "TABLE_SUFFIXES",
    "TableError",
    "TablePreview",
    "load_table",
    "preview_table",
]

#: File name endings read as delimited text.
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".dat", ".data")
#: Delimiters the sniffer chooses among.
DELIMITERS = (",", ";", "\t", "|")
#: Encodings a spec may name (Python's codec names normalise aliases such as ``"latin1"``).
ENCODINGS = ("utf-8", "latin-1", "cp1252")
#: A numeric target with whole-number values and at most this many distinct values is read as
#: classes unless the spec says ``"task": "regression"``.
MAX_NUMERIC_CLASSES = 20
#: Cells that people (and pandas, R, Excel) write for "no value".
MISSING_MARKERS = frozenset(
    {"na", "n/a", "nan", "null", "none", "-", "?", "#n/a", "missing", "nil", "#value!"}
)

_SNIFF_LINES = 50
_SNIFF_SNIFFER_CHARS = 4096
_SNIFF_MAX_CHARS = 4_000_000
_PREVIEW_FULL_BYTES = 16_000_000
_PREVIEW_PREFIX_BYTES = 1_000_000
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_DOT_NUMBER = re.compile(r"^\s*[+-]?\d*\.\d+([eE][+-]?\d+)?\s*$")
_COMMA_NUMBER = re.compile(r"^\s*[+-]?\d*,\d+([eE][+-]?\d+)?\s*$")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32 = np.dtype(np.float32)
_UTF8_BOM = codecs.BOM_UTF8
#: A whole table is read in chunks of this many bytes: checked as it comes (a 2 GB file of
#: zero bytes is refused after its first chunk), never held whole as bytes and text at once.
_CHUNK_BYTES = 1 << 20
#: Memory one parsed cell takes at least: a Python str object (49 bytes and up) and its slot
#: in the row's list; a table needs about this per cell while it is split into columns.
_CELL_BYTES = 57


class TableError(DataError):
    """A problem at a place in a table; ``row`` (spreadsheet numbering) and ``column`` (the
    0-based column index) say where, for a preview to highlight. Either may be None."""

    def __init__(
        self, message: str, where: str, row: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message, where=where)
        self.row = row
        self.column = column


@dataclass
class TablePreview:
    """The start of a table, for the dataset panel.

    Attributes
    ----------
    path : str
    columns : list of str
        Column names (from the header, or ``column 1``, ``column 2``...).
    rows : list of list of str
        The first data rows as read (a ragged row keeps its own length).
    row_numbers : list of int
        Each shown row's spreadsheet row number.
    delimiter, encoding, decimal : str
        As detected or given.
    header : bool
        Whether the first row is a header.
    kinds : list of str
        Per column, as :func:`load_table` would see it: ``"numeric"`` (at least half the
        filled cells are numbers or missing-value markers), ``"text"`` or ``"empty"``; judged on
        every row when ``n_rows`` is known, else on the rows read.
    n_rows : int or None
        Number of data rows in the file; None when the file is too large to count cheaply.
    n_distinct : list of int
        Distinct non-blank values per column, among the rows the kinds were judged on.
    bad_cells : list of int
        Per numeric column, the cells that would stop loading it (blank, text, missing-value
        markers, NaN, infinite or too large); 0 for other columns.
    suggested_task : str or None
        What :func:`load_table` would infer for the default target (the last column).
    notes : list of str
        How the file was read.
    """

    path: str
    columns: list[str]
    rows: list[list[str]]
    row_numbers: list[int]
    delimiter: str
    encoding: str
    header: bool
    decimal: str
    kinds: list[str]
    n_rows: int | None
    n_distinct: list[int] = field(default_factory=list)
    bad_cells: list[int] = field(default_factory=list)
    suggested_task: str | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Bytes to text
# --------------------------------------------------------------------------------------------


def normalize_encoding(name: str) -> str | None:
    """The canonical name in :data:`ENCODINGS` for ``name`` (``"UTF8"``, ``"latin1"``,
    ``"ISO-8859-1"``, ``"windows-1252"``...), or None when it is not one of them."""
    try:
        codec = codecs.lookup(name).name
    except (LookupError, TypeError):
        return None
    return {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "latin-1", "cp1252": "cp1252"}.get(
        codec
    )


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _refuse_non_text(raw: bytes, where: str) -> None:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(
            "the file is UTF-16 text, which is not supported; save it as UTF-8 (in Excel: "
            '"CSV UTF-8 (comma delimited)")',
            where=where,
        )
    if raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise DataError(
            "the file is a zip archive (an Excel .xlsx workbook, or a compressed file), not a "
            "text table; save the sheet as CSV (File > Save As > CSV)",
            where=where,
        )
    if raw.startswith(b"\x1f\x8b"):
        raise DataError(
            "the file is gzip-compressed; decompress it first (it is not a text table)",
            where=where,
        )
    if raw.startswith(b"\x93NUMPY"):
        raise DataError("the file is a NumPy .npy array, not a text table", where=where)
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError(
            "the file is an old Excel .xls workbook, not a text table; save the sheet as CSV",
            where=where,
        )


def _decode(raw: bytes, encoding: str | None, where: str) -> tuple[str, str, list[str]]:
    """Decode the file's bytes; returns the text, the encoding used and notes."""
    _refuse_non_text(raw, where)
    notes: list[str] = []
    bom = raw.startswith(_UTF8_BOM)
    if encoding is None:
        try:
            text = raw[len(_UTF8_BOM) :].decode("utf-8") if bom else raw.decode("utf-8")
            used = "utf-8"
        except UnicodeDecodeError as exc:
            start = exc.start + (len(_UTF8_BOM) if bom else 0)
            line = _line_of(raw, start)
            if bom:
                raise DataError(
                    f"the file starts with a UTF-8 byte order mark but line {line} holds byte "
                    f"0x{raw[start]:02x}, which is not UTF-8; save the file again as UTF-8 or "
                    'set "encoding" (e.g. "latin-1")',
                    where=where,
                ) from None
            try:
                text, used = raw.decode("cp1252"), "cp1252"
                label = "Windows-1252"
            except UnicodeDecodeError:
                text, used = raw.decode("latin-1"), "latin-1"
                label = "Latin-1"
            notes.append(
                f"read as {label}: the file is not UTF-8 (line {line} holds byte "
                f'0x{raw[start]:02x}); set "encoding" if the accents look wrong'
            )
    else:
        used = encoding
        body = raw[len(_UTF8_BOM) :] if bom and encoding == "utf-8" else raw
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            start = exc.start + (len(raw) - len(body))
            other = "latin-1" if encoding == "utf-8" else "utf-8"
            raise DataError(
                f"line {_line_of(raw, start)} holds byte 0x{raw[start]:02x}, which is not "
                f'{encoding}; set "encoding" to the file\'s encoding (e.g. "{other}")',
                where=where,
            ) from None
    bad = _BINARY.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise DataError(
            f"the file holds binary data (character 0x{ord(bad.group()):02x} on line {line}); "
            "it does not look like a text table",
            where=where,
        )
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, used, notes


def _open_binary(path: pathlib.Path) -> tuple[Any, int]:
    """The file opened for reading bytes, and its size; a FIFO or device is refused unopened."""
    where = str(path)
    size = check_regular_file(path, "data file", "a table")
    try:
        return open(path, "rb"), size
    except OSError as exc:
        raise DataError(f"cannot read data file: {exc.strerror or exc}", where=where) from None


def _chunks(path: pathlib.Path) -> Any:
    """The file's bytes in chunks of :data:`_CHUNK_BYTES`."""
    f, _ = _open_binary(path)
    with f:
        while True:
            try:
                chunk = f.read(_CHUNK_BYTES)
            except OSError as exc:
                raise DataError(
                    f"cannot read data file: {exc.strerror or exc}", where=str(path)
                ) from None
            if not chunk:
                return
            yield chunk


def _byte_at(path: pathlib.Path, offset: int) -> tuple[int, int]:
    """The byte at ``offset`` and its 1-based line, reading in chunks (for messages)."""
    lines, seen = 1, 0
    for chunk in _chunks(path):
        if seen + len(chunk) > offset:
            return chunk[offset - seen], lines + chunk.count(b"\n", 0, offset - seen)
        lines += chunk.count(b"\n")
        seen += len(chunk)
    return 0, lines  # pragma: no cover - the offset comes from the file itself


def _scan_codec(path: pathlib.Path, codec: str) -> UnicodeDecodeError | None:
    """Decode the whole file with ``codec`` chunk by chunk, refusing binary data as soon as
    it shows; the first decoding error (its ``start`` an offset in the file), or None."""
    # utf-8-sig's decoder counts error offsets after the mark: skip the mark here instead.
    skip = len(_UTF8_BOM) if codec == "utf-8-sig" else 0
    decoder = codecs.getincrementaldecoder("utf-8" if skip else codec)("strict")
    fed = 0
    lines = 1
    for chunk in _chunks(path):
        if skip:
            chunk, fed, skip = chunk[skip:], skip, 0
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            exc.start += fed - pending
            return exc
        fed += len(chunk)
        bad = _BINARY.search(text)
        if bad is not None:
            line = lines + text.count("\n", 0, bad.start())
            raise DataError(
                f"the file holds binary data (character 0x{ord(bad.group()):02x} on line "
                f"{line}); it does not look like a text table",
                where=str(path),
            )
        lines += text.count("\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        exc.start += fed - len(decoder.getstate()[0])
        return exc
    return None


def _choose_codec(
    path: pathlib.Path, head: bytes, encoding: str | None
) -> tuple[str, str, list[str]]:
    """Which codec reads the whole file (``"utf-8-sig"`` skips a byte order mark), its name
    as the spec says it, and notes; the same choices and messages as :func:`_decode`, made
    in constant memory."""
    where = str(path)
    _refuse_non_text(head, where)
    bom = head.startswith(_UTF8_BOM)
    if encoding is None:
        error = _scan_codec(path, "utf-8-sig" if bom else "utf-8")
        if error is None:
            return ("utf-8-sig" if bom else "utf-8"), "utf-8", []
        byte, line = _byte_at(path, error.start)
        if bom:
            raise DataError(
                f"the file starts with a UTF-8 byte order mark but line {line} holds byte "
                f"0x{byte:02x}, which is not UTF-8; save the file again as UTF-8 or "
                'set "encoding" (e.g. "latin-1")',
                where=where,
            )
        if _scan_codec(path, "cp1252") is None:
            used, label = "cp1252", "Windows-1252"
        else:
            _scan_codec(path, "latin-1")  # never fails to decode; refuses binary data
            used, label = "latin-1", "Latin-1"
        note = (
            f"read as {label}: the file is not UTF-8 (line {line} holds byte "
            f'0x{byte:02x}); set "encoding" if the accents look wrong'
        )
        return used, used, [note]
    codec = "utf-8-sig" if encoding == "utf-8" and bom else encoding
    error = _scan_codec(path, codec)
    if error is not None:
        byte, line = _byte_at(path, error.start)
        other = "latin-1" if encoding == "utf-8" else "utf-8"
        raise DataError(
            f"line {line} holds byte 0x{byte:02x}, which is not {encoding}; set "
            f'"encoding" to the file\'s encoding (e.g. "{other}")',
            where=where,
        )
    return codec, encoding, []


def _check_text(path: pathlib.Path, encoding: str | None) -> tuple[str, str, list[str], int]:
    """The codec that reads the whole file (see :func:`_choose_codec`), the encoding as the
    spec names it, notes and the file's size in bytes."""
    f, size = _open_binary(path)
    with f:
        head = f.read(8)
    codec, used, notes = _choose_codec(path, head, encoding)
    return codec, used, notes, size


def _open_text(path: pathlib.Path, codec: str) -> Any:
    """The file opened as text with universal newlines (``\\r\\n`` and ``\\r`` read as
    ``\\n``, as :func:`_decode` does)."""
    try:
        return open(path, encoding=codec, newline=None)
    except OSError as exc:
        raise DataError(f"cannot read data file: {exc.strerror or exc}", where=str(path)) from None


def _read_text(
    path: pathlib.Path, encoding: str | None, limit: int | None = None
) -> tuple[str, str, list[str], bool]:
    """The file's text (at most ``limit`` bytes of it, cut after a whole line), the encoding
    used, notes, and whether the text was cut."""
    where = str(path)
    f, _ = _open_binary(path)
    try:
        with f:
            raw = f.read() if limit is None else f.read(limit + 1)
    except OSError as exc:
        raise DataError(f"cannot read data file: {exc.strerror or exc}", where=where) from None
    cut = False
    if limit is not None and len(raw) > limit:
        end = raw.rfind(b"\n", 0, limit)
        raw = raw[: end + 1] if end >= 0 else raw[:limit]
        cut = True
        if end < 0:  # one very long first line: do not split a UTF-8 sequence
            raw = raw[: len(raw.decode("utf-8", "ignore").encode("utf-8"))] or raw
    text, used, notes = _decode(raw, encoding, where)
    return text, used, notes, cut


# --------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------


def _sample_text(text: str) -> str:
    end = 0
    for _ in range(_SNIFF_LINES):
        nxt = text.find("\n", end)
        if nxt < 0:
            return text
        end = nxt + 1
        if end > _SNIFF_MAX_CHARS:
            break
    return text[:end]


def _reader(text: str, delimiter: str) -> Any:
    return csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"', skipinitialspace=True)


def _sample_rows(sample: str, delimiter: str) -> list[list[str]]:
    try:
        return [r for r in _reader(sample, delimiter) if any(c.strip() for c in r)]
    except csv.Error:
        return []


def _is_number(cell: str, decimal: str = ".") -> bool:
    if decimal == ",":
        cell = cell.replace(",", ".")
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _delimiter_score(rows: list[list[str]], delimiter: str) -> tuple:
    if not rows:
        return (False, 0.0, 0.0, 0)
    widths = Counter(len(r) for r in rows)
    width, count = widths.most_common(1)[0]
    consistency = count / len(rows)
    decimal = "," if delimiter != "," else "."
    body = [c for r in rows[1:] for c in r if c.strip()]
    numeric = sum(_is_number(c, decimal) for c in body) / len(body) if body else 0.0
    return (width > 1, round(consistency, 2), round(numeric, 2), width)


def _sniff_delimiter(sample: str) -> str:
    candidates = list(DELIMITERS)
    # csv.Sniffer's regular expressions can take quadratic time on odd quoting: give it a
    # short sample only. Its guess orders the candidates; the consistency score decides.
    end = sample.rfind("\n", 0, _SNIFF_SNIFFER_CHARS)
    short = sample[: end + 1] if end > 0 else sample[:_SNIFF_SNIFFER_CHARS]
    try:
        sniffed = csv.Sniffer().sniff(short, delimiters="".join(DELIMITERS)).delimiter
    except Exception:  # noqa: BLE001 - csv.Error, or anything else: no guess
        sniffed = None
    if sniffed in candidates:
        candidates.remove(sniffed)
        candidates.insert(0, sniffed)
    scores = [(_delimiter_score(_sample_rows(sample, d), d), -i) for i, d in enumerate(candidates)]
    best = max(range(len(candidates)), key=lambda i: scores[i])
    return candidates[best] if scores[best][0][0] else ","


def _sniff_decimal(rows: list[list[str]], delimiter: str) -> str:
    if delimiter == ",":
        return "."
    cells = [c for r in rows for c in r]
    commas = sum(bool(_COMMA_NUMBER.match(c)) for c in cells)
    dots = sum(bool(_DOT_NUMBER.match(c)) for c in cells)
    return "," if commas and not dots else "."


def _sniff_header(rows: list[list[str]], decimal: str) -> bool:
    if not rows:
        return False
    first, rest = rows[0], rows[1:]
    numeric_first = [_is_number(c, decimal) for c in first]
    if all(numeric_first):
        return False
    if not rest:
        return True
    # Text over a column of numbers: the classic header.
    for j, cell in enumerate(first):
        if numeric_first[j] or not cell.strip():
            continue
        column = [r[j] for r in rest if j < len(r) and r[j].strip()]
        if column and all(_is_number(v, decimal) for v in column):
            return True
    if any(numeric_first):
        return False  # numbers in the first row: a data row (say "header": true otherwise)
    # All text: a header when no first-row value appears again in its column.
    return all(
        all(j >= len(r) or r[j].strip() != cell.strip() for r in rest)
        for j, cell in enumerate(first)
    )


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


@dataclass
class _Table:
    path: pathlib.Path
    names: list[str]
    header: bool
    rows: list[list[str]]
    row_numbers: list[int]
    delimiter: str
    encoding: str
    decimal: str
    notes: list[str]
    cut: bool

    def ref(self, j: int) -> str:
        """A column as messages name it."""
        if self.header and self.names[j].strip():
            return f"column {self.names[j]!r}"
        return f"column {j + 1}"

    def where(self, row: int | None = None, column: int | None = None) -> str:
        parts = [str(self.path)]
        if row is not None:
            parts.append(f"row {row}")
        if column is not None:
            parts.append(self.ref(column))
        return ", ".join(parts)


def _options(spec: dict[str, Any]) -> tuple[str | None, bool | None, str | None, str | None]:
    encoding = spec.get("encoding")
    if encoding is not None:
        encoding = normalize_encoding(encoding)
    return spec.get("delimiter"), spec.get("header"), encoding, spec.get("decimal")


def _stream_sample(stream: Any) -> str:
    """The first :data:`_SNIFF_LINES` lines of an open text file (at most
    :data:`_SNIFF_MAX_CHARS` characters), as :func:`_sample_text` takes them from a text."""
    parts: list[str] = []
    total = 0
    for _ in range(_SNIFF_LINES):
        line = stream.readline(_SNIFF_MAX_CHARS - total + 1)
        if not line:
            break
        parts.append(line)
        total += len(line)
        if total > _SNIFF_MAX_CHARS:
            break
    return "".join(parts)


def _check_table_memory(
    size: int, sample: str, delimiter: str, where: str, dtype: np.dtype
) -> None:
    """Refuse, before parsing it, a table whose cells cannot fit in memory: estimated from
    the sample's bytes per cell (each parsed cell is a Python string, at least
    :data:`_CELL_BYTES`, then a number in float64 and in ``dtype``)."""
    rows = _sample_rows(sample, delimiter)
    cells = sum(len(r) for r in rows)
    if not cells:
        return
    per_cell = max(len(sample.encode("utf-8", "replace")) / cells, 1.0)
    estimate = size / per_cell
    check_fits(
        estimate * (_CELL_BYTES + 8 + dtype.itemsize),
        f"the table (about {estimate:,.0f} cells, judged by its first lines)",
        where,
    )


def _read_table(
    path: pathlib.Path,
    spec: dict[str, Any],
    limit: int | None = None,
    dtype: np.dtype = _FLOAT32,
) -> _Table:
    """Decode, sniff and split a table into rows of strings (blank rows skipped).

    With ``limit`` (a preview) at most that many bytes are read, whole. Without it the file
    is read as a stream: checked chunk by chunk for its encoding and for binary data first
    (constant memory), its size against the memory limit, then parsed line by line, so
    neither its bytes nor its whole text are ever held.
    """
    where = str(path)
    delimiter, header, encoding, decimal = _options(spec)
    text: str | None = None
    if limit is None:
        codec, used, notes, size = _check_text(path, encoding)
        cut = False
        with _open_text(path, codec) as stream:
            sample = _stream_sample(stream)
            # A blank start: the file is empty unless rows follow the blank lines.
            if not sample.strip() and not any(line.strip() for line in stream):
                raise TableError("the file is empty", where=where)
    else:
        text, used, notes, cut = _read_text(path, encoding, limit)
        if not text.strip():
            raise TableError("the file is empty", where=where)
        sample = _sample_text(text)
    if delimiter is None:
        delimiter = _sniff_delimiter(sample)
    sample_rows = _sample_rows(sample, delimiter)
    if decimal is None:
        decimal = _sniff_decimal(sample_rows[1:], delimiter)
        if decimal == ",":
            notes.append('numbers read with decimal commas (set "decimal": "." if wrong)')
    if header is None:
        header = _sniff_header(sample_rows, decimal)

    rows: list[list[str]] = []
    row_numbers: list[int] = []
    number = 0
    try:
        if text is None:
            _check_table_memory(size, sample, delimiter, where, dtype)
            source: Any = _open_text(path, codec)
        else:
            source = io.StringIO(text)
        with source:
            reader = csv.reader(source, delimiter=delimiter, quotechar='"', skipinitialspace=True)
            for number, row in enumerate(reader, start=1):
                if not row or not (row[0].strip() or any(cell.strip() for cell in row)):
                    continue
                rows.append(row)
                row_numbers.append(number)
    except csv.Error as exc:
        detail = str(exc)
        if "field larger than field limit" in detail:
            detail = (
                f"a cell is longer than {csv.field_size_limit()} characters; is a closing "
                "quote missing?"
            )
        raise TableError(detail, where=f"{where}, row {number + 1}", row=number + 1) from None

    if not rows:
        raise TableError("the file holds no values, only blank lines or delimiters", where=where)
    if header:
        names = [c.strip() for c in rows[0]]
        while len(names) > 1 and not names[-1]:
            names.pop()  # "a,b,c," exports: a trailing delimiter names no column
        rows, first_row = rows[1:], row_numbers[:1]
        row_numbers = row_numbers[1:]
        if not rows and not cut:
            raise TableError(
                "the file has a header but no data rows", where=where, row=(first_row or [1])[0]
            )
    else:
        names = [f"column {j + 1}" for j in range(len(rows[0]))]
    return _Table(
        path, names, bool(header), rows, row_numbers, delimiter, used, decimal, notes, cut
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _check_ragged(table: _Table) -> None:
    """Make every row as wide as the header, dropping empty cells past its end."""
    width = len(table.names)
    bad: list[int] = []
    for i, row in enumerate(table.rows):
        if len(row) == width:
            continue
        if len(row) > width and not any(c.strip() for c in row[width:]):
            table.rows[i] = row[:width]
            continue
        bad.append(i)
        if len(bad) == 3:
            break
    if not bad:
        return
    first = bad[0]
    row = table.rows[first]
    against = "the header has" if table.header else "the first row has"
    cells = ", ".join(show_value(c) for c in row[:6]) + (", ..." if len(row) > 6 else "")
    message = f"{_count(len(row), 'value')} where {against} {_count(width, 'column')} ({cells})"
    if len(bad) > 1:
        others = ", ".join(f"row {table.row_numbers[i]} has {len(table.rows[i])}" for i in bad[1:])
        message += f"; also {others}"
    if any("\n" in c for i in bad for c in table.rows[i]):
        message += "; a quoted value runs over several lines: is a closing quote missing?"
    elif len(bad) > 1 and len({len(table.rows[i]) for i in bad}) == 1 and table.header:
        message += "; is the first row really the header?"
    raise TableError(
        message, where=table.where(table.row_numbers[first]), row=table.row_numbers[first]
    )


# --------------------------------------------------------------------------------------------
# Columns to numbers
# --------------------------------------------------------------------------------------------


def _cell_problem(value: str, decimal: str) -> str | None:
    """Why a cell is not a usable number, or None when it is one."""
    stripped = value.strip()
    if not stripped:
        return "blank"
    try:
        number = float(stripped.replace(",", ".") if decimal == "," else stripped)
    except ValueError:
        if stripped.lower() in MISSING_MARKERS:
            return "missing"
        return "text"
    if math.isnan(number):
        return "missing"
    if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
        return "large" if stripped.lower().lstrip("+-") not in ("inf", "infinity") else "inf"
    return None


def _fast_numbers(values: tuple[str, ...] | list[str], decimal: str) -> np.ndarray | None:
    """The cells as float64 in one NumPy call; None when one of them is not a number."""
    cells = [v.replace(",", ".") for v in values] if decimal == "," else values
    try:
        return np.array(cells, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return None


def _all_finite(numbers: np.ndarray) -> bool:
    with np.errstate(invalid="ignore"):
        return bool((np.abs(numbers) <= _FLOAT32_MAX).all())  # False for NaN and inf too


def _numeric_share(
    values: tuple[str, ...] | list[str], decimal: str, sample: int = 2000
) -> tuple[float, np.ndarray | None]:
    """The share of non-blank cells that are numbers or stand for one (``NA``, ``nan``, ``inf``,
    ``1e999``: the loader reports those, it does not take the column for text), and the
    numbers when every cell is a usable one (share 1.0). Otherwise the share is estimated on
    at most ``sample`` evenly spaced cells and kept below 1."""
    numbers = _fast_numbers(values, decimal)
    if numbers is not None and _all_finite(numbers):
        return (1.0 if len(values) else 0.0), numbers
    step = max(1, len(values) // sample)
    filled = [v for v in values[::step] if v.strip()]
    if not filled:
        return 0.0, None
    share = sum(_cell_problem(v, decimal) != "text" for v in filled) / len(filled)
    return min(share, 0.999), None


def _bad_cells_error(
    table: _Table, j: int, values: tuple[str, ...] | list[str], what: str
) -> TableError:
    """The error for a column that should hold numbers but has bad cells."""
    bad: list[tuple[int, str, str]] = []
    total = 0
    for i, v in enumerate(values):
        problem = _cell_problem(v, table.decimal)
        if problem is None:
            continue
        total += 1
        if len(bad) < 3:
            bad.append((table.row_numbers[i], v, problem))
    row, value, problem = bad[0]
    first = {
        "blank": "the cell is blank",
        "missing": f"{show_value(value)} marks a missing value, not a number",
        "text": f"{show_value(value)} is not a number",
        "inf": f"{show_value(value)} is not a finite number",
        "large": f"{show_value(value)} is too large (the limit is about 3.4e38)",
    }[problem]
    message = first
    if len(bad) > 1:
        shown = "; ".join(
            f"row {r}: {'blank' if p == 'blank' else show_value(v)}" for r, v, p in bad[1:]
        )
        message += f"; also {shown}"
    if total > 3:
        message += f" ({total} such cells in this column)"
    kinds = {p for _, _, p in bad}
    if kinds <= {"blank", "missing"}:
        message += f"; {what} needs a number in every row: fill in the values or remove the rows"
    elif "text" in kinds:
        if table.decimal == "." and any(_COMMA_NUMBER.match(v) for _, v, _ in bad):
            message += '; for decimal commas set "decimal": ","'
        else:
            message += f"; {what} must hold numbers only"
    else:
        message += f"; {what} must hold finite numbers"
    return TableError(message, where=table.where(row, j), row=row, column=j)


def _column_numbers(
    table: _Table,
    j: int,
    values: tuple[str, ...] | list[str],
    what: str,
    numbers: np.ndarray | None = None,
) -> np.ndarray:
    """A column as float64 (``numbers`` when :func:`_numeric_share` already converted and
    checked it), or a :class:`TableError` naming the bad cells."""
    if numbers is not None:
        return numbers
    numbers = _fast_numbers(values, table.decimal)
    if numbers is None or not _all_finite(numbers):
        raise _bad_cells_error(table, j, values, what)
    return numbers


def _sample_weights(table: _Table, j: int, values) -> np.ndarray:
    """The sample weight column: finite numbers, none below 0 (a TableError names the rows)."""
    numbers = _column_numbers(table, j, values, "the sample weight column")
    bad = np.flatnonzero(numbers < 0)
    if len(bad):
        shown = ", ".join(show_value(values[i]) for i in bad[:3])
        raise TableError(
            f"the sample weights must be 0 or more; {len(bad)} "
            f"{'is' if len(bad) == 1 else 'are'} negative ({shown})",
            where=table.where(row=table.row_numbers[int(bad[0])], column=j),
            column=j,
        )
    return numbers.astype(np.float64)


def _resolve_column(table: _Table, ref: object, key: str) -> int:
    names = table.names
    width = len(names)
    if isinstance(ref, str):
        matches = [j for j, n in enumerate(names) if n == ref.strip()]
        if len(matches) > 1:
            raise TableError(
                f'"{key}": {len(matches)} columns are named {ref!r} (columns '
                f"{', '.join(str(j + 1) for j in matches)}); give a 0-based index instead",
                where=str(table.path),
            )
        if matches:
            return matches[0]
        try:
            ref = int(ref.strip())
        except ValueError:
            import difflib

            hint = difflib.get_close_matches(ref, names, n=1)
            tip = f" (did you mean {hint[0]!r}?)" if hint else ""
            shown = ", ".join(repr(n) for n in names[:12]) + (", ..." if width > 12 else "")
            raise TableError(
                f'"{key}": there is no column named {ref!r}{tip}; the columns are {shown}',
                where=str(table.path),
            ) from None
    if isinstance(ref, bool) or not isinstance(ref, int):
        raise TableError(
            f'"{key}": a column is a name or a 0-based index, got {ref!r}', where=str(table.path)
        )
    if not -width <= ref < width:
        raise TableError(
            f'"{key}": column index {ref} is out of range; the table has {width} columns '
            f"(indices 0 to {width - 1}, or -1 for the last)",
            where=str(table.path),
        )
    return ref % width


def _column_refs(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


def _format_class(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _classes_from_text(
    table: _Table, j: int, values: tuple[str, ...] | list[str], explicit: bool
) -> tuple[np.ndarray, list[str]]:
    stripped = [v.strip() for v in values]
    blanks = [i for i, v in enumerate(stripped) if not v]
    if blanks:
        rows = [table.row_numbers[i] for i in blanks[:3]]
        more = f" ({len(blanks)} blank cells in all)" if len(blanks) > 3 else ""
        also = f"; also row {', row '.join(map(str, rows[1:]))}" if len(rows) > 1 else ""
        raise TableError(
            f"the target cell is blank{also}{more}; every row needs a class: fill them in or "
            "remove the rows",
            where=table.where(rows[0], j),
            row=rows[0],
            column=j,
        )
    names, labels = np.unique(np.array(stripped, dtype=str), return_inverse=True)
    if len(names) > MAX_AUTO_CLASSES and not explicit:
        examples = ", ".join(show_value(v) for v in stripped[:3])
        raise TableError(
            f"the target holds {len(names)} different text values ({examples}, ...), too many "
            "to be classes; choose another target column",
            where=table.where(column=j),
            column=j,
        )
    return labels.astype(np.int64).reshape(-1), [str(n) for n in names]


def _target(
    table: _Table,
    cols: list[int],
    columns: dict[int, tuple[str, ...]],
    task: str | None,
    dtype: np.dtype = _FLOAT32,
) -> tuple[np.ndarray, str, int | None, list[str] | None, list[str]]:
    """Targets, task, number of classes, class names, notes."""
    notes: list[str] = []
    if len(cols) > 1:
        if task == "classification":
            raise TableError(
                f'"target": {len(cols)} columns can only be predicted as numbers; give one '
                'column for classification or set "task": "regression"',
                where=str(table.path),
            )
        ys = [_column_numbers(table, j, columns[j], "a target column") for j in cols]
        return np.stack(ys, axis=1).astype(dtype), "regression", None, None, notes

    j = cols[0]
    values = columns[j]
    numeric_share, numbers = _numeric_share(values, table.decimal)
    text = numeric_share < 1.0 and (numeric_share < 0.5 or task == "classification")
    if text:
        if task == "regression":
            examples = [v for v in values if _cell_problem(v, table.decimal) == "text"][:3]
            raise TableError(
                f"the target holds text ({', '.join(show_value(v) for v in examples)}), not "
                'numbers to predict; use "task": "classification" for classes',
                where=table.where(column=j),
                column=j,
            )
        labels, names = _classes_from_text(table, j, values, task == "classification")
        marked = [n for n in names if n.lower() in MISSING_MARKERS]
        if marked:
            notes.append(
                f"the target has cells marked {', '.join(map(repr, marked))}, kept as a class of "
                "their own; remove those rows if they mean a missing value"
            )
        return labels, "classification", len(names), names, notes

    numbers = _column_numbers(table, j, values, "the target column", numbers)
    if task is None:
        distinct = np.unique(numbers)
        whole = bool(np.all(np.floor(distinct) == distinct))
        task = "classification" if whole and len(distinct) <= MAX_NUMERIC_CLASSES else "regression"
        if task == "classification":
            notes.append(
                f"the target has {len(distinct)} whole-number values, read as classes (set "
                '"task": "regression" to predict it as a number)'
            )
    if task == "regression":
        return numbers.astype(dtype).reshape(-1, 1), task, None, None, notes
    distinct, labels = np.unique(numbers, return_inverse=True)
    if len(distinct) > MAX_AUTO_CLASSES:
        raise TableError(
            f"the target has {len(distinct)} different values, too many to be classes; set "
            '"task": "regression" to predict it as a number',
            where=table.where(column=j),
            column=j,
        )
    names = [_format_class(v) for v in distinct]
    return labels.astype(np.int64).reshape(-1), task, len(names), names, notes


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def load_table(
    path: pathlib.Path,
    spec: dict[str, Any] | None = None,
    dtype: np.dtype | type = np.float32,
) -> Dataset:
    """Load a delimited text table as a dataset.

    Parameters
    ----------
    path : Path
        The resolved file.
    spec : dict, optional
        The dataset spec's table keys (see the module docstring); ``path`` is ignored.
    dtype : floating dtype
        The dtype of ``x`` and of regression targets (the cells are parsed as float64 and
        cast once). Cells beyond float32's range are refused whatever the dtype.

    Returns
    -------
    Dataset
        ``x`` of ``dtype`` and shape (n_rows, n_features); ``y`` int64 of shape (n_rows,)
        for classification or ``dtype`` of shape (n_rows, n_targets) for regression;
        ``feature_names``, ``target_names``, ``class_names``, ``notes`` and ``detected``
        filled in.

    Raises
    ------
    TableError
        Empty or header-only files, undecodable or binary bytes, ragged rows, blank, text,
        NaN, infinite or too large cells in the columns used, a missing target column, a single
        class. The message names the file, row and column and quotes up to 3 bad values.
    """
    spec = spec or {}
    dtype = np.dtype(dtype)
    table = _read_table(path, spec, dtype=dtype)
    _check_ragged(table)
    where = str(path)
    n = len(table.rows)
    task = spec.get("task")
    columns = dict(enumerate(zip(*table.rows, strict=True)))
    table.rows = []  # the columns hold the cells now; let the row lists go
    if not table.header:
        # "1,2,0," lines: a trailing delimiter on every line makes no column.
        while len(table.names) > 1 and not any(v.strip() for v in columns[len(table.names) - 1]):
            del columns[len(table.names) - 1]
            table.names.pop()
    width = len(table.names)

    target_refs = _column_refs(spec.get("target", -1))
    target_cols = [_resolve_column(table, ref, "target") for ref in target_refs]
    if len(set(target_cols)) != len(target_cols):
        raise TableError('"target" names the same column twice', where=where)

    weight_col = None
    if "sample_weight" in spec:
        weight_col = _resolve_column(table, spec["sample_weight"], "sample_weight")
        if weight_col in target_cols:
            raise TableError(
                f"{table.ref(weight_col)} is both the target and the sample weights",
                where=where,
                column=weight_col,
            )
    notes = list(table.notes)
    converted: dict[int, np.ndarray] = {}
    if "features" in spec:
        feature_cols = [_resolve_column(table, ref, "features") for ref in spec["features"]]
        if len(set(feature_cols)) != len(feature_cols):
            raise TableError('"features" names the same column twice', where=where)
        both = [j for j in feature_cols if j in target_cols]
        if both:
            raise TableError(
                f"{table.ref(both[0])} is both the target and a feature",
                where=where,
                column=both[0],
            )
        if weight_col in feature_cols:
            raise TableError(
                f"{table.ref(weight_col)} is both a feature and the sample weights",
                where=where,
                column=weight_col,
            )
    else:
        feature_cols = []
        for j in range(width):
            if j in target_cols or j == weight_col:
                continue
            share, numbers = _numeric_share(columns[j], table.decimal)
            if numbers is not None:
                converted[j] = numbers
            if not any(v.strip() for v in columns[j]):
                notes.append(f"{table.ref(j)} is empty and was left out of the features")
            elif share < 0.5:
                examples = [v for v in columns[j] if v.strip()][:2]
                notes.append(
                    f"{table.ref(j)} holds text ({', '.join(show_value(v) for v in examples)}) "
                    'and was left out of the features (name it in "features" to see why)'
                )
            else:
                feature_cols.append(j)
    if not feature_cols:
        raise TableError(
            "no feature columns: every column other than the target holds text or nothing; "
            "the inputs of a network must be numbers",
            where=where,
        )

    y, task, n_classes, class_names, target_notes = _target(
        table, target_cols, columns, task, dtype
    )
    notes += target_notes
    x = np.empty((n, len(feature_cols)), dtype=dtype)
    for k, j in enumerate(feature_cols):
        numbers = converted.pop(j, None)
        x[:, k] = _column_numbers(table, j, columns[j], "a feature column", numbers)

    weights = None
    if weight_col is not None:
        weights = _sample_weights(table, weight_col, columns[weight_col])
    target_refs = _spec_refs(table, target_cols)
    dataset = Dataset(
        x=x,
        y=y,
        task=task,
        n_classes=n_classes,
        class_names=class_names,
        feature_names=[_plain_name(table, j) for j in feature_cols],
        name=f"{path.name} ({n} samples)",
        target_names=[_plain_name(table, j) for j in target_cols],
        notes=notes,
        detected={
            "delimiter": table.delimiter,
            "header": table.header,
            "encoding": table.encoding,
            "decimal": table.decimal,
            "target": target_refs[0] if len(target_refs) == 1 else target_refs,
            "features": _spec_refs(table, feature_cols),
            "task": task,
            **({} if weight_col is None else {"sample_weight": _spec_refs(table, [weight_col])[0]}),
        },
        sample_weight=weights,
    )
    if task == "classification" and n_classes is not None and n_classes < 2:
        j = target_cols[0]
        raise TableError(
            f"the target holds a single class, {class_names[0]!r}, in all {n} rows; a "
            'classifier needs at least 2 classes (for a number to predict, set "task": '
            '"regression")',
            where=table.where(column=j),
            column=j,
        )
    return dataset


def _plain_name(table: _Table, j: int) -> str:
    return table.names[j] if table.names[j].strip() else f"column {j + 1}"


def _spec_refs(table: _Table, cols: list[int]) -> list[object]:
    """How a spec names columns: the header name when unique, else the 0-based index."""
    counts = Counter(table.names)
    return [
        table.names[j]
        if table.header and table.names[j].strip() and counts[table.names[j]] == 1
        else j
        for j in cols
    ]


def preview_table(
    spec: dict[str, Any], base_dir: pathlib.Path | None = None, n_rows: int = 20
) -> TablePreview:
    """The first rows of a table and what was detected, without loading it as a dataset.

    Parameters
    ----------
    spec : dict
        A dataset spec with a table ``path`` and optionally ``delimiter``, ``header``,
        ``encoding``, ``decimal``.
    base_dir : Path, optional
        The folder relative paths are resolved against.
    n_rows : int
        How many data rows to return.

    Returns
    -------
    TablePreview
        Ragged rows and bad cells are shown as they are; only :func:`load_table` refuses them.
        Files up to 16 MB are read whole (``n_rows`` and the kinds cover every row); larger
        ones only their first megabyte.

    Raises
    ------
    DataError
        The file is missing, empty, binary or not decodable.
    """
    from engine.data.files import resolve_path

    path = resolve_path(spec["path"], base_dir)
    if spec.get("format", "csv") != "csv" or path.suffix.lower() in (".npz", ".npy"):
        raise DataError("only delimited text tables have a row preview", where=str(path))
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    limit = None if size <= _PREVIEW_FULL_BYTES else _PREVIEW_PREFIX_BYTES
    table = _read_table(path, spec, limit=limit)
    width = max([len(table.names)] + [len(r) for r in table.rows[:n_rows]])
    names = table.names + [f"column {j + 1}" for j in range(len(table.names), width)]
    kinds: list[str] = []
    distinct: list[int] = []
    bad_cells: list[int] = []
    numbers_of_last: np.ndarray | None = None
    for j in range(width):
        cells = [r[j] if j < len(r) else "" for r in table.rows]
        filled = {v.strip() for v in cells if v.strip()}
        distinct.append(len(filled))
        share, numbers = _numeric_share(cells, table.decimal)
        if not filled:
            kinds.append("empty")
            bad_cells.append(0)
        elif share >= 0.5:  # as load_table sees it: numbers, perhaps with bad cells
            kinds.append("numeric")
            if numbers is None:
                ok = [v for v in cells if _cell_problem(v, table.decimal) is None]
                bad_cells.append(len(cells) - len(ok))
                numbers = _fast_numbers(ok, table.decimal)
            else:
                bad_cells.append(0)
        else:
            kinds.append("text")
            bad_cells.append(0)
        if j == width - 1:
            numbers_of_last = numbers
    suggested = None
    if width and table.rows:
        if kinds[-1] == "text":
            suggested = "classification"
        elif kinds[-1] == "numeric" and numbers_of_last is not None:
            values = np.unique(numbers_of_last)
            whole = bool(np.all(np.floor(values) == values))
            few = len(values) <= MAX_NUMERIC_CLASSES
            suggested = "classification" if whole and few else "regression"
    return TablePreview(
        path=str(path),
        columns=names,
        rows=[list(r) for r in table.rows[:n_rows]],
        row_numbers=table.row_numbers[:n_rows],
        delimiter=table.delimiter,
        encoding=table.encoding,
        header=table.header,
        decimal=table.decimal,
        kinds=kinds,
        n_rows=None if table.cut else len(table.rows),
        n_distinct=distinct,
        bad_cells=bad_cells,
        suggested_task=suggested,
        notes=table.notes,
    )
