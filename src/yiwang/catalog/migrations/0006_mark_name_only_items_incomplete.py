"""Items imported before unknown facts were recorded: those with nothing but a name are incomplete.

Interactive publishing has always required materials, so an item with no
materials, steps, fees or time limits can only come from a names-only list
(such as the Sichuan one); its guide showed invented facts until now.
"""

from django.db import migrations

NAME_ONLY_UNKNOWN = ["materials", "fees", "time_limits", "visits"]


def mark_name_only_items(apps, schema_editor):  # type: ignore[no-untyped-def]
    ServiceItem = apps.get_model("catalog", "ServiceItem")
    ServiceItem.objects.filter(
        materials__isnull=True,
        steps__isnull=True,
        fees__isnull=True,
        statutory_days__isnull=True,
        promised_days__isnull=True,
        time_limit_note="",
    ).update(unknown_facts=NAME_ONLY_UNKNOWN, guide_complete=False)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_guide_completeness")]

    operations = [migrations.RunPython(mark_name_only_items, migrations.RunPython.noop)]
