# Division and Department moved to the directory app with their tables unchanged
# (directory 0001): only Django's state changes, the database already points
# at catalog_department.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_identity"),
        ("directory", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="roleassignment",
                    name="department",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="role_assignments",
                        to="directory.department",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
