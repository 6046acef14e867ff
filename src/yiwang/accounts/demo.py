"""Demo accounts for `make run`: one for every role, and a person with an agent.

Never created in production mode (see the seed command). Staff accounts bind
an authenticator app at their first login, as every staff account must.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from yiwang.core.identifiers import DocumentType, make_resident_id
from yiwang.directory import selectors as directory_selectors

from . import services
from .constants import AssuranceLevel, AssuranceMethod, Relationship, Role
from .models import Delegation, Person, RoleAssignment, User

DEMO_PASSWORD = "Yiwang-demo-2026"  # noqa: S105  (documented in the README; demo only)

# username, display name, role, department code (None: platform-wide or no department)
STAFF_ACCOUNTS = [
    ("platform-admin", "平台管理员", Role.PLATFORM_ADMIN, None),
    ("supervisor", "效能监督员", Role.SUPERVISOR, None),
    ("market-admin", "市场监管局部门管理员", Role.DEPARTMENT_ADMIN, "market"),
    ("counter-clerk", "政务服务中心综合窗口", Role.COUNTER_CLERK, "market"),
    ("market-reviewer", "市场监管局审查员", Role.REVIEWER, "market"),
    ("market-approver", "市场监管局审批人", Role.APPROVER, "market"),
    ("police-reviewer", "公安局审查员", Role.REVIEWER, "police"),
    ("police-approver", "公安局审批人", Role.APPROVER, "police"),
    # Case handling across departments (一件事 handled in parallel; the browser test of cases logs in with these).
    ("police-registrar", "公安局户政审核员", Role.REVIEWER, "police"),
    ("urban-reviewer", "城市管理局审查员", Role.REVIEWER, "urban_management"),
    ("urban-approver", "城市管理局审批人", Role.APPROVER, "urban_management"),
    ("hotline-operator", "12345话务员", Role.HOTLINE_OPERATOR, None),
    ("grid-worker", "幸福街道网格员", Role.GRID_WORKER, "xingfu_street"),
    # 12345 work orders: departments that answer the hotline's categories (the hotline browser test uses them).
    ("housing-handler", "住建局工单承办人", Role.REVIEWER, "housing"),
    ("ecology-handler", "生态环境局工单承办人", Role.REVIEWER, "ecology"),
]

# username, name, mobile, resident ID parts (birth date, sequence)
CITIZENS = [
    ("citizen-demo", "张三", "13800000001", "19900101", "123"),
    ("elder-demo", "李秀英", "13800000002", "19420315", "224"),
]


def _person(name: str, mobile: str, birth: str, sequence: str) -> Person:
    number = make_resident_id("990102", birth, sequence)
    existing = services.find_person(DocumentType.RESIDENT_ID, number)
    if existing is not None:
        return existing
    return services.create_person(
        name=name,
        document_type=DocumentType.RESIDENT_ID,
        document_number=number,
        mobile=mobile,
        assurance_level=AssuranceLevel.MOBILE_VERIFIED,
        assurance_method=AssuranceMethod.SMS,
    )


@transaction.atomic
def create_demo_accounts() -> list[str]:
    """Create or reset the demo accounts; returns one line per account for the console."""
    lines = []
    for username, display_name, role, department_code in STAFF_ACCOUNTS:
        user, _ = User.objects.get_or_create(username=username)
        user.display_name = display_name
        user.is_staff = role == Role.PLATFORM_ADMIN
        user.is_superuser = role == Role.PLATFORM_ADMIN
        user.set_password(DEMO_PASSWORD)
        user.save()
        department = directory_selectors.department_by_code(department_code)
        if not RoleAssignment.objects.active().filter(user=user, role=role, department=department).exists():
            RoleAssignment.objects.create(user=user, role=role, department=department)
        lines.append(f"{username} / {DEMO_PASSWORD}（{display_name}，{role.label}）")
    people = {}
    for username, name, mobile, birth, sequence in CITIZENS:
        person = _person(name, mobile, birth, sequence)
        user, _ = User.objects.get_or_create(username=username, defaults={"person": person})
        user.person = person
        user.display_name = name
        user.set_password(DEMO_PASSWORD)
        user.save()
        people[username] = person
        lines.append(f"{username} / {DEMO_PASSWORD}（{name}，手机号 {mobile} 也可登录）")
    # The elderly citizen has authorised 张三 (her son) to handle her affairs for a year.
    elder, son = people["elder-demo"], people["citizen-demo"]
    if not Delegation.objects.active().filter(principal=elder, agent_person=son).exists():
        Delegation.objects.create(
            principal=elder,
            agent_person=son,
            relationship=Relationship.CHILD,
            valid_until=timezone.now() + dt.timedelta(days=365),
        )
    lines.append("elder-demo 已授权 citizen-demo（子女）代为办理，有效期一年")
    return lines
