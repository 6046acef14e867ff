"""The console commands around the catalogue."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from yiwang.catalog.models import ServiceItem

from .factories import item_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_search_index")]


def test_export_then_dry_run_import(tmp_path: Path, capsys) -> None:
    target = tmp_path / "catalogue.xlsx"
    call_command("export_catalog", str(target))
    assert target.stat().st_size > 10_000
    call_command("import_catalog", str(target), "--dry-run")
    assert "全部有效" in capsys.readouterr().out


def test_import_reports_rows_and_fails_on_bad_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([item_record(), item_record(kind="bogus")], ensure_ascii=False), encoding="utf-8")
    before = ServiceItem.objects.count()
    with pytest.raises(CommandError, match="未导入任何数据"):
        call_command("import_catalog", str(bad))
    assert "第2行 kind" in capsys.readouterr().err
    assert ServiceItem.objects.count() == before


def test_import_refuses_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="不存在"):
        call_command("import_catalog", str(tmp_path / "missing.csv"))
    other = tmp_path / "list.txt"
    other.write_text("x")
    with pytest.raises(CommandError, match="不支持的文件格式"):
        call_command("import_catalog", str(other))


def test_cli_accepts_dashed_command_names(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "yiwang.cli", "import-catalog", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "--dry-run" in result.stdout


def test_csv_export_with_companions_imports_into_an_empty_database(tmp_path: Path, capsys) -> None:
    """Issue 12 item 21: the CSV export writes the directory beside it and import reads it back."""
    from yiwang.directory.models import Department

    from .test_transfer import _empty_catalogue

    target = tmp_path / "catalogue.csv"
    call_command("export_catalog", str(target))
    assert (tmp_path / "catalogue.departments.csv").is_file() and (tmp_path / "catalogue.divisions.csv").is_file()
    items, departments = ServiceItem.objects.published().count(), Department.objects.count()
    _empty_catalogue()
    call_command("import_catalog", str(target))
    assert "catalogue.departments.csv" in capsys.readouterr().out
    assert ServiceItem.objects.published().count() == items and Department.objects.count() == departments
