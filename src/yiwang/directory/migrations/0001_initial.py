# Division and Department move here from the catalogue. Their tables stay as
# they are (db_table keeps the old names), so this migration only tells
# Django's state where the models now live, and moves their content types so
# that permissions and admin history follow them.

import django.db.models.deletion
from django.db import migrations, models

LEVEL_CHOICES = [
    ("national", "国家级"),
    ("provincial", "省级"),
    ("city", "市级"),
    ("county", "县级"),
    ("township", "乡镇（街道）级"),
    ("village", "村（社区）级"),
]


def move_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in ("division", "department"):
        if content_type.objects.filter(app_label="directory", model=model).exists():
            continue
        content_type.objects.filter(app_label="catalog", model=model).update(app_label="directory")


def restore_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="directory", model__in=("division", "department")).update(app_label="catalog")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("catalog", "0003_item_form_and_process"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Division",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("code", models.CharField(max_length=12, unique=True, verbose_name="行政区划代码")),
                        ("name", models.CharField(max_length=64, verbose_name="名称")),
                        ("level", models.CharField(choices=LEVEL_CHOICES, max_length=16, verbose_name="层级")),
                        (
                            "parent",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="children",
                                to="directory.division",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "行政区划",
                        "verbose_name_plural": "行政区划",
                        "db_table": "catalog_division",
                        "ordering": ["code"],
                    },
                ),
                migrations.CreateModel(
                    name="Department",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("code", models.SlugField(max_length=32, unique=True, verbose_name="部门代码")),
                        ("name", models.CharField(max_length=128, verbose_name="部门名称")),
                        ("short_name", models.CharField(blank=True, max_length=64, verbose_name="简称")),
                        (
                            "credit_code",
                            models.CharField(blank=True, db_index=True, max_length=18, verbose_name="统一社会信用代码"),
                        ),
                        ("level", models.CharField(choices=LEVEL_CHOICES, max_length=16, verbose_name="层级")),
                        ("description", models.TextField(blank=True, verbose_name="部门职责")),
                        ("address", models.CharField(blank=True, max_length=200, verbose_name="地址")),
                        ("phone", models.CharField(blank=True, max_length=64, verbose_name="咨询电话")),
                        ("office_hours", models.CharField(blank=True, max_length=200, verbose_name="办公时间")),
                        ("sort_order", models.PositiveIntegerField(default=0, verbose_name="排序")),
                        (
                            "parent",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="children",
                                to="directory.department",
                            ),
                        ),
                        (
                            "division",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="departments",
                                to="directory.division",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "部门",
                        "verbose_name_plural": "部门",
                        "db_table": "catalog_department",
                        "ordering": ["sort_order", "code"],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
