"""Code lists of ratings (好差评)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    """The five levels of the national 好差评 scheme; the last two are bad ratings."""

    VERY_SATISFIED = 5, _("非常满意")
    SATISFIED = 4, _("满意")
    BASICALLY_SATISFIED = 3, _("基本满意")
    UNSATISFIED = 2, _("不满意")
    VERY_UNSATISFIED = 1, _("非常不满意")


BAD_LEVELS = frozenset({Level.UNSATISFIED, Level.VERY_UNSATISFIED})


class ServiceMode(models.TextChoices):
    """How the service was given, which decides the dimensions asked about."""

    ONLINE = "online", _("网上办理")
    COUNTER = "counter", _("窗口办理")


class Dimension(models.TextChoices):
    EFFICIENCY = "efficiency", _("办事效率")
    GUIDE_ACCURACY = "guide_accuracy", _("办事指南准确性")
    CONVENIENCE = "convenience", _("办理便捷程度")
    EASE_OF_USE = "ease_of_use", _("系统易用性")
    COMPETENCE = "competence", _("业务能力")
    ATTITUDE = "attitude", _("服务态度")


DIMENSIONS: dict[str, tuple[str, ...]] = {
    ServiceMode.ONLINE: (Dimension.EFFICIENCY, Dimension.GUIDE_ACCURACY, Dimension.CONVENIENCE, Dimension.EASE_OF_USE),
    ServiceMode.COUNTER: (Dimension.EFFICIENCY, Dimension.COMPETENCE, Dimension.ATTITUDE),
}


class RatingChannel(models.TextChoices):
    """The door the rating came in by."""

    WEB = "web", _("网站办件页")
    MOBILE = "mobile", _("移动端")
    SMS = "sms", _("短信链接")
    QR = "qr", _("窗口二维码")
    KIOSK = "kiosk", _("自助终端")
    HOTLINE = "hotline", _("12345热线代评")
    PAD = "pad", _("窗口评价器")


class RatingStatus(models.TextChoices):
    COUNTED = "counted", _("有效")
    SUSPECT = "suspect", _("待核查")
    EXCLUDED = "excluded", _("已剔除")


class AppealStatus(models.TextChoices):
    PENDING = "pending", _("待裁定")
    UPHELD = "upheld", _("申诉成立")
    DISMISSED = "dismissed", _("申诉不成立")
