# Division and Department moved to the directory app with their tables unchanged
# (directory 0001): only Django's state changes, the database already points
# at catalog_department.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_item_form_and_process"),
        ("directory", "0001_initial"),
        # Every foreign key must point at the directory before the catalogue forgets the models.
        ("accounts", "0003_department_in_directory"),
        ("cases", "0002_department_in_directory"),
        ("feedback", "0002_department_in_directory"),
        ("hotline", "0002_department_in_directory"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="serviceitem",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="items", to="directory.department"
                    ),
                ),
                migrations.AlterField(
                    model_name="window",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="windows", to="directory.department"
                    ),
                ),
                migrations.RemoveField(
                    model_name="division",
                    name="parent",
                ),
                migrations.DeleteModel(
                    name="Department",
                ),
                migrations.DeleteModel(
                    name="Division",
                ),
            ],
            database_operations=[],
        ),
    ]
