# Division and Department moved to the directory app with their tables unchanged
# (directory 0001): only Django's state changes, the database already points
# at catalog_department.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0001_initial"),
        ("hotline", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="assignment",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="directory.department"
                    ),
                ),
                migrations.AlterField(
                    model_name="dispatchrule",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="directory.department",
                        verbose_name="责任部门",
                    ),
                ),
                migrations.AlterField(
                    model_name="gridcell",
                    name="department",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="directory.department",
                        verbose_name="责任部门",
                    ),
                ),
                migrations.AlterField(
                    model_name="knowledgeentry",
                    name="department",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="directory.department",
                    ),
                ),
                migrations.AlterField(
                    model_name="workorder",
                    name="department",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="directory.department",
                        verbose_name="主办部门",
                    ),
                ),
                migrations.AlterField(
                    model_name="workorderevent",
                    name="department",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="directory.department",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
