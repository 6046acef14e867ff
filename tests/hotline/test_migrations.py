"""Migration 0004: the hotline's first knowledge table gives way to the knowledge base, rows and all."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from yiwang.knowledge import selectors as knowledge_selectors

BEFORE = [("hotline", "0003_verbose_names"), ("knowledge", "0001_initial")]
AFTER = [("hotline", "0004_knowledge_entries_moved_to_the_knowledge_base")]


@pytest.mark.django_db(transaction=True)
def test_entries_of_the_old_table_become_published_official_replies() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    division = old_apps.get_model("directory", "Division").objects.create(
        code="510000", name="四川省", level="province"
    )
    department = old_apps.get_model("directory", "Department").objects.create(
        code="test-water", name="市水务局", division=division, level="province"
    )
    old = old_apps.get_model("hotline", "KnowledgeEntry")
    old.objects.create(
        question="停水了什么时候恢复供水",
        answer="计划停水请关注水务集团公告，突发停水一般在24小时内恢复。",
        source="work_order:12345-0001",
        department=department,
    )
    old.objects.create(question="已停用的答复", answer="不再适用", source="work_order:12345-0002", active=False)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)

    new_apps = MigrationExecutor(connection).loader.project_state(AFTER).apps
    with pytest.raises(LookupError):
        new_apps.get_model("hotline", "KnowledgeEntry")
    entries = list(new_apps.get_model("knowledge", "EntryVersion").objects.select_related("entry"))
    assert [(v.entry.external_key, v.status, v.kind, v.questions) for v in entries] == [
        ("hotline:work_order:12345-0001", "published", "official_reply", ["停水了什么时候恢复供水"])
    ]
    assert entries[0].entry.department_id == department.pk
    # The knowledge index keeps what it read per version id, and ids come back after other tests' rollbacks.
    knowledge_selectors.reset_index()
    hits = knowledge_selectors.search_entries("停水什么时候恢复", limit=3)
    assert hits and "24小时" in hits[0].answer
