"""Names shared by the assistant's models, services, pages and API."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Aspect(models.TextChoices):
    """What about an item a question asks."""

    MATERIALS = "materials", _("申请材料")
    FEES = "fees", _("收费标准")
    TIME = "time", _("办理时限")
    PLACE = "place", _("办理地点")
    CONDITIONS = "conditions", _("受理条件")
    ONLINE = "online", _("网上办理")


class Sender(models.TextChoices):
    CITIZEN = "citizen", _("咨询人")
    ASSISTANT = "assistant", _("智能客服")
    STAFF = "staff", _("人工客服")
    SYSTEM = "system", _("系统")


class ConversationStatus(models.TextChoices):
    """Who answers: the assistant, or (after a hand-off) a member of staff."""

    ASSISTANT = "assistant", _("智能客服应答")
    WAITING = "waiting", _("等待人工客服")
    LIVE = "live", _("人工客服接待中")
    CLOSED = "closed", _("已结束")


class Channel(models.TextChoices):
    WEB = "web", _("网站")
    MOBILE = "mobile", _("移动端")
    KIOSK = "kiosk", _("自助终端")
    API = "api", _("开放接口")


class SourceType(models.TextChoices):
    ITEM = "item", _("办事指南")
    BUNDLE = "bundle", _("一件事")
    KNOWLEDGE = "knowledge", _("知识库")


# Longest question accepted (characters); longer is refused as bad input, not cut.
QUESTION_MAX = 200
# Longest staff reply.
REPLY_MAX = 1000
# A conversation kept without consent lives this long after its last turn (the length of a visit).
UNKEPT_MINUTES = 120
# Choices offered when a question fits several items about equally.
MAX_CHOICES = 3
