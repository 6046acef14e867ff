"""The demo city's resource catalogue, data services and the departments' own tables behind them.

:func:`create_catalogue` registers six resources and their services (户籍,
营业执照 status, 社会保险参保, 不动产登记, 婚姻登记, 失信名单), each naming the
catalogue materials (``Material.source_name``, 部门共享获取) it supplies.
:func:`create_demo_records` fills the providers' tables consistently with the
demo people of ``accounts.demo`` (张三 citizen-demo and his mother 李秀英
elder-demo) and the businesses of the licences demo (示范区张三小吃店).
Idempotent: rows are found by their code or identifier before being made.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from yiwang.core import crypto
from yiwang.core.identifiers import make_credit_code, make_resident_id
from yiwang.directory import selectors as directory_selectors

from .constants import Backend, OpenType, ShareType, SubjectKind, UpdateCycle
from .models import (
    CreditRecord,
    DataService,
    EnterpriseRecord,
    HouseholdRecord,
    MarriageRecord,
    RealEstateRecord,
    Resource,
    ResourceField,
    SocialInsuranceRecord,
)
from .services import person_index

U, C, N = ShareType.UNCONDITIONAL, ShareType.CONDITIONAL, ShareType.NOT_SHARED

# (code, department, name, subject, share, open, legal basis, cycle, owner, fields, service code, service name,
#  backend, material sources, material fields)
CATALOGUE: list[dict[str, Any]] = [
    {
        "code": "RES-POLICE-0001",
        "department": "police",
        "name": "常住人口户籍信息",
        "subject": SubjectKind.PERSON,
        "share": C,
        "open": OpenType.CONDITIONAL_OPEN,
        "legal_basis": "《中华人民共和国户口登记条例》；《政务信息资源共享管理暂行办法》第九条",
        "conditions": "用于办理本人申请的政务服务事项，经本人授权",
        "cycle": UpdateCycle.DAILY,
        "owner": "户政管理支队",
        "fields": [
            ("name", "姓名", C),
            ("id_number", "公民身份号码（脱敏）", C),
            ("gender", "性别", C),
            ("ethnicity", "民族", C),
            ("birth_date", "出生日期", C),
            ("address", "户籍地址", C),
            ("household_number", "户号", N),
            ("household_head", "户主姓名", C),
            ("relation_to_head", "与户主关系", C),
        ],
        "service": ("household", "户籍信息核验", Backend.HOUSEHOLD),
        "materials": ["公安人口信息库", "居民户口簿", "户口簿"],
        "material_fields": ["name", "gender", "birth_date", "address", "household_head", "relation_to_head"],
    },
    {
        "code": "RES-MARKET-0001",
        "department": "market",
        "name": "市场主体登记信息",
        "subject": SubjectKind.ORGANISATION,
        "share": U,
        "open": OpenType.OPEN,
        "legal_basis": "《企业信息公示暂行条例》；《中华人民共和国市场主体登记管理条例》",
        "conditions": "",
        "cycle": UpdateCycle.REAL_TIME,
        "owner": "登记注册处",
        "fields": [
            ("credit_code", "统一社会信用代码", U),
            ("name", "名称", U),
            ("kind", "类型", U),
            ("legal_representative", "法定代表人或经营者", U),
            ("registered_capital", "注册资本", U),
            ("established_on", "成立日期", U),
            ("address", "住所或经营场所", U),
            ("business_scope", "经营范围", U),
            ("status", "登记状态", U),
        ],
        "service": ("enterprise", "营业执照信息核验", Backend.ENTERPRISE),
        "materials": ["市场主体登记信息", "营业执照", "营业执照信息", "市场监管部门营业执照信息"],
        "material_fields": [],
    },
    {
        "code": "RES-HRSS-0001",
        "department": "hrss",
        "name": "社会保险参保信息",
        "subject": SubjectKind.PERSON,
        "share": C,
        "open": OpenType.NOT_OPEN,
        "legal_basis": "《中华人民共和国社会保险法》第七十四条",
        "conditions": "用于核验就业、参保情况，经本人授权",
        "cycle": UpdateCycle.MONTHLY,
        "owner": "社会保险事业管理中心",
        "fields": [
            ("name", "姓名", C),
            ("insurance_types", "参保险种", C),
            ("status", "参保状态", C),
            ("employer", "参保单位", C),
            ("since", "参保日期", C),
            ("months_paid", "累计缴费月数", C),
        ],
        "service": ("social_insurance", "社会保险参保信息查询", Backend.SOCIAL_INSURANCE),
        "materials": ["社会保险参保信息", "人社部门社会保险参保信息"],
        "material_fields": [],
    },
    {
        "code": "RES-ESTATE-0001",
        "department": "real_estate",
        "name": "不动产登记信息",
        "subject": SubjectKind.PERSON,
        "share": C,
        "open": OpenType.NOT_OPEN,
        "legal_basis": "《不动产登记暂行条例》第二十七条",
        "conditions": "用于核验本人名下房产，经本人授权",
        "cycle": UpdateCycle.REAL_TIME,
        "owner": "不动产登记中心",
        "fields": [("name", "权利人", C), ("property_count", "名下不动产数量", C), ("properties", "不动产明细", C)],
        "service": ("real_estate", "不动产登记信息查询", Backend.REAL_ESTATE),
        "materials": ["不动产登记家庭住房信息"],
        "material_fields": [],
    },
    {
        "code": "RES-CIVIL-0001",
        "department": "civil_affairs",
        "name": "婚姻登记信息",
        "subject": SubjectKind.PERSON,
        "share": C,
        "open": OpenType.NOT_OPEN,
        "legal_basis": "《婚姻登记条例》；《政务信息资源共享管理暂行办法》",
        "conditions": "用于办理本人申请的事项，经本人授权",
        "cycle": UpdateCycle.DAILY,
        "owner": "婚姻登记处",
        "fields": [
            ("name", "姓名", C),
            ("status", "婚姻状况", C),
            ("spouse_name", "配偶姓名", C),
            ("registered_on", "登记日期", C),
            ("registry", "登记机关", C),
        ],
        "service": ("marriage", "婚姻状况查询", Backend.MARRIAGE),
        "materials": ["民政婚姻登记信息"],
        "material_fields": [],
    },
    {
        "code": "RES-MARKET-0002",
        "department": "market",
        "name": "严重违法失信名单信息",
        "subject": SubjectKind.ORGANISATION,
        "share": U,
        "open": OpenType.OPEN,
        "legal_basis": "《严重违法失信名单管理办法》；《企业信息公示暂行条例》",
        "conditions": "",
        "cycle": UpdateCycle.DAILY,
        "owner": "信用监督管理处",
        "fields": [("listed", "是否列入失信名单", U), ("entries", "列入记录", U)],
        "service": ("credit", "失信名单核查", Backend.CREDIT),
        "materials": ["信用信息", "失信名单核查结果"],
        "material_fields": [],
    },
]


@transaction.atomic
def create_catalogue() -> list[str]:
    """Register the demo resources and data services (upserted by code); returns one line per service."""
    lines = []
    for entry in CATALOGUE:
        department = directory_selectors.department_by_code(entry["department"])
        if department is None:
            continue
        resource, _created = Resource.objects.update_or_create(
            code=entry["code"],
            defaults={
                "name": entry["name"],
                "department": department,
                "subject_kind": entry["subject"],
                "share_type": entry["share"],
                "share_conditions": entry["conditions"],
                "open_type": entry["open"],
                "legal_basis": entry["legal_basis"],
                "update_cycle": entry["cycle"],
                "owner": entry["owner"],
            },
        )
        for position, (key, label, share) in enumerate(entry["fields"]):
            ResourceField.objects.update_or_create(
                resource=resource, key=key, defaults={"label": label, "share_type": share, "position": position}
            )
        code, name, backend = entry["service"]
        DataService.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "resource": resource,
                "backend": backend,
                "material_sources": entry["materials"],
                "material_fields": entry["material_fields"],
            },
        )
        lines.append(f"{department.name}：{resource.name}（{resource.get_share_type_display()}），服务 {code}")
    return lines


def _person_columns(name: str, number: str) -> dict[str, Any]:
    return {
        "id_number_encrypted": crypto.encrypt(number),
        "id_number_masked": crypto.mask_id_number(number),
        "name": name,
    }


# The demo people (accounts.demo): 张三 and his mother 李秀英; 王芳 (his wife) has no account.
ZHANG_SAN = make_resident_id("990102", "19900101", "123")
LI_XIUYING = make_resident_id("990102", "19420315", "224")
WANG_FANG = make_resident_id("990102", "19920708", "146")
SNACK_SHOP = make_credit_code("92", "990102", "L1234567")
CATERING = make_credit_code("91", "990100", "MA1XY888")
BUILDING = make_credit_code("91", "990100", "MA2JC404")


def _upsert_person(model: Any, number: str, name: str, **columns: Any) -> None:
    index = person_index(number)
    if not model.objects.filter(id_number_index=index).exists():
        model.objects.create(id_number_index=index, **_person_columns(name, number), **columns)


@transaction.atomic
def create_demo_records() -> list[str]:
    """Fill the providers' tables for the demo people and businesses; returns one line per table."""
    address = "示范市幸福街道幸福路8号2单元301"
    household = {"household_number": "990102008301", "household_head": "张三"}
    _upsert_person(
        HouseholdRecord,
        ZHANG_SAN,
        "张三",
        gender="男",
        ethnicity="汉族",
        birth_date=dt.date(1990, 1, 1),
        address=address,
        relation_to_head="户主",
        **household,
    )
    _upsert_person(
        HouseholdRecord,
        WANG_FANG,
        "王芳",
        gender="女",
        ethnicity="汉族",
        birth_date=dt.date(1992, 7, 8),
        address=address,
        relation_to_head="配偶",
        **household,
    )
    _upsert_person(
        HouseholdRecord,
        LI_XIUYING,
        "李秀英",
        gender="女",
        ethnicity="汉族",
        birth_date=dt.date(1942, 3, 15),
        address=address,
        relation_to_head="母亲",
        **household,
    )
    _upsert_person(
        SocialInsuranceRecord,
        ZHANG_SAN,
        "张三",
        insurance_types="职工基本养老保险、职工基本医疗保险、失业保险",
        status="正常参保",
        employer="示范市幸福餐饮有限公司",
        since=dt.date(2012, 7, 1),
        months_paid=161,
    )
    _upsert_person(
        SocialInsuranceRecord,
        LI_XIUYING,
        "李秀英",
        insurance_types="城乡居民基本养老保险",
        status="待遇领取",
        employer="",
        since=dt.date(2011, 1, 1),
        months_paid=60,
    )
    _upsert_person(
        RealEstateRecord,
        ZHANG_SAN,
        "张三",
        certificate_number="示(2019)示范市不动产权第0012345号",
        location=address,
        area="89.50",
        use="住宅",
        share="共同共有（张三、王芳）",
        registered_on=dt.date(2019, 4, 2),
    )
    _upsert_person(
        MarriageRecord,
        ZHANG_SAN,
        "张三",
        status="已婚",
        spouse_name="王芳",
        registered_on=dt.date(2018, 5, 20),
        registry="示范市幸福区民政局婚姻登记处",
    )
    _upsert_person(
        MarriageRecord,
        WANG_FANG,
        "王芳",
        status="已婚",
        spouse_name="张三",
        registered_on=dt.date(2018, 5, 20),
        registry="示范市幸福区民政局婚姻登记处",
    )
    _upsert_person(MarriageRecord, LI_XIUYING, "李秀英", status="丧偶", spouse_name="", registered_on=None, registry="")
    enterprises = [
        (
            SNACK_SHOP,
            "示范区张三小吃店",
            "个体工商户",
            "张三",
            "",
            dt.date(2021, 3, 8),
            "示范市幸福街道幸福路8号",
            "餐饮服务；食品销售",
            "存续",
        ),
        (
            CATERING,
            "示范市幸福餐饮有限公司",
            "有限责任公司（自然人投资或控股）",
            "张三",
            "100万元人民币",
            dt.date(2012, 6, 18),
            "示范市人民大道120号",
            "餐饮服务；餐饮管理；食品销售",
            "存续",
        ),
        (
            BUILDING,
            "示范市某某建材有限公司",
            "有限责任公司",
            "刘某",
            "50万元人民币",
            dt.date(2015, 9, 1),
            "示范市建设路200号",
            "建筑材料销售",
            "吊销，未注销",
        ),
    ]
    for code, name, kind, representative, capital, established, place, scope, status in enterprises:
        EnterpriseRecord.objects.get_or_create(
            credit_code=code,
            defaults={
                "name": name,
                "kind": kind,
                "legal_representative": representative,
                "registered_capital": capital,
                "established_on": established,
                "address": place,
                "business_scope": scope,
                "status": status,
            },
        )
    CreditRecord.objects.get_or_create(
        subject_kind=SubjectKind.ORGANISATION,
        subject_index=BUILDING,
        list_name="严重违法失信名单",
        defaults={
            "subject_masked": BUILDING,
            "name": "示范市某某建材有限公司",
            "reason": "被吊销营业执照后未依法办理注销，且拒不履行行政处罚决定",
            "listed_by": "示范市市场监督管理局",
            "listed_on": dt.date(2024, 11, 5),
        },
    )
    return [
        f"户籍 {HouseholdRecord.objects.count()} 人，社保 {SocialInsuranceRecord.objects.count()} 人，"
        f"不动产 {RealEstateRecord.objects.count()} 条，婚姻 {MarriageRecord.objects.count()} 人，"
        f"市场主体 {EnterpriseRecord.objects.count()} 户，失信名单 {CreditRecord.objects.count()} 条"
    ]
