"""Reading import files: their text encoding, their tables and what is wrong with them as a whole.

A file is read into named tables (``items`` and, for a full export, the
directory sections). What concerns the file rather than a row (its encoding,
formula cells of a column) is reported once, with row 0.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from charset_normalizer import from_bytes
from openpyxl import load_workbook

from .report import FILE_ROW, ImportReport, RowProblem

MAX_FILE_BYTES = 20 * 1024 * 1024

# Encodings Chinese spreadsheets are saved in besides UTF-8, and what each is decoded as.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DETECTED = {
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "big5": "big5",
    "big5hkscs": "big5hkscs",
    "cp950": "cp950",
    "utf_16": "utf-16",
    "utf_16_le": "utf-16-le",
    "utf_16_be": "utf-16-be",
    "utf_32": "utf-32",
    "utf_32_le": "utf-32-le",
    "utf_32_be": "utf-32-be",
}


@dataclass
class Table:
    """One table of a file: its column names as written, and its rows numbered as a person counts them."""

    header: list[str] = field(default_factory=list)
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def decode_text(data: bytes, report: ImportReport) -> str:
    """The text of a file: UTF-8, or a byte-order mark's encoding, or a detected Chinese encoding.

    Anything else is refused rather than guessed: a wrong guess turns every
    name into mojibake that would then be published.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ValueError(f"文件以 {encoding.upper()} 字节顺序标记开头，但内容无法按该编码读取") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    # NUL characters in "UTF-8" are UTF-16 without a byte-order mark, not text anyone typed.
    if text is not None and "\x00" not in text:
        return text
    best = from_bytes(data).best()
    detected = _DETECTED.get(best.encoding) if best is not None else None
    if best is None or detected is None:
        guess = f"（疑似 {best.encoding}）" if best is not None else ""
        raise ValueError(f"无法识别文件的文字编码{guess}，请另存为 UTF-8 后再导入")
    encoding = detected
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(f"文件疑似 {encoding.upper()} 编码，但无法完整读取，请另存为 UTF-8 后再导入") from exc
    report.warnings.append(
        RowProblem(FILE_ROW, "encoding", f"文件不是 UTF-8，已按检测到的 {encoding.upper()} 编码读取")
    )
    return text


def _refuse_empty(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"文件超过{MAX_FILE_BYTES // 1024 // 1024}MB上限")
    if not data.strip():
        raise ValueError("文件是空的")


def read_json_tables(data: bytes, report: ImportReport, sections: tuple[str, ...]) -> dict[str, Table]:
    """A JSON file: an array of items, or an object with ``items`` and optional directory sections."""
    _refuse_empty(data)
    try:
        payload = json.loads(decode_text(data, report))
    except json.JSONDecodeError as exc:
        raise ValueError(f"JSON 无法解析：{exc}") from exc
    if isinstance(payload, list):
        payload = {"items": payload}
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise ValueError("JSON 应为事项数组，或含 items 数组的对象")
    tables = {}
    for name in ("items", *sections):
        rows = payload.get(name)
        if rows is None:
            continue
        if not isinstance(rows, list):
            raise ValueError(f"JSON 的 {name} 应为数组")
        table = Table()
        for number, row in enumerate(rows, start=1):
            if isinstance(row, dict):
                table.header.extend(key for key in row if key not in table.header)
            table.rows.append((number, row if isinstance(row, dict) else {"__invalid__": True}))
        tables[name] = table
    return tables


def read_csv_table(data: bytes, report: ImportReport) -> Table:
    _refuse_empty(data)
    reader = csv.reader(io.StringIO(decode_text(data, report), newline=""))
    table = Table(header=[h.strip() for h in next(reader, [])])
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        table.rows.append((reader.line_num, _row(table.header, values)))
    return table


def _row(header: list[str], values: Any) -> dict[str, Any]:
    return {h: ("" if v is None else str(v)) for h, v in zip(header, values, strict=False) if h}


def read_xlsx_tables(data: bytes, report: ImportReport, sections: tuple[str, ...]) -> dict[str, Table]:
    """The ``items`` sheet (or the first) and any directory sheets, with formula cells' cached values.

    A formula cell is read as the value the spreadsheet program last
    calculated and saved; one without a saved value is an error, because
    this importer does not evaluate formulas.
    """
    _refuse_empty(data)
    try:
        values_book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        formula_book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ValueError(f"XLSX 无法读取：{exc}") from exc
    names = values_book.sheetnames
    wanted = {"items": "items" if "items" in names else names[0]}
    wanted.update({section: section for section in sections if section in names})
    tables = {}
    for table_name, sheet_name in wanted.items():
        tables[table_name] = _xlsx_table(values_book[sheet_name], formula_book[sheet_name], report)
    values_book.close()
    formula_book.close()
    return tables


def _xlsx_table(values_sheet: Any, formula_sheet: Any, report: ImportReport) -> Table:
    value_rows = values_sheet.iter_rows()
    formula_rows = formula_sheet.iter_rows()
    header_cells = next(value_rows, ())
    next(formula_rows, None)
    table = Table(header=["" if c.value is None else str(c.value).strip() for c in header_cells])
    formula_columns: dict[str, int] = {}
    for number, (cells, formulas) in enumerate(zip(value_rows, formula_rows, strict=False), start=2):
        values = [cell.value for cell in cells]
        for index, formula in enumerate(formulas):
            if formula.data_type != "f" or index >= len(table.header):
                continue
            column = table.header[index] or f"第{index + 1}列"
            if index >= len(values) or values[index] is None:
                report.errors.append(
                    RowProblem(
                        number, column, "公式单元格没有保存的计算结果，请在表格程序中重新计算并保存，或改为填写数值"
                    )
                )
            else:
                formula_columns[column] = formula_columns.get(column, 0) + 1
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        table.rows.append((number, _row(table.header, values)))
    for column, count in formula_columns.items():
        report.warnings.append(RowProblem(FILE_ROW, column, f"{count}个单元格是公式，已使用其保存的计算结果"))
    return table
