"""What every hotline door checks the same way: field lengths, time limits per kind of order, clean text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from yiwang.hotline.constants import WorkOrderKind
from yiwang.hotline.models import TimeLimit
from yiwang.hotline.services.errors import HotlineError

SYSTEM_ACTOR_LABEL = gettext_noop("系统")
TITLE_MAX = 200
CONTENT_MAX = 5000
REASON_MAX = 2000

# An order reopened this often after unsatisfied callbacks goes to a supervisor instead.
MAX_REOPENS = 2

# Suggestions at least this confident dispatch without an operator. The calibrated confidence is right
# about 97 % of the time above 0.9 on held-out messages, but a message off every topic can still score
# high, so an operator sees everything below this line.
AUTO_DISPATCH_CONFIDENCE = 0.9

MAX_EXTENSION_DAYS = 30


@dataclass(frozen=True)
class Limits:
    acknowledge_days: int
    handle_days: int
    callback_days: int
    callback_required: bool


# Defaults when no TimeLimit row is configured (the admin's table overrides them): consultations and
# requests for help the next working day; complaints, reports and suggestions within 13 working days;
# rectification of a bad rating within 10 (the 好差评 rule); acknowledgement within 1 working day.
DEFAULT_LIMITS: dict[str, Limits] = {
    WorkOrderKind.CONSULT: Limits(1, 1, 2, False),
    WorkOrderKind.HELP: Limits(1, 1, 2, True),
    WorkOrderKind.COMPLAINT: Limits(1, 13, 2, True),
    WorkOrderKind.REPORT: Limits(1, 13, 2, True),
    WorkOrderKind.SUGGESTION: Limits(1, 13, 2, True),
    WorkOrderKind.RECTIFICATION: Limits(1, 10, 0, True),
    WorkOrderKind.GRID: Limits(1, 5, 2, True),
}


def limits_for(kind: str) -> Limits:
    row = TimeLimit.objects.filter(kind=kind).first()
    if row is not None:
        return Limits(row.acknowledge_days, row.handle_days, row.callback_days, row.callback_required)
    if kind == WorkOrderKind.RECTIFICATION:
        days = int(getattr(settings, "FEEDBACK_RECTIFICATION_DAYS", 10))
        return Limits(1, days, 0, True)
    return DEFAULT_LIMITS[kind]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: Any, *, field: str, label: str, max_length: int, required: bool = True) -> str:
    """Normalised text without control characters; refused when empty (if required) or too long."""
    text = unicodedata.normalize("NFC", str(value or ""))
    text = _CONTROL.sub("", text).strip()
    if required and not text:
        raise HotlineError("field_required", _("请填写%(label)s") % {"label": label}, field=field)
    if len(text) > max_length:
        raise HotlineError(
            "field_too_long",
            _("%(label)s不能超过%(max)s个字") % {"label": label, "max": max_length},
            field=field,
        )
    return text
