"""Answers built from the catalogue: an aspect of one item's guide, or of a bundle, quoted, never invented.

Each function returns the answer's text (plain Chinese, one point a line) or
``None`` when the guide does not state that aspect (an imported guide may
leave facts unknown); the dialogue then declines rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from yiwang.assistant.constants import Aspect
from yiwang.catalog import selectors as catalog_selectors
from yiwang.catalog.constants import GuideFact, MaterialRequirement, MaterialSource, OnlineDepth

if TYPE_CHECKING:
    from yiwang.catalog.models import ServiceItem

# Materials listed in an answer; the guide page has the rest.
MAX_MATERIALS = 12


@dataclass(frozen=True)
class Source:
    """Where an answer comes from: ``type`` is item, bundle or knowledge."""

    type: str
    name: str
    url: str
    code: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "name": self.name, "url": self.url, "code": self.code}


# Punctuation between parts of an answer follows the language (、 and ；in Chinese, commas in English).
def _enumeration() -> str:
    return pgettext("enumeration separator", "、")


def _separator() -> str:
    return pgettext("list separator", "；")


def _clause_separator() -> str:
    return pgettext("clause separator", "，")


def _amount(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:.2f}"


def _materials(item: ServiceItem) -> str | None:
    if GuideFact.MATERIALS in (item.unknown_facts or []):
        return None
    materials = sorted(item.materials.all(), key=lambda m: (m.order, m.id))
    if not materials:
        return _("办理“%(name)s”无需提交申请材料。") % {"name": item.name}
    lines = [_("办理“%(name)s”需要准备以下材料：") % {"name": item.name}]
    for number, material in enumerate(materials[:MAX_MATERIALS], start=1):
        detail = [
            ngettext("%(form)s%(count)d份", "%(form)s%(count)d份", material.copies)
            % {"form": material.get_form_display(), "count": material.copies}
        ]
        if material.requirement == MaterialRequirement.CONDITIONAL and material.condition:
            detail.append(material.condition)
        elif material.requirement == MaterialRequirement.OPTIONAL:
            detail.append(_("可容缺后补"))
        if material.source in (MaterialSource.E_LICENCE, MaterialSource.SHARED_DATA):
            detail.append(str(material.get_source_display()))
        elif material.source == MaterialSource.ISSUED_BY_DEPARTMENT:
            detail.append(_("由窗口出具"))
        lines.append(
            _("%(number)d. %(name)s（%(detail)s）")
            % {"number": number, "name": material.name, "detail": _separator().join(detail)}
        )
    if len(materials) > MAX_MATERIALS:
        count = len(materials)
        lines.append(
            ngettext("……共%(count)d项，完整清单见办事指南。", "……共%(count)d项，完整清单见办事指南。", count)
            % {"count": count}
        )
    return "\n".join(lines)


def _fees(item: ServiceItem) -> str | None:
    if GuideFact.FEES in (item.unknown_facts or []):
        return None
    fees = list(item.fees.all())
    if not item.charges_fee or not fees:
        return _("办理“%(name)s”不收费。") % {"name": item.name}
    lines = [_("办理“%(name)s”的收费标准：") % {"name": item.name}]
    for fee in fees:
        # Outside the f-string: xgettext 0.21 (makemessages) does not look into f-string expressions.
        unit = fee.unit or _("元")
        line = _("· %(name)s：%(amount)s%(unit)s") % {"name": fee.name, "amount": _amount(fee.amount), "unit": unit}
        if fee.situation:
            line += _("（%(situation)s）") % {"situation": fee.situation}
        lines.append(line)
    if len(catalog_selectors.fee_situations(item)) > 1:
        lines.append(_("以上按情形择一收取。"))
    return "\n".join(lines)


def _time(item: ServiceItem) -> str | None:
    if GuideFact.TIME_LIMITS in (item.unknown_facts or []):
        return None
    parts = []
    if item.promised_days is not None:
        if item.promised_days == 0:
            parts.append(_("承诺即办（当场办结）"))
        else:
            days = item.promised_days
            parts.append(ngettext("承诺%(days)d个工作日内办结", "承诺%(days)d个工作日内办结", days) % {"days": days})
    if item.statutory_days:
        days = item.statutory_days
        parts.append(ngettext("法定时限%(days)d个工作日", "法定时限%(days)d个工作日", days) % {"days": days})
    if not parts and not item.time_limit_note:
        return None
    text = (
        _("“%(name)s”：%(limits)s。") % {"name": item.name, "limits": _clause_separator().join(parts)} if parts else ""
    )
    if item.time_limit_note:
        text = (text + "\n" if text else "") + item.time_limit_note
    return text


def _place(item: ServiceItem) -> str | None:
    windows = list(item.windows.all())
    lines = [_("“%(name)s”由%(department)s办理。") % {"name": item.name, "department": item.department.name}]
    if windows:
        lines.append(_("可到以下窗口办理："))
        for window in windows:
            line = _("· %(name)s：%(address)s；%(hours)s") % {
                "name": window.name,
                "address": window.address,
                "hours": window.office_hours,
            }
            if window.phone:
                line += _("；电话 %(phone)s") % {"phone": window.phone}
            lines.append(line)
    if item.consult_phone:
        lines.append(_("咨询电话：%(phone)s") % {"phone": item.consult_phone})
    return "\n".join(lines)


def _conditions(item: ServiceItem) -> str | None:
    if not item.conditions:
        return None
    return _("“%(name)s”的受理条件：%(conditions)s") % {"name": item.name, "conditions": item.conditions}


def _online(item: ServiceItem) -> str | None:
    depth = OnlineDepth(item.online_depth).label if item.online_depth in OnlineDepth.values else ""
    channels = _enumeration().join(str(label) for value, label in _channel_labels() if value in (item.channels or []))
    lines = [_("“%(name)s”的办理深度：%(depth)s。") % {"name": item.name, "depth": depth}]
    if channels:
        lines.append(_("办理渠道：%(channels)s。") % {"channels": channels})
    if item.visits_required == 0:
        lines.append(_("全程网上办理，无需到现场。"))
    else:
        visits = item.visits_required
        lines.append(ngettext("需到现场%(count)d次。", "需到现场%(count)d次。", visits) % {"count": visits})
    return "\n".join(lines)


def _channel_labels() -> list[tuple[str, Any]]:
    from yiwang.catalog.constants import Channel

    return list(Channel.choices)


def _overview(item: ServiceItem) -> str:
    lines = [_("“%(name)s”（%(department)s）。") % {"name": item.name, "department": item.department.name}]
    if item.summary:
        lines.append(item.summary)
    lines.append(_("您可以继续问：要带什么材料、收不收费、要多久、在哪里办、有什么条件、能不能网上办。"))
    return "\n".join(lines)


ASPECT_ANSWERS = {
    Aspect.MATERIALS: _materials,
    Aspect.FEES: _fees,
    Aspect.TIME: _time,
    Aspect.PLACE: _place,
    Aspect.CONDITIONS: _conditions,
    Aspect.ONLINE: _online,
}


def item_answer(code: str, aspect: str | None) -> tuple[str | None, Source]:
    """The answer about ``aspect`` (None: an overview) of the published item ``code``, and its source."""
    from django.urls import reverse

    item = catalog_selectors.published_item(code)
    source = Source("item", item.name, reverse("catalog:item", args=[code]), code)
    if aspect is None:
        return _overview(item), source
    return ASPECT_ANSWERS[Aspect(aspect)](item), source


def bundle_answer(code: str, aspect: str | None) -> tuple[str | None, Source]:
    """The answer about a bundle (一件事): its items and combined materials, or its time limit."""
    from django.urls import reverse

    view = catalog_selectors.get_bundle(code)
    bundle = view.bundle
    source = Source("bundle", bundle.name, reverse("catalog:bundle", args=[code]), code)
    names = _enumeration().join(member.item.name for member in view.members)
    if aspect == Aspect.MATERIALS:
        lines = [_("“%(name)s”合并后需要准备的材料：") % {"name": bundle.name}]
        for number, combined in enumerate(view.materials[:MAX_MATERIALS], start=1):
            lines.append(
                _("%(number)d. %(name)s（%(detail)s）")
                % {"number": number, "name": combined.material.name, "detail": _enumeration().join(combined.item_names)}
            )
        return "\n".join(lines), source
    if aspect == Aspect.TIME and bundle.promised_days is not None:
        days = bundle.promised_days
        text = ngettext("“%(name)s”承诺%(days)d个工作日内办结。", "“%(name)s”承诺%(days)d个工作日内办结。", days)
        return text % {"name": bundle.name, "days": days}, source
    if aspect == Aspect.PLACE:
        departments = _enumeration().join(department.name for department in view.departments)
        return _("“%(name)s”涉及的部门：%(departments)s。各事项的办理地点见对应的办事指南。") % {
            "name": bundle.name,
            "departments": departments,
        }, source
    text = _("“%(name)s”把这些事项合在一起办：%(items)s。") % {"name": bundle.name, "items": names}
    if bundle.summary:
        text += "\n" + bundle.summary
    if aspect is not None:
        text += "\n" + _("各事项的具体要求请看对应的办事指南，或告诉我您想问哪一项。")
    return text, source
