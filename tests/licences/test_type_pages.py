"""The staff pages of the licence types (电子证照目录): who may list, create and edit, and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen, make_staff
from tests.cases.conftest import FOOD_LICENCE, item_code
from tests.licences.helpers import food_type, issue_food_licence
from yiwang.accounts.constants import Role
from yiwang.core.models import AuditEvent
from yiwang.directory.models import Department
from yiwang.licences import services
from yiwang.licences.models import LicenceType

pytestmark = pytest.mark.django_db

TYPES = "/licences/desk/types/"
NEW = "/licences/desk/types/new/"


def _client(user: Any | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _rows(*rows: dict[str, Any], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "fields-TOTAL_FORMS": str(len(rows)),
        "fields-INITIAL_FORMS": str(initial),
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "30",
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"fields-{index}-{name}"] = value
    return data


def _form(**values: Any) -> dict[str, Any]:
    market = Department.objects.get(code="market")
    data = {
        "department": str(market.pk),
        "number": "77",
        "name": "小餐饮登记证",
        "holder_kind": "applicant",
        "validity_years": "3",
        "item_codes": item_code(FOOD_LICENCE, "market"),
        "material_names": "小餐饮证\n小餐饮登记证明",
    }
    data.update(values)
    rows = values.pop("rows", None)
    if rows is None:
        rows = (
            {"key": "operator", "label": "经营者", "type": "text", "required": "on", "source": "applicant_name"},
            {"key": "category", "label": "类别", "type": "choice", "choices": "堂食、外卖，小吃"},
            {"key": "", "label": "", "type": "text"},
        )
    data.pop("rows", None)
    data.update(_rows(*rows))
    return data


def test_a_department_administrator_creates_a_type_of_their_department() -> None:
    admin = make_staff(Role.DEPARTMENT_ADMIN, "market")
    client = _client(admin)
    page = client.get(NEW)
    assert page.status_code == 200
    html = page.content.decode()
    assert "新增证照类型" in html and "市场监督管理局" in html
    assert "公安局" not in html  # only the administrator's departments are offered

    response = client.post(NEW, _form())
    assert response.status_code == 302, response.content.decode()
    created = LicenceType.objects.get(name="小餐饮登记证")
    market = Department.objects.get(code="market")
    assert created.code == f"{market.credit_code}077" and created.department == market
    assert created.validity_years == 3 and created.holder_kind == "applicant"
    assert created.item_codes == [item_code(FOOD_LICENCE, "market")]
    assert created.material_names == ["小餐饮登记证明", "小餐饮证"]
    assert created.fields == [
        {
            "key": "operator",
            "label": "经营者",
            "type": "text",
            "required": True,
            "choices": [],
            "source": "applicant_name",
        },
        {
            "key": "category",
            "label": "类别",
            "type": "choice",
            "required": False,
            "choices": ["堂食", "外卖", "小吃"],
            "source": "",
        },
    ]
    assert response["Location"] == f"/licences/desk/types/{created.pk}/"
    assert AuditEvent.objects.filter(event="licence_type.created", actor=admin).exists()

    listing = client.get(TYPES).content.decode()
    assert "小餐饮登记证" in listing and "食品经营许可" in listing  # the issuing item by name
    # The staff licence desk links to the catalogue page for administrators.
    assert 'href="/licences/desk/types/"' in client.get("/licences/desk/").content.decode()


def test_the_form_reports_each_bad_input_and_saves_nothing() -> None:
    client = _client(make_staff(Role.DEPARTMENT_ADMIN, "market"))
    bad_rows = (
        {"key": "Bad Key", "label": "名称", "type": "text"},
        {"key": "kind", "label": "", "type": "choice", "choices": ""},
        {"key": "kind", "label": "重复", "type": "text", "source": "not a field"},
    )
    response = client.post(NEW, _form(number="1000", name="  ", validity_years="0", rows=bad_rows))
    assert response.status_code == 400
    html = response.content.decode()
    assert "请修改下面标出的内容" in html
    assert "请填写1至999的整数" in html
    assert "请填写1至100的整数，长期有效请留空" in html
    assert "标识须以小写字母开头" in html
    assert "请填写信息项名称" in html and "选项类信息项须列出可选值" in html
    assert "申请表字段须以小写字母开头" in html
    assert "证照名称：请填写此项" in html  # the name, blank once spaces are stripped
    assert not LicenceType.objects.filter(code__endswith="000").exists()

    # Repeated keys (checked once every row is well formed).
    rows = ({"key": "same", "label": "甲", "type": "text"}, {"key": "same", "label": "乙", "type": "text"})
    assert "标识重复：same" in client.post(NEW, _form(rows=rows)).content.decode()
    # A department the administrator does not manage is not a valid choice.
    police = Department.objects.get(code="police")
    html = client.post(NEW, _form(department=str(police.pk))).content.decode()
    assert "所选的一项已不可选" in html
    assert not LicenceType.objects.filter(name="小餐饮登记证").exists()


def test_the_service_refusals_come_back_on_the_form() -> None:
    existing = food_type()
    client = _client(make_staff(Role.DEPARTMENT_ADMIN, "market"))
    response = client.post(NEW, _form(number="1"))
    assert response.status_code == 400
    assert "该部门已有序号为001的证照类型：食品经营许可证" in response.content.decode()
    existing.refresh_from_db()
    assert existing.name == "食品经营许可证" and existing.validity_years == 5  # not overwritten

    response = client.post(NEW, _form(item_codes="NO-SUCH-ITEM\n" + item_code(FOOD_LICENCE, "market")))
    assert response.status_code == 400 and "事项目录中没有这些事项编码：NO-SUCH-ITEM" in response.content.decode()
    assert not LicenceType.objects.filter(name="小餐饮登记证").exists()


def test_an_identity_type_is_marked_on_the_page_only_for_a_person_holder() -> None:
    """ADR 0030: a type that proves identity counts for real-name level 4, so only a person's licence may."""
    client = _client(make_staff(Role.DEPARTMENT_ADMIN, "market"))
    response = client.post(NEW, _form(holder_kind="applicant", proves_identity="on"))
    assert response.status_code == 400
    assert "只有持证主体为自然人的证照可用于实名核验" in response.content.decode()
    assert not LicenceType.objects.filter(name="小餐饮登记证").exists()

    response = client.post(NEW, _form(holder_kind="person", proves_identity="on"))
    assert response.status_code == 302, response.content.decode()
    saved = LicenceType.objects.get(name="小餐饮登记证")
    assert saved.proves_identity
    event = AuditEvent.objects.filter(event="licence_type.created").latest("pk")
    assert event.detail["proves_identity"] is True
    url = f"/licences/desk/types/{saved.pk}/"
    assert 'name="proves_identity" value="on" checked' in client.get(url).content.decode()

    # Unticked on the next save: the box is the whole truth, as with every other field.
    assert client.post(url, _form(holder_kind="person")).status_code == 302
    saved.refresh_from_db()
    assert not saved.proves_identity
    assert 'name="proves_identity" value="on" checked' not in client.get(url).content.decode()


def test_editing_keeps_the_code_and_changes_what_may_change() -> None:
    licence_type = food_type()
    client = _client(make_staff(Role.DEPARTMENT_ADMIN, "market"))
    url = f"/licences/desk/types/{licence_type.pk}/"
    types_before = LicenceType.objects.count()
    page = client.get(url).content.decode()
    assert licence_type.code in page and 'value="premises"' in page

    rows = (
        {"key": "operator", "label": "经营者名称", "type": "text", "required": "on", "source": "applicant_name"},
        {"key": "premises", "label": "经营场所", "type": "text", "DELETE": "on"},
        {"key": "seats", "label": "座位数", "type": "number"},
    )
    response = client.post(
        url, _form(name="食品经营许可证（新版）", validity_years="", department="", number="5", rows=rows)
    )
    assert response.status_code == 302
    licence_type.refresh_from_db()
    assert LicenceType.objects.count() == types_before
    assert licence_type.name == "食品经营许可证（新版）" and licence_type.validity_years is None
    assert [f["key"] for f in licence_type.fields] == ["operator", "seats"]
    assert licence_type.code.endswith("001")  # the number posted is ignored: the code stays


def test_a_type_with_issued_licences_keeps_its_name_and_fields(market_seal: Any) -> None:
    licence = issue_food_licence(make_citizen())
    licence_type = licence.licence_type
    client = _client(make_staff(Role.PLATFORM_ADMIN))
    url = f"/licences/desk/types/{licence_type.pk}/"
    assert "该类型已签发证照" in client.get(url).content.decode()
    kept = tuple(
        {"key": f["key"], "label": f["label"], "type": f["type"], "choices": "、".join(f["choices"])}
        for f in licence_type.fields
    )

    renamed = client.post(url, _form(name="改名后的许可证", rows=kept))
    assert renamed.status_code == 400 and "证照名称已写入证照签章，不能修改" in renamed.content.decode()
    dropped = client.post(url, _form(name=licence_type.name, rows=kept[1:]))
    assert dropped.status_code == 400 and "不能删除照面信息项：经营者名称" in dropped.content.decode()
    retyped = ({**kept[0], "type": "date"}, *kept[1:])
    response = client.post(url, _form(name=licence_type.name, rows=retyped))
    assert response.status_code == 400 and "不能更改照面信息项的类型：经营者名称" in response.content.decode()

    relabelled = ({**kept[0], "label": "经营者（名称）"}, *kept[1:], {"key": "floor", "label": "楼层", "type": "text"})
    assert client.post(url, _form(name=licence_type.name, validity_years="10", rows=relabelled)).status_code == 302
    licence_type.refresh_from_db()
    assert licence_type.fields[0]["label"] == "经营者（名称）" and licence_type.fields[-1]["key"] == "floor"
    # The issued licence still matches its seal.
    licence.refresh_from_db()
    assert services.seal_intact(licence)


def test_who_may_use_the_licence_type_pages() -> None:
    licence_type = food_type()
    edit = f"/licences/desk/types/{licence_type.pk}/"
    assert _client().get(TYPES).status_code == 302  # to the login page
    for role, department in ((Role.REVIEWER, "market"), (Role.APPROVER, "market"), (Role.SUPERVISOR, None)):
        client = _client(make_staff(role, department))
        for url in (TYPES, NEW, edit):
            assert client.get(url).status_code == 403, (role, url)
        assert client.post(NEW, _form()).status_code == 403
        # Staff who may not manage types see the licence desk without the link.
        assert 'href="/licences/desk/types/"' not in client.get("/licences/desk/").content.decode()
    for url in (TYPES, NEW, edit):
        assert _client(make_citizen()).get(url).status_code == 403

    # Another department's administrator: the page, but not this type (404) and not this department.
    police_admin = _client(make_staff(Role.DEPARTMENT_ADMIN, "police"))
    assert police_admin.get(TYPES).status_code == 200
    assert "食品经营许可证" not in police_admin.get(TYPES).content.decode()
    assert police_admin.get(edit).status_code == 404
    assert police_admin.post(edit, _form(name="被改了")).status_code == 404
    assert police_admin.post(NEW, _form()).status_code == 400  # market is not among their departments
    licence_type.refresh_from_db()
    assert licence_type.name == "食品经营许可证"
    assert _client(make_staff(Role.DEPARTMENT_ADMIN, "market")).get("/licences/desk/types/99999999/").status_code == 404


def test_the_service_refuses_an_administrator_of_another_department() -> None:
    market = Department.objects.get(code="market")
    with pytest.raises(services.LicenceError) as refused:
        services.save_licence_type(
            actor=make_staff(Role.DEPARTMENT_ADMIN, "police"),
            licence_type=None,
            department=market,
            number=9,
            name="不该有的证",
            holder_kind="person",
            fields=[],
            validity_years=None,
            item_codes=[],
        )
    assert refused.value.code == "forbidden"
    assert not LicenceType.objects.filter(name="不该有的证").exists()


def test_a_tampered_field_list_is_refused_without_a_server_error() -> None:
    client = _client(make_staff(Role.DEPARTMENT_ADMIN, "market"))
    without_management = {k: v for k, v in _form().items() if not k.startswith("fields-") or k[7:8].isdigit()}
    response = client.post(NEW, without_management)
    assert response.status_code == 400 and "请修改下面标出的内容" in response.content.decode()
    too_many = _form(rows=tuple({"key": f"f{i}", "label": f"项{i}", "type": "text"} for i in range(40)))
    response = client.post(NEW, too_many)
    assert response.status_code == 400
    bad_type = _form(rows=({"key": "size", "label": "面积", "type": "area"},))
    response = client.post(NEW, bad_type)
    assert response.status_code == 400 and "“area”不是可选的一项" in response.content.decode()
    assert not LicenceType.objects.filter(name="小餐饮登记证").exists()


def test_the_admin_keeps_the_same_rules(django_user_model: Any, market_seal: Any) -> None:
    licence = issue_food_licence(make_citizen())
    licence_type = licence.licence_type
    client = _client(django_user_model.objects.create_superuser("licence-root", password="a-long-password-1"))
    url = f"/admin/licences/licencetype/{licence_type.pk}/change/"
    post = {
        "department": str(licence_type.department_id),
        "number": "1",
        "name": "改名后的许可证",
        "holder_kind": licence_type.holder_kind,
        "validity_years": "5",
        "fields": json.dumps(licence_type.fields, ensure_ascii=False),
        "item_codes": json.dumps(licence_type.item_codes),
        "material_names": "[]",
    }
    response = client.post(url, post)
    assert response.status_code == 200 and "证照名称已写入证照签章，不能修改" in response.content.decode()
    response = client.post(url, {**post, "name": licence_type.name, "number": "2"})
    assert response.status_code == 200 and "保存后不能修改" in response.content.decode()
    add = client.post("/admin/licences/licencetype/add/", {**post, "name": "重号的证"})
    assert add.status_code == 200 and "该部门已有序号为001的证照类型" in add.content.decode()
    licence_type.refresh_from_db()
    assert licence_type.name == "食品经营许可证" and LicenceType.objects.filter(name="重号的证").count() == 0
    # What may change still saves through the admin.
    saved = client.post(url, {**post, "name": licence_type.name, "validity_years": "8"})
    assert saved.status_code == 302
    licence_type.refresh_from_db()
    assert licence_type.validity_years == 8


def test_the_change_form_offers_each_field_in_its_own_control() -> None:
    licence = issue_food_licence(make_citizen(), business_type="餐饮服务经营者", opened_on="2026-03-01", seats="12")
    html = _client(make_staff(Role.APPROVER, "market")).get(f"/licences/desk/{licence.pk}/").content.decode()
    assert '<select id="change-business_type" name="field-business_type">' in html
    assert '<option value="餐饮服务经营者" selected>' in html
    assert '<input type="date" id="change-opened_on" name="field-opened_on" value="2026-03-01">' in html
    assert 'type="number" id="change-seats" name="field-seats" value="12"' in html
    assert 'type="text" id="change-premises" name="field-premises"' in html
