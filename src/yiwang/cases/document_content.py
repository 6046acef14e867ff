"""What a printed case document says, as plain data: one source for the HTML print view and the sealed PDF.

:func:`document_content` turns a case's document (受理回执, 不予受理决定书,
补正告知书, the decision) into a JSON-able record: title, issuer, case,
applicant, date, and ``blocks`` — paragraphs (``["p", text]``), headings
(``["h", text]``), label/value rows (``["rows", [[label, value], …]]``) and
tables (``["table", {"head": […], "rows": [[…], …]}]``). The print page
renders these blocks and the licences app seals the same record and draws
its PDF from it, so the printed page and the PDF cannot say different things.
Dates and times are Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from yiwang.cases.constants import Channel
from yiwang.cases.models import Case, CorrectionNotice
from yiwang.cases.page_data import documents
from yiwang.core import calendar

CONTENT_FORMAT = "yiwang-case-document/1"

Block = list[Any]


def _day(value: dt.date) -> str:
    return dateformat.format(value, pgettext("date format", "Y年n月j日"))


def _moment(value: dt.datetime | None) -> str:
    return timezone.localtime(value, calendar.SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


def _submitted_phrase(case: Case) -> dict[str, str]:
    submitted = timezone.localtime(case.submitted_at, calendar.SHANGHAI).date()
    return {"date": _day(submitted), "item": case.item_name}


def _receipt(case: Case, view: documents.DocumentView) -> list[Block]:
    promised = _("受理后确定")
    if case.promised_due:
        promised = case.promised_due.isoformat()
        if case.due_provisional and not calendar.is_known_year(case.promised_due.year):
            promised += _("（期限待确认）")
    rows = [
        [_("办件编号"), case.number],
        [_("事项名称"), case.item_name],
        [_("受理部门"), case.department.name],
        [_("申请人"), view.applicant],
        [_("办理渠道"), str(Channel(case.channel).label) if case.channel in Channel.values else case.channel],
        [_("收件时间"), _moment(case.submitted_at)],
        [_("受理时间"), _moment(case.accepted_at) if case.accepted_at else _("尚未受理（受理后期限开始计算）")],
        [_("承诺办结期限"), promised],
        [_("查询码"), case.verification_code],
    ]
    materials = [
        [str(index), material.name, "、".join(f.original_name for f in material.files)]
        for index, material in enumerate(view.materials, start=1)
    ]
    blocks: list[Block] = [
        ["rows", rows],
        ["h", _("收到的申请材料")],
        ["table", {"head": [_("序号"), _("材料名称"), _("文件")], "rows": materials or [["—", _("无"), "—"]]}],
    ]
    if view.waived:
        names = _("、").join(view.waived)
        blocks.append(["p", _("以下材料通过电子证照或数据共享获取，申请人无需提交：%(names)s。") % {"names": names}])
    blocks.append(["p", _("请妥善保管本回执。办理结果和需要您办理的事项将通过站内消息和短信通知。")])
    return blocks


def _correction(case: Case, notice: CorrectionNotice, applicant: str) -> list[Block]:
    rows = [
        [
            str(index),
            entry.get("label", ""),
            _("材料") if entry.get("kind") == "material" else _("申请信息"),
            entry.get("problem", ""),
        ]
        for index, entry in enumerate(notice.items, start=1)
    ]
    blocks: list[Block] = [
        ["p", _("%(applicant)s：") % {"applicant": applicant}],
        [
            "p",
            _(
                "你（单位）于%(date)s提出的“%(item)s”申请，申请材料不齐全或者不符合法定形式。"
                "现一次性告知需要补正的全部内容如下："
            )
            % _submitted_phrase(case),
        ],
        ["table", {"head": [_("序号"), _("补正内容"), _("类别"), _("补正要求")], "rows": rows}],
    ]
    if notice.due:
        blocks.append(
            [
                "p",
                _("请于%(due)s前一次性补正上述全部内容。补正期间不计入办理时限；逾期未补正的，视为放弃申请。")
                % {"due": _day(notice.due)},
            ]
        )
    return blocks


def _refusal_reasons(view: documents.DocumentView) -> list[Block]:
    reason = view.event.reason if view.event is not None else ""
    return [
        ["p", _("理由：%(reason)s") % {"reason": reason}],
        ["p", _("依据：%(basis)s") % {"basis": view.legal_basis}],
        [
            "p",
            _(
                "如不服本决定，可以自收到本决定书之日起六十日内依法申请行政复议，"
                "或者在六个月内依法向人民法院提起行政诉讼。"
            ),
        ],
    ]


def _rejection(case: Case, view: documents.DocumentView) -> list[Block]:
    return [
        ["p", _("%(applicant)s：") % {"applicant": view.applicant}],
        ["p", _("你（单位）于%(date)s提出的“%(item)s”申请，经审查，决定不予受理。") % _submitted_phrase(case)],
        *_refusal_reasons(view),
    ]


def _decision(case: Case, view: documents.DocumentView, licences: list[str]) -> list[Block]:
    blocks: list[Block] = [["p", _("%(applicant)s：") % {"applicant": view.applicant}]]
    if not view.approved:
        phrase = {**_submitted_phrase(case), "phrase": str(view.wording.refused_phrase)}
        blocks.append(["p", _("你（单位）于%(date)s提出的“%(item)s”申请，经审查，决定%(phrase)s。") % phrase])
        return blocks + _refusal_reasons(view)
    phrase = {**_submitted_phrase(case), "phrase": str(view.wording.approved_phrase)}
    blocks.append(
        ["p", _("你（单位）于%(date)s提出的“%(item)s”申请，经审查，符合法定条件、标准，决定%(phrase)s。") % phrase]
    )
    if case.item.result_name:
        blocks.append(["p", _("本机关将依法向你（单位）颁发%(result)s。") % {"result": case.item.result_name}])
    if view.event is not None and view.event.reason:
        blocks.append(["p", _("审批意见：%(reason)s") % {"reason": view.event.reason}])
    if licences:
        blocks.append(["p", _("电子证照：%(ids)s") % {"ids": _("；").join(licences)}])
    return blocks


def document_content(
    case: Case,
    kind: str,
    *,
    applicant: str,
    sequence: int | None = None,
    licences: list[str] | None = None,
) -> dict[str, Any]:
    """The content of the case's document ``kind``, naming the applicant as ``applicant`` (full or masked).

    ``sequence`` picks the n-th 补正告知书 (default: the latest); ``licences``
    lists the identifiers of the licences a decision issued. Text is in the
    active language (the sealer calls it under the source language). 404
    (``Http404``) when the case has no such document (yet).
    """
    view = documents.document_view(case, kind)
    view.applicant = applicant
    number = 1
    if kind == "correction":
        notices = list(CorrectionNotice.objects.filter(case=case).order_by("id"))
        number = len(notices) if sequence is None else sequence
        if not 1 <= number <= len(notices):
            raise Http404(_("该办件没有这份文书"))
        notice = notices[number - 1]
        view.issued_on = timezone.localdate(notice.created_at, calendar.SHANGHAI)
        blocks = _correction(case, notice, applicant)
    elif kind == "receipt":
        blocks = _receipt(case, view)
    elif kind == "rejection":
        blocks = _rejection(case, view)
    else:
        blocks = _decision(case, view, licences or [])
    return {
        "format": CONTENT_FORMAT,
        "kind": kind,
        "sequence": number,
        "title": view.title,
        "case": case.number,
        "item": case.item_name,
        "issuer": case.department.name,
        "issuer_code": case.department.credit_code or "",
        "applicant": applicant,
        "date": view.issued_on.isoformat(),
        "blocks": blocks,
    }
