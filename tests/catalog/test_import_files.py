"""Issue 12 item 22: bad files are refused once and clearly, odd encodings and formulas handled, reports kept."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from yiwang.catalog.models import ServiceItem
from yiwang.catalog.transfer import ImportRejected, import_catalog

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_search_index")]

HEADER = ["code", "name", "kind", "department", "promised_days"]


def _code(n: int) -> str:
    return f"FIL{n:06d}-990100000000-000-11990100990000156Q-1-00"


def _rows(count: int, start: int = 1) -> list[list[str]]:
    return [[_code(n), f"文件测试事项{n}", "行政许可", "market", "5"] for n in range(start, start + count)]


def _csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def test_missing_column_is_reported_once_not_per_row() -> None:
    header = [h for h in HEADER if h != "kind"]
    rows = [[c for i, c in enumerate(row) if i != 2] for row in _rows(50)]
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(_csv(header, rows).encode(), "csv", dry_run=True)
    assert [(p.row, p.field) for p in excinfo.value.report.errors] == [(0, "kind")]
    assert str(excinfo.value.report.errors[0]) == "文件 kind：缺少此列"


def test_misnamed_department_column_is_refused_with_a_hint() -> None:
    header = ["code", "name", "kind", "departmnet", "promised_days"]
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(_csv(header, _rows(30)).encode(), "csv")
    problems = {(p.row, p.field): p.reason for p in excinfo.value.report.errors}
    assert set(problems) == {(0, "department"), (0, "departmnet")}
    assert "department" in problems[(0, "departmnet")] and "departmnet" in problems[(0, "department")]
    assert not ServiceItem.objects.filter(code=_code(1)).exists()


def test_misspelt_optional_column_is_not_dropped_silently() -> None:
    header = [*HEADER[:4], "promised_day"]
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(_csv(header, _rows(3)).encode(), "csv", dry_run=True)
    assert [(p.row, p.field) for p in excinfo.value.report.errors] == [(0, "promised_day")]
    assert "promised_days" in excinfo.value.report.errors[0].reason


def test_json_with_an_unknown_key_names_it_once() -> None:
    records = [dict(zip(HEADER, row, strict=True)) | {"dept": "x"} for row in _rows(20)]
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(json.dumps(records, ensure_ascii=False).encode(), "json", dry_run=True)
    assert [(p.row, p.field) for p in excinfo.value.report.errors] == [(0, "dept")]


def test_sichuan_layout_with_a_misnamed_department_column_is_refused_once() -> None:
    header = "dept_name,main_item,name,itemCode,taskType,areaCode,deptCode,link\n"
    body = "".join(
        f"区甲局,未分类,事项{n},AAA{n:03d}-511602000000-000-11511301008778183N-1-00,1,511602000000,dept-a,\n"
        for n in range(40)
    )
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog((header + body).encode(), "csv", mapping="sichuan")
    assert [(p.row, p.field) for p in excinfo.value.report.errors] == [(0, "department")]


@pytest.mark.parametrize(
    ("encoding", "traditional"),
    [("gb18030", False), ("big5", True), ("utf-16", False), ("utf-16-le", False), ("utf-8-sig", False)],
)
def test_chinese_encodings_are_detected_not_mangled(encoding: str, traditional: bool) -> None:
    name = "營業執照變更登記" if traditional else "营业执照变更登记"
    rows = [[_code(900), name, "行政许可" if not traditional else "1", "market", "5"]]
    rows += [[_code(901 + i), f"{name}{i}", "1", "market", "5"] for i in range(3)]
    report = import_catalog(_csv(HEADER, rows).encode(encoding), "csv")
    assert report.created == 4
    assert ServiceItem.objects.get(code=_code(900)).name == name
    detected = [w for w in report.warnings if w.field == "encoding"]
    assert bool(detected) == (encoding in ("gb18030", "big5", "utf-16-le"))


def test_an_undetectable_encoding_is_refused_clearly() -> None:
    data = _csv(HEADER, [[_code(1), "Café Müller Straße Öffnung", "1", "market", "5"]]).encode("cp1252")
    with pytest.raises(ValueError, match="UTF-8"):
        import_catalog(data, "csv")


@pytest.mark.parametrize(
    ("data", "fmt"),
    [(b"", "csv"), (b"  \n", "json"), (b"", "xlsx"), (b"[]", "json"), (",".join(HEADER).encode() + b"\n", "csv")],
)
def test_empty_files_are_errors(data: bytes, fmt: str) -> None:
    with pytest.raises(ValueError, match=r"空|没有任何数据行"):
        import_catalog(data, fmt)


def test_header_only_xlsx_is_an_error() -> None:
    workbook = Workbook()
    workbook.active.append(HEADER)
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(ValueError, match="没有任何数据行"):
        import_catalog(buffer.getvalue(), "xlsx")


def _xlsx_with_formula(cached: str | None) -> bytes:
    """A workbook whose second row's promised_days is the formula =2+3, with or without a saved result."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in _rows(2, start=500):
        sheet.append(row)
    sheet["E2"] = "=2+3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    if cached is None:
        return buffer.getvalue()
    # openpyxl writes no result for a formula; a spreadsheet program saves the one it calculated.
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(rb"(<f>2\+3</f>)<v ?/>", rb"\1<v>" + cached.encode() + rb"</v>", content)
            target.writestr(info, content)
    return out.getvalue()


def test_formula_cells_use_their_saved_result() -> None:
    report = import_catalog(_xlsx_with_formula("5"), "xlsx")
    assert report.created == 2
    assert ServiceItem.objects.get(code=_code(500)).promised_days == 5
    assert any(w.field == "promised_days" and "公式" in w.reason for w in report.warnings)


def test_formula_cells_without_a_saved_result_are_refused() -> None:
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(_xlsx_with_formula(None), "xlsx")
    assert [(p.row, p.field) for p in excinfo.value.report.errors] == [(2, "promised_days")]
    assert "公式" in excinfo.value.report.errors[0].reason


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_report_file_holds_every_warning(tmp_path: Path, suffix: str, capsys) -> None:
    # 60 codes outside the national form: 60 warnings, more than the console shows.
    rows = [[f"LOCAL{n:04d}", f"本地编码事项{n}", "1", "market", "5"] for n in range(60)]
    source = tmp_path / "items.csv"
    source.write_text(_csv(HEADER, rows), encoding="utf-8")
    report_path = tmp_path / f"report.{suffix}"
    call_command("import_catalog", str(source), "--dry-run", "--report", str(report_path))
    assert f"见 {report_path}" in capsys.readouterr().out
    text = report_path.read_text(encoding="utf-8-sig")
    if suffix == "json":
        warnings = json.loads(text)["warnings"]
    else:
        warnings = [row for row in csv.DictReader(io.StringIO(text)) if row["severity"] == "warning"]
    assert len([w for w in warnings if w["field"] == "code"]) == 60


def test_report_file_is_written_when_the_import_fails(tmp_path: Path) -> None:
    source = tmp_path / "items.csv"
    source.write_text(_csv(HEADER, [[_code(1), "", "1", "market", "5"]]), encoding="utf-8")
    report_path = tmp_path / "report.json"
    with pytest.raises(CommandError):
        call_command("import_catalog", str(source), "--report", str(report_path))
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["applied"] is False and [(e["row"], e["field"]) for e in report["errors"]] == [(2, "name")]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="空"):
        call_command("import_catalog", str(empty), "--report", str(report_path))
    assert "空" in json.loads(report_path.read_text(encoding="utf-8"))["errors"][0]["reason"]
