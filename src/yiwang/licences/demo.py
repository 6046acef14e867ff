"""Demo licence types for items of the demo catalogue, and licences in the demo citizen's wallet.

The types cover the results of seed items whose licence other seed items ask
for as an e-licence material (``Material.source_name``): 食品经营许可证 (asked
by 食品经营许可变更 and 养老机构备案), 营业执照 (asked by 139 materials), 居住证,
残疾人证 and 结婚证. 张三 (citizen-demo) holds a 居住证 that expires within the
reminder window and a 个体工商户营业执照; the demo cases issued by 制证 add
食品经营许可证 once the worker has run. Idempotent: types are upserted and the
demo licences carry fixed issue data checked before issuing again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model

from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import calendar
from yiwang.directory import selectors as directory_selectors
from yiwang.licences.constants import HolderKind
from yiwang.licences.models import Licence, LicenceType
from yiwang.licences.services import define_licence_type, issue_licence, seals

TEXT, DATE, CHOICE = "text", "date", "choice"

# (department code, type number, name, holder kind, validity years, issuing items, material names, fields)
DEMO_TYPES: list[tuple[str, int, str, str, int | None, list[str], list[str], list[dict[str, Any]]]] = [
    (
        "market",
        1,
        "食品经营许可证",
        HolderKind.APPLICANT,
        5,
        ["食品经营许可"],
        [],
        [
            {"key": "operator", "label": "经营者名称", "type": TEXT, "required": True, "source": "applicant_name"},
            {"key": "premises", "label": "经营场所", "type": TEXT, "required": True, "source": "address"},
            {
                "key": "business_type",
                "label": "主体业态",
                "type": CHOICE,
                "choices": ["餐饮服务经营者", "食品销售经营者", "单位食堂"],
            },
            {"key": "scope", "label": "经营项目", "type": TEXT},
        ],
    ),
    (
        "market",
        2,
        "个体工商户营业执照",
        HolderKind.APPLICANT,
        None,
        ["个体工商户设立登记"],
        ["营业执照"],
        [
            {"key": "trade_name", "label": "名称", "type": TEXT},
            {"key": "operator", "label": "经营者", "type": TEXT, "required": True, "source": "applicant_name"},
            {"key": "premises", "label": "经营场所", "type": TEXT, "required": True, "source": "address"},
            {"key": "form", "label": "组成形式", "type": CHOICE, "choices": ["个人经营", "家庭经营"]},
            {"key": "registered_on", "label": "注册日期", "type": DATE},
        ],
    ),
    (
        "police",
        1,
        "居住证",
        HolderKind.PERSON,
        1,
        ["居住证申领"],
        [],
        [
            {"key": "name", "label": "姓名", "type": TEXT, "required": True, "source": "applicant_name"},
            {"key": "address", "label": "居住地址", "type": TEXT, "required": True},
        ],
    ),
    (
        # The e-ID card (居民身份证电子证照), issued with the card itself; an identity licence (IDENTITY_TYPES),
        # which real-name level 4 asks for (ADR 0030).
        "police",
        2,
        "居民身份证电子证照",
        HolderKind.PERSON,
        20,
        ["居民身份证首次申领", "居民身份证换领", "居民身份证补领"],
        [],
        [
            {"key": "name", "label": "姓名", "type": TEXT, "required": True, "source": "applicant_name"},
            {"key": "gender", "label": "性别", "type": CHOICE, "choices": ["男", "女"]},
            {"key": "ethnicity", "label": "民族", "type": TEXT},
            {"key": "address", "label": "住址", "type": TEXT},
        ],
    ),
    (
        "disabled",
        1,
        "残疾人证",
        HolderKind.PERSON,
        10,
        ["残疾人证办理"],
        ["中华人民共和国残疾人证", "中华人民共和国残疾人证（第二代）"],
        [
            {"key": "name", "label": "姓名", "type": TEXT, "required": True, "source": "applicant_name"},
            {
                "key": "category",
                "label": "残疾类别",
                "type": CHOICE,
                "choices": ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"],
            },
            {"key": "grade", "label": "残疾等级", "type": CHOICE, "choices": ["一级", "二级", "三级", "四级"]},
        ],
    ),
    (
        "civil_affairs",
        1,
        "结婚证",
        HolderKind.PERSON,
        None,
        ["结婚登记"],
        [],
        [
            {"key": "holder", "label": "持证人", "type": TEXT, "required": True, "source": "applicant_name"},
            {"key": "registered_on", "label": "登记日期", "type": DATE},
        ],
    ),
]


# Demo licence types that prove their holder's identity (LicenceType.proves_identity, ADR 0030).
IDENTITY_TYPES = frozenset({"居民身份证电子证照"})


def create_licence_types() -> list[LicenceType]:
    """Define the demo licence types and give their departments a seal (skipping what the catalogue lacks)."""
    created = []
    for department_code in dict.fromkeys(entry[0] for entry in DEMO_TYPES):
        # Each issuing department gets a seal (its key in the key store), so demo licences are sealed.
        if directory_selectors.department_by_code(department_code) and seals.active_seal(department_code) is None:
            seals.create_seal(department_code, bottom_text="电子证照专用章")
    for department_code, number, name, holder_kind, years, item_names, material_names, fields in DEMO_TYPES:
        department = directory_selectors.department_by_code(department_code)
        if department is None:
            continue
        codes = []
        for item_name in item_names:
            item = catalog_selectors.published_item_named(item_name, department_code)
            if item is not None:
                codes.append(item.code)
        created.append(
            define_licence_type(
                actor=None,
                department=department,
                number=number,
                name=name,
                holder_kind=holder_kind,
                fields=fields,
                validity_years=years,
                item_codes=codes,
                material_names=material_names,
                proves_identity=name in IDENTITY_TYPES,
            )
        )
    return created


def create_demo_licences() -> list[str]:
    """Put a 居住证 (expiring soon), a 个体工商户营业执照 and his 居民身份证电子证照 in 张三's wallet; returns lines
    to print."""
    user = get_user_model().objects.filter(username="citizen-demo").first()
    if user is None or user.person_id is None:
        return []
    lines = []
    today = calendar.today_local()
    wanted = [
        ("居住证", today - dt.timedelta(days=350), {"name": "张三", "address": "示范市幸福街道幸福路8号"}),
        (
            "个体工商户营业执照",
            today - dt.timedelta(days=120),
            {
                "trade_name": "示范区张三小吃店",
                "operator": "张三",
                "premises": "示范市幸福街道幸福路8号",
                "form": "个人经营",
                "registered_on": (today - dt.timedelta(days=120)).isoformat(),
            },
        ),
        (
            "居民身份证电子证照",
            today - dt.timedelta(days=400),
            {"name": "张三", "gender": "男", "ethnicity": "汉族", "address": "示范市幸福街道幸福路8号"},
        ),
    ]
    for type_name, issued_on, data in wanted:
        licence_type = LicenceType.objects.filter(name=type_name).first()
        if licence_type is None:
            continue
        if Licence.objects.filter(licence_type=licence_type, holder_person_id=user.person_id).exists():
            continue
        licence = issue_licence(
            actor=None, licence_type=licence_type, person_id=user.person_id, data=data, issued_on=issued_on
        )
        lines.append(f"{type_name} {licence.identifier}（张三）")
    return lines
