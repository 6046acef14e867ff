"""The batch file format of the front directory (前置库): the manifest, the checksums, and each provider table's
columns, natural key and row checks.

A batch is a manifest ``<name>.manifest.json`` beside one or more data files
(CSV with a header row, or JSON Lines; UTF-8)::

    {"format": "yiwang-batch/1", "department": "police", "resource": "RES-POLICE-0001",
     "sequence": 12, "files": [{"name": "household-000012.csv", "rows": 1000, "sm3": "<64 hex>"}]}

A file's checksum is ``sm3`` or ``sha256`` of its bytes. The columns of a
file are the columns of the provider table the resource's data service reads
(:data:`SCHEMAS`), which cover the resource's catalogue fields except those the
table derives when it answers (a person's property count, a credit check's
"listed"). Everything here is pure: it reads files and returns values or
:class:`BatchRejected`; :mod:`yiwang.exchange.batches` decides and writes.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from yiwang.core import crypto
from yiwang.core.identifiers import credit_code_problem, resident_id_problem

from .constants import Backend, SubjectKind

FORMAT = "yiwang-batch/1"
MANIFEST_SUFFIX = ".manifest.json"
ALGORITHMS = ("sm3", "sha256")
COLUMN_NAME_RE = re.compile(r"[a-z_][a-z0-9_]{0,39}")
FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")
MAX_FILES = 20
# A rejection names at most this many bad rows (the first ones, by file and line).
MAX_ROW_PROBLEMS = 10
CHUNK = 1 << 20


class BatchRejected(Exception):
    """The batch cannot be loaded as it is: a stable ``code`` and a reason the provider can act on."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


# --- the manifest ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestFile:
    name: str
    rows: int
    algorithm: str
    checksum: str

    @property
    def format(self) -> str:
        return "jsonl" if self.name.endswith((".jsonl", ".ndjson")) else "csv"


@dataclass(frozen=True)
class Manifest:
    department: str
    resource: str
    sequence: int
    files: tuple[ManifestFile, ...]

    @property
    def digest(self) -> str:
        """The batch's content, as one string: the checksum of every file, in the manifest's order."""
        return ";".join(f"{f.name}={f.algorithm}:{f.checksum}" for f in self.files)


def peek_manifest(raw: bytes) -> dict[str, Any]:
    """What can be read from a manifest before it is checked (to file the batch under its department)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def parse_manifest(raw: bytes) -> Manifest:
    """Check a manifest; BatchRejected("bad_manifest", …) says what is wrong with it."""
    data = peek_manifest(raw)
    if not data:
        raise BatchRejected("bad_manifest", _("清单不是UTF-8编码的JSON对象"))
    if data.get("format") != FORMAT:
        raise BatchRejected("bad_manifest", _("清单格式应为 %(format)s") % {"format": FORMAT})
    department, resource, sequence = data.get("department"), data.get("resource"), data.get("sequence")
    if not isinstance(department, str) or not department or not isinstance(resource, str) or not resource:
        raise BatchRejected("bad_manifest", _("清单缺少提供部门（department）或信息资源（resource）"))
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
        raise BatchRejected("bad_manifest", _("批次序号（sequence）应为正整数"))
    entries = data.get("files")
    if not isinstance(entries, list) or not entries or len(entries) > MAX_FILES:
        raise BatchRejected("bad_manifest", _("清单应列出1至%(max)s个数据文件（files）") % {"max": MAX_FILES})
    files = []
    for entry in entries:
        files.append(_manifest_file(entry))
    if len({f.name for f in files}) != len(files):
        raise BatchRejected("bad_manifest", _("清单中的数据文件重名"))
    return Manifest(department.strip(), resource.strip(), sequence, tuple(files))


def _manifest_file(entry: Any) -> ManifestFile:
    if not isinstance(entry, dict):
        raise BatchRejected("bad_manifest", _("数据文件条目应为JSON对象"))
    name, rows = entry.get("name"), entry.get("rows")
    if not isinstance(name, str) or not FILE_NAME_RE.fullmatch(name) or name.endswith(MANIFEST_SUFFIX):
        raise BatchRejected("bad_manifest", _("数据文件名不合规：%(name)s") % {"name": str(name)[:80]})
    if not name.endswith((".csv", ".jsonl", ".ndjson")):
        raise BatchRejected("bad_manifest", _("数据文件应为 .csv 或 .jsonl：%(name)s") % {"name": name})
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise BatchRejected("bad_manifest", _("数据文件 %(name)s 的行数（rows）应为非负整数") % {"name": name})
    given = [algorithm for algorithm in ALGORITHMS if algorithm in entry]
    if len(given) != 1:
        raise BatchRejected(
            "bad_manifest", _("数据文件 %(name)s 应有且只有一个校验值（sm3 或 sha256）") % {"name": name}
        )
    checksum = entry[given[0]]
    if not isinstance(checksum, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", checksum):
        raise BatchRejected("bad_manifest", _("数据文件 %(name)s 的校验值应为64位十六进制") % {"name": name})
    return ManifestFile(name, rows, given[0], checksum.lower())


def file_checksum(path: Path, algorithm: str) -> str:
    """The hex SM3 or SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_batch(
    directory: Path,
    name: str,
    *,
    department: str,
    resource: str,
    sequence: int,
    rows: list[dict[str, Any]],
    columns: list[str],
    file_format: str = "csv",
    algorithm: str = "sm3",
) -> Path:
    """Write a batch (one data file, then its manifest last) into ``directory``; return the manifest's path.

    The manifest is written under a temporary name and renamed, so a scanner
    never sees a manifest before the data file it names is complete.
    """
    directory.mkdir(parents=True, exist_ok=True)
    data_name = f"{name}.{'jsonl' if file_format == 'jsonl' else 'csv'}"
    data_path = directory / data_name
    with data_path.open("w", encoding="utf-8", newline="") as handle:
        if file_format == "jsonl":
            for row in rows:
                handle.write(json.dumps({key: row.get(key, "") for key in columns}, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    manifest = {
        "format": FORMAT,
        "department": department,
        "resource": resource,
        "sequence": sequence,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": [{"name": data_name, "rows": len(rows), algorithm: file_checksum(data_path, algorithm)}],
    }
    final = directory / f"{name}{MANIFEST_SUFFIX}"
    partial = directory / f".{name}{MANIFEST_SUFFIX}.part"
    partial.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    partial.replace(final)
    return final


# --- reading data files ------------------------------------------------------------------------------


def read_rows(path: Path, file_format: str) -> Iterator[tuple[int, dict[str, str] | None, list[str]]]:
    """(line number, row or None when the line is not an object, the file's columns) for each data row.

    A CSV's columns are its header; a JSON Lines file's are the keys of its
    first object. Values come back as text ('' for empty or null).
    """
    if file_format == "jsonl":
        yield from _read_jsonl(path)
    else:
        yield from _read_csv(path)


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's header row (empty for an empty file)."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        return [column.strip() for column in next(csv.reader(handle), [])]


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, str] | None, list[str]]]:
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        columns = [column.strip() for column in header]
        for values in reader:
            if not values:
                continue
            if len(values) != len(columns):
                yield reader.line_num, None, columns
                continue
            yield reader.line_num, dict(zip(columns, values, strict=True)), columns


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, str] | None, list[str]]]:
    columns: list[str] | None = None
    with path.open("r", encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                yield number, None, columns or []
                continue
            if columns is None:
                columns = [str(key) for key in data]
            yield number, {str(key): _text(value) for key, value in data.items()}, columns


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def check_utf8(path: Path) -> None:
    """BatchRejected("bad_encoding") unless the file is valid UTF-8 (checked in chunks, before parsing)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            raise BatchRejected(
                "bad_encoding",
                _("数据文件 %(name)s 不是UTF-8编码（第%(at)s字节附近）") % {"name": path.name, "at": error.start},
            ) from error


# --- the provider tables' columns ----------------------------------------------------------------------


Cleaner = Callable[[str], Any]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"  # text, date, count, id_number, credit_code, subject_kind, subject
    max_length: int = 200
    required: bool = True


@dataclass(frozen=True)
class Schema:
    """How a provider table is loaded: its columns, its natural key, and the catalogue fields it derives."""

    backend: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    derived: frozenset[str] = field(default_factory=frozenset)

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


def _text_col(name: str, max_length: int, *, required: bool = True) -> Column:
    return Column(name, "text", max_length, required)


SCHEMAS: dict[str, Schema] = {
    Backend.HOUSEHOLD: Schema(
        Backend.HOUSEHOLD,
        (
            Column("id_number", "id_number"),
            _text_col("name", 64),
            _text_col("gender", 4),
            _text_col("ethnicity", 16),
            Column("birth_date", "date"),
            _text_col("address", 200),
            _text_col("household_number", 20),
            _text_col("household_head", 64),
            _text_col("relation_to_head", 16),
        ),
        key=("id_number",),
    ),
    Backend.ENTERPRISE: Schema(
        Backend.ENTERPRISE,
        (
            Column("credit_code", "credit_code"),
            _text_col("name", 200),
            _text_col("kind", 60),
            _text_col("legal_representative", 64),
            _text_col("registered_capital", 40, required=False),
            Column("established_on", "date"),
            _text_col("address", 200),
            _text_col("business_scope", 4000),
            _text_col("status", 16),
        ),
        key=("credit_code",),
    ),
    Backend.SOCIAL_INSURANCE: Schema(
        Backend.SOCIAL_INSURANCE,
        (
            Column("id_number", "id_number"),
            _text_col("name", 64),
            _text_col("insurance_types", 100),
            _text_col("status", 16),
            _text_col("employer", 200, required=False),
            Column("since", "date"),
            Column("months_paid", "count"),
        ),
        key=("id_number",),
    ),
    Backend.REAL_ESTATE: Schema(
        Backend.REAL_ESTATE,
        (
            Column("id_number", "id_number"),
            _text_col("name", 64),
            _text_col("certificate_number", 60),
            _text_col("location", 200),
            _text_col("area", 20),
            _text_col("use", 20),
            _text_col("share", 40),
            Column("registered_on", "date"),
        ),
        key=("id_number", "certificate_number"),
        derived=frozenset({"property_count", "properties"}),
    ),
    Backend.MARRIAGE: Schema(
        Backend.MARRIAGE,
        (
            Column("id_number", "id_number"),
            _text_col("name", 64),
            _text_col("status", 16),
            _text_col("spouse_name", 64, required=False),
            Column("registered_on", "date", required=False),
            _text_col("registry", 100, required=False),
        ),
        key=("id_number",),
    ),
    Backend.CREDIT: Schema(
        Backend.CREDIT,
        (
            Column("subject_kind", "subject_kind"),
            Column("subject", "subject"),
            _text_col("name", 200),
            _text_col("list_name", 100),
            _text_col("reason", 300),
            _text_col("listed_by", 100),
            Column("listed_on", "date"),
            Column("removed_on", "date", required=False),
        ),
        key=("subject_kind", "subject", "list_name"),
        derived=frozenset({"listed", "entries"}),
    ),
}


def check_catalogue(schema: Schema, catalogue_fields: list[str]) -> None:
    """BatchRejected("catalogue_mismatch") when the catalogue lists a field this table neither holds nor derives."""
    missing = [key for key in catalogue_fields if key not in schema.names and key not in schema.derived]
    if missing:
        raise BatchRejected(
            "catalogue_mismatch",
            _("信息资源目录中的信息项 %(fields)s 在提供部门的数据表中没有对应的列") % {"fields": "、".join(missing)},
        )


def check_columns(schema: Schema, file_name: str, columns: list[str]) -> None:
    """BatchRejected("wrong_columns") unless the file has exactly the table's columns (in any order)."""
    expected = schema.names
    missing = [name for name in expected if name not in columns]
    # A file without a header row has data where the names should be (a resident ID, a name): an unknown
    # column is named only when it looks like a column name, otherwise by its position.
    unknown = [
        name if COLUMN_NAME_RE.fullmatch(name) else _("第%(n)s列（不像列名）") % {"n": position}
        for position, name in enumerate(columns, start=1)
        if name not in expected
    ][:10]
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if missing or unknown or duplicated:
        parts = []
        if missing:
            parts.append(_("缺少列 %(names)s") % {"names": "、".join(missing)})
        if unknown:
            parts.append(_("多出列 %(names)s") % {"names": "、".join(unknown)})
        if duplicated:
            parts.append(_("重复列 %(names)s") % {"names": "、".join(duplicated)})
        raise BatchRejected(
            "wrong_columns",
            _("数据文件 %(name)s 的列与信息资源不符：%(problems)s；应为 %(expected)s")
            % {"name": file_name, "problems": "；".join(parts), "expected": ",".join(expected)},
        )


class RowProblem(ValueError):
    """One value of one row is wrong: the column and why."""

    def __init__(self, column: str, problem: str) -> None:
        super().__init__(f"{column}: {problem}")
        self.column = column
        self.problem = problem


def clean_row(schema: Schema, row: dict[str, str]) -> dict[str, Any]:
    """The row's values checked and typed (dates, counts, identifiers upper-cased); RowProblem for the first bad one."""
    cleaned: dict[str, Any] = {}
    for column in schema.columns:
        raw = (row.get(column.name) or "").strip()
        if not raw:
            if column.required:
                raise RowProblem(column.name, _("不能为空"))
            cleaned[column.name] = None if column.kind == "date" else ""
            continue
        cleaned[column.name] = _clean_value(column, raw, cleaned)
    return cleaned


def _clean_value(column: Column, raw: str, cleaned: dict[str, Any]) -> Any:
    if column.kind == "text":
        if len(raw) > column.max_length:
            raise RowProblem(column.name, _("超过%(max)s个字符") % {"max": column.max_length})
        return raw
    if column.kind == "date":
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise RowProblem(column.name, _("日期应为YYYY-MM-DD")) from None
    if column.kind == "count":
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
            raise RowProblem(column.name, _("应为非负整数"))
        return int(raw)
    if column.kind == "subject_kind":
        if raw not in SubjectKind.values:
            raise RowProblem(column.name, _("应为 person 或 organisation"))
        return raw
    kind = column.kind
    if kind == "subject":
        kind = "id_number" if cleaned.get("subject_kind") == SubjectKind.PERSON else "credit_code"
    number = raw.upper()
    problem = resident_id_problem(number) if kind == "id_number" else credit_code_problem(number)
    if problem:
        raise RowProblem(column.name, problem)
    return number


def natural_key(schema: Schema, cleaned: dict[str, Any], index: Callable[[str], str]) -> tuple[str, ...]:
    """The row's natural key as stored: a person's resident ID as its blind index."""
    parts = []
    for name in schema.key:
        value = cleaned[name]
        if name == "id_number" or (name == "subject" and cleaned.get("subject_kind") == SubjectKind.PERSON):
            value = index(value)
        parts.append(value)
    return tuple(parts)


def masked(number: str) -> str:
    return crypto.mask_id_number(number)
