"""Code lists of the service catalogue (national standard for service items)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.directory.constants import Level

__all__ = ["Level"]  # items are exercised at a level of the directory's hierarchy


class ItemKind(models.TextChoices):
    """事项类型. The numbers in KIND_TASK_TYPES are the codes used by provincial platforms."""

    LICENSING = "licensing", _("行政许可")
    PENALTY = "penalty", _("行政处罚")
    ENFORCEMENT = "enforcement", _("行政强制")
    LEVY = "levy", _("行政征收")
    PAYMENT = "payment", _("行政给付")
    INSPECTION = "inspection", _("行政检查")
    CONFIRMATION = "confirmation", _("行政确认")
    REWARD = "reward", _("行政奖励")
    ADJUDICATION = "adjudication", _("行政裁决")
    OTHER_POWER = "other_power", _("其他行政权力")
    PUBLIC_SERVICE = "public_service", _("公共服务")


KIND_TASK_TYPES: dict[str, str] = {
    "1": ItemKind.LICENSING,
    "2": ItemKind.PENALTY,
    "3": ItemKind.ENFORCEMENT,
    "4": ItemKind.LEVY,
    "5": ItemKind.PAYMENT,
    "6": ItemKind.INSPECTION,
    "7": ItemKind.CONFIRMATION,
    "8": ItemKind.REWARD,
    "9": ItemKind.ADJUDICATION,
    "10": ItemKind.OTHER_POWER,
    "20": ItemKind.PUBLIC_SERVICE,
}

# Letter used in the base code of seed items, one per kind.
KIND_CODE_LETTERS: dict[str, str] = {
    ItemKind.LICENSING: "A",
    ItemKind.PENALTY: "B",
    ItemKind.ENFORCEMENT: "C",
    ItemKind.LEVY: "D",
    ItemKind.PAYMENT: "E",
    ItemKind.INSPECTION: "F",
    ItemKind.CONFIRMATION: "G",
    ItemKind.REWARD: "H",
    ItemKind.ADJUDICATION: "I",
    ItemKind.OTHER_POWER: "Z",
    ItemKind.PUBLIC_SERVICE: "S",
}


class Audience(models.TextChoices):
    PERSON = "person", _("自然人")
    ORGANISATION = "organisation", _("法人")
    BOTH = "both", _("自然人和法人")


class ItemStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    IN_REVIEW = "in_review", _("待审核")
    PUBLISHED = "published", _("已发布")
    SUPERSEDED = "superseded", _("已被新版本替代")
    WITHDRAWN = "withdrawn", _("已停用")


class OnlineDepth(models.IntegerChoices):
    """办理深度, the four grades of the national guidance."""

    INFORMATION = 1, _("一级：网上可查询办事指南")
    DOWNLOAD = 2, _("二级：可下载表格，线下办理")
    ONLINE_APPLICATION = 3, _("三级：网上申请、预审，最多跑一次")
    FULLY_ONLINE = 4, _("四级：全程网办，零跑动")


class Channel(models.TextChoices):
    ONLINE = "online", _("网上办")
    MOBILE = "mobile", _("掌上办")
    COUNTER = "counter", _("窗口办")
    KIOSK = "kiosk", _("自助办")
    MAIL = "mail", _("邮寄办")


class MaterialForm(models.TextChoices):
    ORIGINAL = "original", _("原件")
    COPY = "copy", _("复印件")
    ORIGINAL_AND_COPY = "original_and_copy", _("原件及复印件")
    ELECTRONIC = "electronic", _("电子材料")


class MaterialRequirement(models.TextChoices):
    REQUIRED = "required", _("必要")
    CONDITIONAL = "conditional", _("特定情形下提交")
    OPTIONAL = "optional", _("非必要（容缺）")


class MaterialSource(models.TextChoices):
    """Where a material may come from instead of the applicant's paper."""

    APPLICANT = "applicant", _("申请人自备")
    SHARED_DATA = "shared_data", _("部门共享获取，免提交")
    E_LICENCE = "e_licence", _("电子证照调取，免提交")
    ISSUED_BY_DEPARTMENT = "issued", _("由办理部门出具")


class ThemeAudience(models.TextChoices):
    PERSON = "person", _("个人办事")
    ORGANISATION = "organisation", _("法人办事")


class GuideFact(models.TextChoices):
    """Facts of a guide that a source may leave unknown (an imported list often has only names).

    Unknown is not the same as none: an item with no materials listed because
    the source did not say shows 待补充, never 无需提交.
    """

    MATERIALS = "materials", _("申请材料")
    FEES = "fees", _("收费标准")
    TIME_LIMITS = "time_limits", _("办结时限")
    VISITS = "visits", _("到现场次数")


# Without these an applicant cannot know what to submit, pay or expect: online application waits for them.
GUIDE_REQUIRED_FACTS = (GuideFact.MATERIALS, GuideFact.FEES, GuideFact.TIME_LIMITS)


def guide_is_complete(unknown_facts: list[str]) -> bool:
    return not any(fact in unknown_facts for fact in GUIDE_REQUIRED_FACTS)
