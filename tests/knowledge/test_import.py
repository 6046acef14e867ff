"""yiwang import-official-replies: official replies as published 官方答复 entries, idempotent, refusing bad files."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.accounts.factories import make_staff
from yiwang.accounts.constants import Role
from yiwang.core.models import AuditEvent
from yiwang.knowledge import selectors
from yiwang.knowledge.constants import EntryKind, VersionStatus
from yiwang.knowledge.models import Entry, EntryVersion, VersionVector

pytestmark = pytest.mark.django_db

HEADER = ["留言编号", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"]
FIXED = "经核实，路灯线路故障已于4月28日修复。联系电话13812345678。"
ROWS = [
    ["101", "小区门口路灯不亮", "2019/4/25 9:32:09", "详情", FIXED, "2019/5/10 14:56:53"],
    ["102", "公交站台没有遮雨棚", "2019/4/24 16:03:40", "详情", "站台改造已列入今年计划，预计9月完工。", "2019/5/9"],
    ["103", "", "2019/4/24 16:03:40", "详情", "没有主题的一行", "2019/5/9 9:49:10"],
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def platform_admin(db: Any) -> Any:
    return make_staff(Role.PLATFORM_ADMIN, username="kb-importer")


def run(path: Path, *extra: str, actor: str = "kb-importer", department: str = "urban_management") -> str:
    out = StringIO()
    call_command("import_official_replies", str(path), "--department", department, "--actor", actor, *extra, stdout=out)
    return out.getvalue()


def test_replies_become_published_official_replies_once(tmp_path: Path, platform_admin: Any) -> None:
    path = write_csv(tmp_path / "replies.csv", ROWS)
    output = run(path)
    assert "新增 2" in output and "跳过 1" in output and "向量：2 条" in output
    versions = EntryVersion.objects.select_related("entry__department").order_by("entry__external_key")
    assert [(v.entry.external_key, v.kind, v.status) for v in versions] == [
        ("replies:101", EntryKind.OFFICIAL_REPLY, VersionStatus.PUBLISHED),
        ("replies:102", EntryKind.OFFICIAL_REPLY, VersionStatus.PUBLISHED),
    ]
    first = versions[0]
    assert first.questions == ["小区门口路灯不亮"] and first.entry.department.code == "urban_management"
    assert first.published_by == platform_admin and first.valid_from.isoformat() == "2019-05-10"
    assert "13812345678" not in first.answer and "留言编号101" in first.source_text
    assert VersionVector.objects.count() == 2
    audit = AuditEvent.objects.filter(event="knowledge.imported").get()
    assert audit.actor == platform_admin and audit.detail["created"] == 2
    assert selectors.search_entries("路灯不亮")[0].id == first.entry_id

    again = run(path)
    assert "新增 0" in again and "未变 2" in again
    assert EntryVersion.objects.count() == 2

    changed = [[*ROWS[0][:4], "路灯已更换为LED灯。", ROWS[0][5]], ROWS[1]]
    assert "更新 1" in run(write_csv(tmp_path / "replies2.csv", changed), "--skip-vectors")
    history = dict(EntryVersion.objects.filter(entry=first.entry).values_list("version", "status"))
    assert history == {1: VersionStatus.SUPERSEDED, 2: VersionStatus.PUBLISHED}
    assert Entry.objects.count() == 2


def test_bad_files_and_actors_are_refused_clearly(tmp_path: Path, platform_admin: Any) -> None:
    with pytest.raises(CommandError, match="文件不存在"):
        run(tmp_path / "missing.csv")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("留言编号,留言主题,答复意见\n1,路灯,已修\n".encode("gbk"))
    with pytest.raises(CommandError, match="不是 UTF-8"):
        run(gbk)
    with pytest.raises(CommandError, match="缺少列：答复意见"):
        run(write_csv(tmp_path / "columns.csv", [["1", "路灯"]], header=["留言编号", "留言主题"]))
    good = write_csv(tmp_path / "good.csv", ROWS[:1])
    with pytest.raises(CommandError, match="部门不存在"):
        run(good, department="nowhere")
    with pytest.raises(CommandError, match="用户不存在"):
        run(good, actor="nobody")
    make_staff(Role.DEPARTMENT_ADMIN, "urban_management", username="dept-admin")
    with pytest.raises(CommandError, match="只有平台管理员"):
        run(good, actor="dept-admin")
    assert not EntryVersion.objects.exists()


def test_the_shared_replies_file_imports(shared_dir: Path, platform_admin: Any, tmp_path: Path) -> None:
    source = shared_dir / "data" / "hotline" / "replies.csv"
    if not source.is_file():
        pytest.skip("replies.csv is not in ../shared/data/hotline")
    with source.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for _n, row in zip(range(300), reader, strict=False)]
    sample = write_csv(tmp_path / "sample.csv", rows, header=header)
    output = run(sample, "--skip-vectors")
    assert "新增 300" in output or "跳过" in output
    assert EntryVersion.objects.filter(kind=EntryKind.OFFICIAL_REPLY, status=VersionStatus.PUBLISHED).count() >= 290
    assert "新增 0" in run(sample, "--skip-vectors")
