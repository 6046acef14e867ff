# Division and Department moved to the directory app with their tables unchanged
# (directory 0001): only Django's state changes, the database already points
# at catalog_department.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0001_initial"),
        ("feedback", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="appeal",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="directory.department"
                    ),
                ),
                migrations.AlterField(
                    model_name="departmentdaytally",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="directory.department"
                    ),
                ),
                migrations.AlterField(
                    model_name="rating",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="directory.department"
                    ),
                ),
                migrations.AlterField(
                    model_name="tally",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="directory.department"
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="directory.department"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
