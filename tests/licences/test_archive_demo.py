"""The demo city's finished cases are archived by `yiwang seed`, and `yiwang archive verify` passes on them."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from yiwang.cases.constants import FINAL_CASE_STATES
from yiwang.cases.models import Case
from yiwang.demo.services import load_demo
from yiwang.licences.models import ArchiveEntry
from yiwang.licences.services import archive as archive_services

pytestmark = pytest.mark.django_db


def test_seed_archives_the_demo_cases_and_verify_passes_then_names_a_changed_byte(archive_env: Path) -> None:
    said: list[str] = []
    load_demo(accounts=True, say=said.append)

    finished = set(Case.objects.filter(state__in=FINAL_CASE_STATES).values_list("number", flat=True))
    assert len(finished) >= 4
    assert set(ArchiveEntry.objects.filter(kind="case").values_list("ref", flat=True)) == finished
    assert sum(line.startswith("电子档案：") for line in said) == len(finished)
    # The seed ran the cases' events first: every package holds the case's sealed documents, a decided
    # case its sealed decision.
    decided = ArchiveEntry.objects.get(case__state="refused")
    kinds = {d["kind"] for d in json.loads(archive_services.package_file(decided).read_bytes())["documents"]}
    assert {"receipt", "decision"} <= kinds
    out = StringIO()
    call_command("archive", "verify", stdout=out)
    assert "电子档案完整" in out.getvalue()

    # Seeding again seals nothing more.
    load_demo(accounts=True)
    assert ArchiveEntry.objects.count() == len(finished)

    refused = ArchiveEntry.objects.get(case__state="refused")
    path = archive_env / refused.package_path
    data = bytearray(path.read_bytes())
    position = data.index("不予许可".encode()) if "不予许可".encode() in data else len(data) - 5
    data[position] ^= 0x01
    path.write_bytes(bytes(data))
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("archive", "verify", stdout=StringIO(), stderr=err)
    assert failed.value.returncode == 1
    assert f"办件 {refused.ref}（叶子 #{refused.leaf_index}）：档案包内容已被改动" in err.getvalue()
    assert json.loads(refused.entry)["ref"] == refused.ref
