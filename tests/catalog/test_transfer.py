"""Batch import and export: dry run, all or nothing, upsert by code, round trip, real county list."""

import csv
import io
import json
from pathlib import Path

import pytest

from yiwang.catalog import selectors
from yiwang.catalog.constants import ItemStatus
from yiwang.catalog.models import ServiceItem
from yiwang.catalog.transfer import ImportRejected, export_records, import_catalog, read_rows, write_export
from yiwang.directory.models import Department

from .factories import item_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_search_index")]


def as_json(records: list[dict]) -> bytes:
    return json.dumps(records, ensure_ascii=False).encode()


def test_dry_run_reports_every_bad_row_and_changes_nothing() -> None:
    before = ServiceItem.objects.count()
    good = item_record()
    records = [
        good,
        item_record(code="", name=""),
        item_record(kind="行政魔法", department="no-such-dept"),
        item_record(statutory_days=5, promised_days=10, materials=[{"name": "", "form": "original"}]),
        {**good},  # same code again
    ]
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(as_json(records), "json", dry_run=True)
    problems = {(p.row, p.field) for p in excinfo.value.report.errors}
    assert (2, "code") in problems and (2, "name") in problems
    assert (3, "kind") in problems and (3, "department") in problems
    assert (4, "promised_days") in problems and (4, "materials[1]") in problems
    assert (5, "code") in problems
    reasons = " ".join(p.reason for p in excinfo.value.report.errors)
    assert "重复" in reasons and "不存在" in reasons
    assert ServiceItem.objects.count() == before


def test_valid_dry_run_writes_nothing() -> None:
    before = ServiceItem.objects.count()
    report = import_catalog(as_json([item_record(), item_record()]), "json", dry_run=True)
    assert report.ok and report.rows == 2 and not report.applied
    assert ServiceItem.objects.count() == before


def test_import_is_all_or_nothing() -> None:
    before = ServiceItem.objects.count()
    with pytest.raises(ImportRejected):
        import_catalog(as_json([item_record(), item_record(), item_record(kind="?")]), "json")
    assert ServiceItem.objects.count() == before


def test_upsert_by_code_versions_changes_and_skips_the_unchanged() -> None:
    record = item_record(name="导入测试事项")
    first = import_catalog(as_json([record]), "json")
    assert first.created == 1
    again = import_catalog(as_json([record]), "json")
    assert again.unchanged == 1 and again.created == 0
    changed = import_catalog(as_json([{**record, "promised_days": 2}]), "json")
    assert changed.updated == 1
    versions = list(ServiceItem.objects.filter(code=record["code"]).order_by("version"))
    assert [(v.version, v.status) for v in versions] == [(1, ItemStatus.SUPERSEDED), (2, ItemStatus.PUBLISHED)]
    assert versions[1].promised_days == 2


def test_import_refuses_to_overwrite_an_open_draft() -> None:
    from yiwang.catalog import services

    record = item_record()
    import_catalog(as_json([record]), "json")
    services.start_new_version(ServiceItem.objects.get(code=record["code"]), actor=None)
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(as_json([{**record, "promised_days": 1}]), "json")
    assert "草稿" in excinfo.value.report.errors[0].reason


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_export_round_trips(fmt: str) -> None:
    records = export_records()
    assert len(records) >= 300
    data = write_export(records, fmt)
    report = import_catalog(data, fmt)
    assert report.rows == len(records)
    assert report.unchanged == len(records), (report.created, report.updated)


def test_csv_cells_that_look_like_formulas_are_defused_and_restored() -> None:
    record = item_record(summary='=HYPERLINK("http://evil")', name="公式注入测试")
    import_catalog(as_json([record]), "json")
    exported = [r for r in export_records() if r["code"] == record["code"]]
    data = write_export(exported, "csv")
    assert b"'=HYPERLINK" in data
    rows = [row for _, row in read_rows(data, "csv")]
    assert rows[0]["summary"].startswith("'=")
    assert import_catalog(data, "csv").unchanged == 1


def test_csv_with_chinese_headers(tmp_path: Path) -> None:
    content = (
        "事项编码,事项名称,事项类型,实施主体,法定时限,承诺时限,申请材料,关键词\n"
        "CN0001-990100000000-000-11990100990000156Q-1-00,中文表头事项,行政许可,market,20,10,"
        '"[{""name"": ""申请书""}]",甲;乙\n'
    )
    report = import_catalog(content.encode("utf-8"), "csv")
    item = ServiceItem.objects.get(code="CN0001-990100000000-000-11990100990000156Q-1-00")
    assert report.created == 1 and item.keywords == ["甲", "乙"] and item.materials.get().name == "申请书"


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"{not json", "json", "JSON 无法解析"),
        (b'{"items": 3}', "json", "事项数组"),
        (b"PK\x03\x04garbage", "xlsx", "XLSX 无法读取"),
    ],
)
def test_unreadable_files_are_refused(data: bytes, fmt: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        import_catalog(data, fmt)


def test_oversized_file_is_refused() -> None:
    with pytest.raises(ValueError, match="上限"):
        import_catalog(b" " * (20 * 1024 * 1024 + 1), "json")


def test_real_county_list_imports_and_is_searchable(shared_dir: Path) -> None:
    data = (shared_dir / "data/catalog/sichuan_guangan_items.csv").read_bytes()
    dry = import_catalog(data, "csv", mapping="sichuan", dry_run=True)
    assert dry.rows == 1135 and dry.ok
    # Real codes are not all in the national form; they are imported and flagged.
    assert any(w.field == "code" for w in dry.warnings)
    report = import_catalog(data, "csv", mapping="sichuan")
    assert report.created == 1135
    assert report.departments_created == 34
    imported = ServiceItem.objects.published().filter(division_code="511602000000")
    assert imported.count() == 1135
    assert Department.objects.filter(name="区教科体局").exists()
    hits, _ = selectors.search(
        "适龄儿童延缓入学",
        department=imported.get(code="511A0138000000-511602000000-000-115113010833722043-1-00").department.code,
    )
    assert hits[0].doc.name == "适龄儿童、少年因身体状况需要延缓入学或者休学审批"
    hits, _ = selectors.search("建档立卡特别资助")
    assert any(h.doc.name == "中职和本专科建档立卡特别资助项目" for h in hits[:3])
    # Importing the same list again changes nothing.
    assert import_catalog(data, "csv", mapping="sichuan").unchanged == 1135


def test_real_county_list_puts_every_item_under_its_dept_code(shared_dir: Path) -> None:
    """Issue 12 item 19: the department is the row's deptCode, not the credit code inside itemCode."""
    path = shared_dir / "data/catalog/sichuan_guangan_items.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))
    report = import_catalog(path.read_bytes(), "csv", mapping="sichuan")
    assert report.departments_created == 34
    imported = ServiceItem.objects.published().filter(division_code="511602000000").select_related("department")
    department_of = {item.code: item.department for item in imported}
    assert len(department_of) == 1135
    # Every row lands in a department of its own name, and one deptCode never spreads over two departments.
    codes_per_dept_code: dict[str, set[str]] = {}
    for row in rows:
        department = department_of[row["itemCode"]]
        assert department.name == row["department"], row["itemCode"]
        codes_per_dept_code.setdefault(row["deptCode"], set()).add(department.code)
    assert all(len(codes) == 1 for codes in codes_per_dept_code.values())
    assert len({d.code for d in department_of.values()}) == 34
    # 区行政审批局 lists items that carry other bodies' credit codes: they stay with it.
    assert Department.objects.get(code="imp-68236467-9").name == "区行政审批局"
    assert imported.filter(department__code="imp-68236467-9").count() == 344
    # The 人社局's sub-unit codes and the second 交通运输局 code are one department each, and said so.
    assert imported.filter(department__name="区人社局").values("department").distinct().count() == 1
    assert imported.filter(department__name="区交通运输局").count() == 107
    merged = [w.reason for w in report.warnings if w.field == "deptCode"]
    assert any("11736" in reason for reason in merged)


SHARED_CREDIT_CSV = (
    "department,main_item,name,itemCode,taskType,areaCode,deptCode,link\n"
    "区甲局,未分类,甲局事项,AAA001-511602000000-000-11511301008778183N-1-00,1,511602000000,dept-a,\n"
    "区乙局,未分类,乙局事项,BBB001-511602000000-000-11511301008778183N-1-00,20,511602000000,dept-b,\n"
    "区乙局,未分类,乙局事项二,BBB002-511602000000-000-11511301008778183N-1-00,20,511602000000,dept-b_7,\n"
)


def test_departments_sharing_a_credit_code_stay_apart() -> None:
    """Issue 12 item 19: two departments whose items carry one credit code are two departments."""
    report = import_catalog(SHARED_CREDIT_CSV.encode(), "csv", mapping="sichuan")
    assert report.departments_created == 2
    by_code = {i.code.split("-")[0]: i.department for i in ServiceItem.objects.filter(division_code="511602000000")}
    assert by_code["AAA001"].code == "imp-dept-a" and by_code["AAA001"].name == "区甲局"
    assert by_code["BBB001"].code == by_code["BBB002"].code == "imp-dept-b"
    assert by_code["BBB001"].name == "区乙局"


def test_unusable_dept_code_is_an_error_of_its_row() -> None:
    bad = (
        SHARED_CREDIT_CSV + "区丙局,未分类,丙局事项,CCC001-511602000000-000-11511301008778183N-1-00,1,511602000000,,\n"
    )
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(bad.encode(), "csv", mapping="sichuan", dry_run=True)
    assert [(p.row, p.field) for p in excinfo.value.report.errors if p.field == "deptCode"] == [(5, "deptCode")]


def _empty_catalogue() -> None:
    """Leave the catalogue and directory tables as a freshly migrated database has them: empty."""
    from yiwang.catalog.models import BaseItem, Bundle, Theme, Window
    from yiwang.directory.models import Division

    Bundle.objects.all().delete()
    ServiceItem.objects.all().delete()
    BaseItem.objects.all().delete()
    Window.objects.all().delete()
    Theme.objects.all().delete()
    # Parents are protected: delete leaves first.
    for model in (Department, Division):
        while model.objects.exists():
            model.objects.filter(children__isnull=True).delete()


def _full_export(fmt: str) -> tuple[bytes, dict[str, bytes], object]:
    """The export's bytes, its CSV companions and a comparable form of everything in it."""
    from openpyxl import load_workbook

    from yiwang.catalog.transfer import export_directory, write_directory_csv

    directory = export_directory()
    data = write_export(export_records(), fmt, directory)
    companions = write_directory_csv(directory) if fmt == "csv" else {}
    if fmt == "xlsx":  # the workbook's own metadata holds a timestamp: compare the cells
        book = load_workbook(io.BytesIO(data), read_only=True)
        comparable: object = {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}
    else:
        comparable = (data, companions)
    return data, companions, comparable


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_full_export_imports_into_an_empty_database(fmt: str) -> None:
    """Issue 12 item 21: export → empty database → import → export again gives the same file."""
    data, companions, first = _full_export(fmt)
    departments = Department.objects.count()
    _empty_catalogue()
    assert not Department.objects.exists() and not ServiceItem.objects.exists()
    report = import_catalog(data, fmt, companions=companions)
    assert report.departments_saved == departments and report.created == report.rows
    _data, _companions, second = _full_export(fmt)
    assert second == first


def test_items_only_export_names_missing_departments() -> None:
    data = write_export(export_records()[:3], "json")
    _empty_catalogue()
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(data, "json")
    assert "department" in {p.field for p in excinfo.value.report.errors}


def test_directory_rows_are_validated_before_anything_is_written() -> None:
    payload = {
        "divisions": [{"code": "12345", "name": "", "level": "city", "parent": ""}],
        "departments": [
            {"code": "new-a", "name": "新部门甲", "division": "990100000000", "level": "city", "parent": "new-b"},
            {"code": "new-b", "name": "新部门乙", "division": "990100000000", "level": "city", "parent": "new-a"},
            {"code": "new-c", "name": "新部门丙", "division": "000000000001", "level": "city", "parent": ""},
            {"code": "new-d", "name": "新部门丁", "division": "990100000000", "level": "nowhere", "parent": ""},
        ],
        "windows": [{"department": "no-such", "name": "一号窗口", "is_general": "maybe"}],
        "items": [item_record(department="new-c")],
    }
    before = Department.objects.count()
    with pytest.raises(ImportRejected) as excinfo:
        import_catalog(json.dumps(payload, ensure_ascii=False).encode(), "json")
    found = {(p.row, p.field) for p in excinfo.value.report.errors}
    assert {(1, "divisions.code"), (1, "divisions.name")} <= found
    assert {(3, "departments.division"), (4, "departments.level")} <= found
    assert {(1, "departments.parent"), (2, "departments.parent")} <= found  # a cycle
    assert {(1, "windows.department"), (1, "windows.is_general")} <= found
    assert Department.objects.count() == before


def test_directory_import_updates_departments_parents_first() -> None:
    payload = {
        "departments": [
            {"code": "new-child", "name": "下级部门", "division": "990100000000", "level": "city", "parent": "new-top"},
            {"code": "new-top", "name": "上级部门", "division": "990100000000", "level": "city", "sort_order": "7"},
        ],
        "items": [item_record(department="new-child")],
    }
    report = import_catalog(json.dumps(payload, ensure_ascii=False).encode(), "json")
    assert report.departments_saved == 2 and report.created == 1
    child = Department.objects.get(code="new-child")
    assert child.parent is not None and child.parent.code == "new-top" and child.parent.sort_order == 7
