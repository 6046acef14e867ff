# Division and Department moved to the directory app with their tables unchanged
# (directory 0001): only Django's state changes, the database already points
# at catalog_department.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("directory", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="case",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="directory.department",
                        verbose_name="受理部门",
                    ),
                ),
                migrations.AlterField(
                    model_name="casenumbersequence",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="directory.department"
                    ),
                ),
                migrations.AlterField(
                    model_name="casetask",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="directory.department"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
