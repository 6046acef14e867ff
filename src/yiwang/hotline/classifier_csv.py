"""CSV files of hotline messages for the classifier: training samples in, messages to classify in.

Columns are named as in the city's message-board exports: 留言主题 (title,
required), 留言详情 (text, optional), 一级标签 (category, for training and
evaluation) and 留言编号 (message number, copied to the output). Files may
be UTF-8 with or without a byte-order mark, UTF-16 with one (Excel's
"Unicode text"), or GB18030/GBK (older Chinese Excel exports).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from .classifier import CATEGORIES, ClassifierError, Sample

TITLE_COLUMN = "留言主题"
TEXT_COLUMN = "留言详情"
LABEL_COLUMN = "一级标签"
NUMBER_COLUMN = "留言编号"

# How many offending rows an error message lists before summarising.
SHOWN_PROBLEMS = 10


class CsvRejected(ClassifierError):
    """The file cannot be used; the message says why, in Chinese and English."""


@dataclass(frozen=True)
class Message:
    """One row to classify; ``number`` is empty when the file has no 留言编号 column."""

    number: str
    title: str
    text: str


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV file, decoded whatever its encoding; header names are trimmed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CsvRejected(
            _("无法读取文件 {path}：{error}\nCannot read {path}: {error}").format(path=path, error=exc)
        ) from exc
    text = _decode(raw, path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lstrip("\ufeff").strip() for name in next(reader)]
    except StopIteration:
        raise CsvRejected(_("文件是空的：{path}\nThe file is empty: {path}").format(path=path)) from None
    except csv.Error as exc:
        raise CsvRejected(_bad_csv(path, exc)) from exc
    rows = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            rows.append({name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header)})
    except csv.Error as exc:
        raise CsvRejected(_bad_csv(path, exc)) from exc
    return header, rows


def _bad_csv(path: Path, error: Exception) -> str:
    return _("不是有效的 CSV 文件：{path}（{error}）\nNot a valid CSV file: {path} ({error})").format(
        path=path, error=error
    )


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        encodings = ["utf-8-sig"]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    else:
        # GB18030 last: it accepts most byte strings, so it is only a guess once UTF-8 has failed.
        encodings = ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvRejected(
        _(
            "无法识别文件编码：{path}。请另存为 UTF-8 编码的 CSV。\n"
            "Cannot tell the encoding of {path}; save it as UTF-8 CSV."
        ).format(path=path)
    )


def _require(header: Sequence[str], columns: Sequence[str], path: Path) -> None:
    missing = [column for column in columns if column not in header]
    if missing:
        raise CsvRejected(
            _(
                "文件 {path} 缺少列：{missing}（现有列：{found}）\n"
                "{path} lacks the column(s) {missing} (found: {found})"
            ).format(path=path, missing="、".join(missing), found="、".join(header) or "-")
        )


def samples_from_csv(path: Path, categories: Sequence[str] = CATEGORIES) -> tuple[list[Sample], int]:
    """Labelled samples of a file and how many rows were skipped (empty label, or neither title nor text).

    Refuses the file when a label is not one of ``categories`` (a typo would otherwise become a new
    category) or when no row is usable.
    """
    header, rows = read_table(path)
    _require(header, [TITLE_COLUMN, LABEL_COLUMN], path)
    samples: list[Sample] = []
    skipped = 0
    unknown: list[str] = []
    allowed = set(categories)
    for line, row in enumerate(rows, start=2):
        title = row.get(TITLE_COLUMN, "").strip()
        text = row.get(TEXT_COLUMN, "").strip()
        label = row.get(LABEL_COLUMN, "").strip()
        if not label or not (title or text):
            skipped += 1
        elif label not in allowed:
            unknown.append(_("第{line}行“{label}”").format(line=line, label=label))
        else:
            samples.append(Sample(title, text, label))
    if unknown:
        shown = "；".join(unknown[:SHOWN_PROBLEMS]) + ("……" if len(unknown) > SHOWN_PROBLEMS else "")
        raise CsvRejected(
            _(
                "文件 {path} 有 {count} 行的一级标签不是已知分类：{shown}。已知分类：{allowed}\n"
                "{path} has {count} row(s) whose 一级标签 is not a known category. Known: {allowed}"
            ).format(path=path, count=len(unknown), shown=shown, allowed="、".join(categories))
        )
    if not samples:
        raise CsvRejected(
            _(
                "文件 {path} 没有可用的行（跳过 {skipped} 行：一级标签为空或没有标题和内容）。\n"
                "{path} has no usable rows ({skipped} skipped: empty 一级标签, or neither title nor text)."
            ).format(path=path, skipped=skipped)
        )
    return samples, skipped


def messages_from_csv(path: Path) -> tuple[list[Message], bool]:
    """The messages of a file to classify, and whether it has a 留言编号 column."""
    header, rows = read_table(path)
    _require(header, [TITLE_COLUMN], path)
    messages = [
        Message(row.get(NUMBER_COLUMN, "").strip(), row.get(TITLE_COLUMN, "").strip(), row.get(TEXT_COLUMN, "").strip())
        for row in rows
    ]
    return messages, NUMBER_COLUMN in header
