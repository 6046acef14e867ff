"""Licence types, licences and decided cases for the licences tests (helpers, not fixtures: conftest is shared)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, Staff, item_code, staff_of
from yiwang.cases import services as cases_services
from yiwang.core import notifications, outbox
from yiwang.directory.models import Department
from yiwang.licences import services
from yiwang.licences.constants import HolderKind
from yiwang.licences.models import Licence, LicenceType

FOOD_CHANGE = "食品经营许可变更"
FOOD_FIELDS = [
    {"key": "operator", "label": "经营者名称", "type": "text", "required": True, "source": "applicant_name"},
    {"key": "premises", "label": "经营场所", "type": "text", "required": True, "source": "address"},
    {"key": "business_type", "label": "主体业态", "type": "choice", "choices": ["餐饮服务经营者", "食品销售经营者"]},
    {"key": "opened_on", "label": "开业日期", "type": "date"},
    {"key": "seats", "label": "座位数", "type": "number"},
]


def use_tmp_materials(settings: Any, tmp_path: Path) -> None:
    storages = dict(settings.STORAGES)
    storages["materials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "materials")},
    }
    settings.STORAGES = storages


def food_type(holder_kind: str = HolderKind.APPLICANT, validity_years: int | None = 5) -> LicenceType:
    """食品经营许可证 of 市场监督管理局, issued by 食品经营许可."""
    return services.define_licence_type(
        actor=None,
        department=Department.objects.get(code="market"),
        number=1,
        name="食品经营许可证",
        holder_kind=holder_kind,
        fields=FOOD_FIELDS,
        validity_years=validity_years,
        item_codes=[item_code(FOOD_LICENCE, "market")],
    )


def issue_food_licence(user: Any, **data: str) -> Licence:
    values = {"operator": user.person.name, "premises": "示范市幸福路1号", **data}
    return services.issue_licence(actor=None, licence_type=food_type(), person_id=user.person_id, data=values)


def run_worker() -> None:
    """One pass of what ``yiwang worker`` does, until nothing due is left."""
    while outbox.process_batch("test-worker") or notifications.deliver_batch("test-worker"):
        pass


def decided_food_case(citizen: Any, market: Staff | None = None) -> Any:
    """A 食品经营许可 case of ``citizen`` taken through acceptance, review, approval and 制证."""
    market = market or staff_of("market")
    (case,) = builders.apply(citizen, item_code=item_code(FOOD_LICENCE, "market"))
    case = cases_services.perform(case, "accept", actor=market.clerk)
    case = cases_services.perform(case, "complete_task", actor=market.reviewer, reason="审查通过")
    case = cases_services.perform(case, "approve", actor=market.approver, reason="准予许可")
    return cases_services.perform(case, "issue_certificate", actor=market.clerk)
