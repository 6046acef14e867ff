"""Flagged (待核查) ratings leave the results until a supervisor clears them (issue 12 item 10).

Until now a flagged rating stayed counted; from this release the services keep
it out of the tallies while it waits for review and add it when cleared. The
ratings already waiting are taken out of their tally rows here, so clearing
one later does not count it twice.
"""

from django.db import migrations
from django.db.models import F


def _step_flagged(apps, step):
    Rating = apps.get_model("feedback", "Rating")
    Tally = apps.get_model("feedback", "Tally")
    DepartmentDayTally = apps.get_model("feedback", "DepartmentDayTally")
    for rating in Rating.objects.filter(status="suspect").iterator():
        changes = {f"level_{rating.level}": F(f"level_{rating.level}") + step}
        if rating.rectified_on_time is not None:
            changes["rectification_due"] = F("rectification_due") + step
            changes["rectified_on_time"] = F("rectified_on_time") + step * int(rating.rectified_on_time)
        day = {"day": rating.day, "department_id": rating.department_id}
        Tally.objects.filter(
            **day,
            item_code=rating.item_code,
            channel=rating.channel,
            mode=rating.mode,
            window_id=rating.window_id or 0,
        ).update(**changes)
        DepartmentDayTally.objects.filter(**day).update(**changes)


def take_flagged_out(apps, schema_editor):
    _step_flagged(apps, -1)


def count_flagged_again(apps, schema_editor):
    _step_flagged(apps, 1)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0003_verbose_names")]

    operations = [migrations.RunPython(take_flagged_out, count_flagged_again)]
