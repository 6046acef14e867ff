"""How a case's decision is named, by the kind of item decided (事项类型).

Only 行政许可 items end in a 准予/不予行政许可决定书; a 行政确认 confirms, a
行政给付 pays, a public service is simply done. The transition table keeps one
``approve`` and one ``refuse`` action; their buttons and documents take their
words from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from yiwang.catalog.constants import ItemKind

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class DecisionWording:
    approve_label: StrOrPromise  # the approver's button
    refuse_label: StrOrPromise
    document: StrOrPromise  # the document in the case's list of documents
    approved_title: StrOrPromise
    refused_title: StrOrPromise
    approved_phrase: StrOrPromise  # "经审查，……，决定{phrase}。"
    refused_phrase: StrOrPromise


LICENSING = DecisionWording(
    approve_label=pgettext_lazy("action", "准予许可"),
    refuse_label=pgettext_lazy("action", "不予许可"),
    document=_("行政许可决定书"),
    approved_title=_("准予行政许可决定书"),
    refused_title=_("不予行政许可决定书"),
    approved_phrase=_("准予许可"),
    refused_phrase=_("不予许可"),
)
CONFIRMATION = DecisionWording(
    approve_label=pgettext_lazy("action", "予以确认"),
    refuse_label=pgettext_lazy("action", "不予确认"),
    document=_("行政确认决定书"),
    approved_title=_("予以确认决定书"),
    refused_title=_("不予确认决定书"),
    approved_phrase=_("予以确认"),
    refused_phrase=_("不予确认"),
)
PAYMENT = DecisionWording(
    approve_label=pgettext_lazy("action", "准予给付"),
    refuse_label=pgettext_lazy("action", "不予给付"),
    document=_("行政给付决定书"),
    approved_title=_("准予给付决定书"),
    refused_title=_("不予给付决定书"),
    approved_phrase=_("准予给付"),
    refused_phrase=_("不予给付"),
)
REWARD = DecisionWording(
    approve_label=pgettext_lazy("action", "予以奖励"),
    refuse_label=pgettext_lazy("action", "不予奖励"),
    document=_("行政奖励决定书"),
    approved_title=_("行政奖励决定书"),
    refused_title=_("不予奖励决定书"),
    approved_phrase=_("予以奖励"),
    refused_phrase=_("不予奖励"),
)
# Public services and every other kind: a result notice, not an administrative decision.
SERVICE = DecisionWording(
    approve_label=pgettext_lazy("action", "同意办理"),
    refuse_label=pgettext_lazy("action", "不予办理"),
    document=_("办理结果通知书"),
    approved_title=_("办理结果通知书"),
    refused_title=_("不予办理通知书"),
    approved_phrase=_("予以办理"),
    refused_phrase=_("不予办理"),
)

_BY_KIND = {
    ItemKind.LICENSING: LICENSING,
    ItemKind.CONFIRMATION: CONFIRMATION,
    ItemKind.PAYMENT: PAYMENT,
    ItemKind.REWARD: REWARD,
}


def decision_wording(kind: str) -> DecisionWording:
    """The words of a decision on an item of ``kind`` (an :class:`ItemKind` value)."""
    return _BY_KIND.get(kind, SERVICE)  # type: ignore[call-overload]
