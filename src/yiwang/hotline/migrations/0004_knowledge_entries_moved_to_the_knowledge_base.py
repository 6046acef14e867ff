"""The hotline's first knowledge table gives way to the knowledge base (ADR 0013).

Rows it may hold (an earlier import of official replies) become published 官方答复 entries of the
knowledge base, keyed by their old source, before the table goes, so nothing an operator relied on is lost.
"""

from django.db import migrations
from django.utils import timezone


def move_entries(apps, schema_editor):
    old_entries = apps.get_model("hotline", "KnowledgeEntry")
    entries = apps.get_model("knowledge", "Entry")
    versions = apps.get_model("knowledge", "EntryVersion")
    departments = apps.get_model("directory", "Department")
    fallback = departments.objects.order_by("id").first()
    for old in old_entries.objects.filter(active=True).order_by("id"):
        department = old.department or fallback
        if department is None:
            raise RuntimeError("hotline knowledge entries exist but no department does: create one first")
        key = ("hotline:" + old.source)[:100]
        if entries.objects.filter(external_key=key).exists():
            continue
        entry = entries.objects.create(department=department, external_key=key)
        versions.objects.create(
            entry=entry,
            version=1,
            status="published",
            kind="official_reply",
            questions=[old.question[:300]],
            answer=old.answer,
            source_text=old.source[:300],
            valid_from=old.answered_on,
            change_note="自12345旧知识库迁移",
            published_at=timezone.now(),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("hotline", "0003_verbose_names"),
        ("knowledge", "0001_initial"),
        ("directory", "0002_verbose_names"),
    ]

    operations = [
        migrations.RunPython(move_entries, migrations.RunPython.noop),
        migrations.DeleteModel(name="KnowledgeEntry"),
    ]
