"""Issue 12 item 20: an imported item shows only what its source says, and unknown is not none."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from yiwang.catalog import services
from yiwang.catalog.models import Fee, Material, ServiceItem
from yiwang.catalog.transfer import export_records, import_catalog, write_export

from .factories import item_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_search_index")]

PROVINCIAL_ROWS = (
    "department,main_item,name,itemCode,taskType,areaCode,deptCode,link\n"
    "区甲局,未分类,甲局许可事项,AAA001-511602000000-000-11511301008778183N-1-00,1,511602000000,dept-a,\n"
)
INVENTED = ("本事项无需提交申请材料", "不收费", "无法定时限", "1次")


def _imported() -> ServiceItem:
    import_catalog(PROVINCIAL_ROWS.encode(), "csv", mapping="sichuan")
    return ServiceItem.objects.published().get(code__startswith="AAA001")


def test_an_item_with_names_only_is_incomplete_and_says_so() -> None:
    item = _imported()
    assert sorted(item.unknown_facts) == ["fees", "materials", "time_limits", "visits"]
    assert item.guide_complete is False
    page = Client().get(reverse("catalog:item", args=[item.code])).content.decode()
    assert "待补充" in page and "信息待完善" in page
    for invented in INVENTED:
        assert invented not in page, invented
    assert reverse("cases:apply_item", args=[item.code]) not in page


def test_explicit_none_is_shown_as_none() -> None:
    record = item_record(materials=[], fees=[], statutory_days=None, promised_days=0, visits_required=0)
    import_catalog(json.dumps([record], ensure_ascii=False).encode(), "json")
    item = ServiceItem.objects.published().get(code=record["code"])
    assert item.unknown_facts == [] and item.guide_complete
    page = Client().get(reverse("catalog:item", args=[item.code])).content.decode()
    assert "本事项无需提交申请材料" in page and "不收费" in page and "待补充" not in page


def test_csv_empty_cell_is_unknown_and_brackets_are_none() -> None:
    header = "code,name,kind,department,promised_days,materials,fees\n"
    rows = (
        "CSV001-990100000000-000-11990100990000156Q-1-00,空格事项,1,market,5,,\n"
        "CSV002-990100000000-000-11990100990000156Q-1-00,空列表事项,1,market,5,[],[]\n"
    )
    import_catalog((header + rows).encode(), "csv")
    unknown = dict(ServiceItem.objects.filter(code__startswith="CSV00").values_list("name", "unknown_facts"))
    assert sorted(unknown["空格事项"]) == ["fees", "materials", "visits"]
    assert unknown["空列表事项"] == ["visits"]


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_unknown_facts_survive_export_and_import(fmt: str) -> None:
    item = _imported()
    records = [r for r in export_records() if r["code"] == item.code]
    assert records[0]["materials"] is None and records[0]["fees"] is None
    report = import_catalog(write_export(records, fmt), fmt)
    assert report.unchanged == 1


def test_completing_the_guide_in_a_new_version_makes_it_complete() -> None:
    item = _imported()
    draft = services.start_new_version(item, actor=None)
    Material.objects.create(item=draft, name="申请书")
    Fee.objects.create(item=draft, name="工本费", amount="10.00")
    draft.promised_days = 5
    draft.charges_fee = True
    draft.save()
    services.submit_for_review(draft, actor=None)
    published = services.publish_item(draft, actor=None)
    assert published.guide_complete and published.unknown_facts == ["visits"]


def test_department_administrator_lists_incomplete_items(django_user_model) -> None:
    from django.contrib.auth.models import Permission

    from yiwang.accounts.models import RoleAssignment
    from yiwang.directory.models import Department

    incomplete = _imported()
    user = django_user_model.objects.create_user("dept-admin-x", password="admin-long-password", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="catalog", codename="view_serviceitem"))
    department = Department.objects.get(code=incomplete.department.code)
    RoleAssignment.objects.create(user=user, role="department_admin", department=department)
    client = Client()
    client.force_login(user)
    page = client.get("/admin/catalog/serviceitem/?guide_complete__exact=0").content.decode()
    assert incomplete.code in page


def test_the_seed_catalogue_is_complete() -> None:
    assert not ServiceItem.objects.filter(guide_complete=False).exists()
    assert not ServiceItem.objects.exclude(unknown_facts=[]).exists()
