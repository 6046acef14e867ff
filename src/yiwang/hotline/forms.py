"""Forms of the hotline pages: they parse and check input; the rules of work orders stay in services.py.

Each action on the order page has its own form, prefixed with the action's
name so that every form on the page has ids of its own; ``params()`` turns a
valid form into the keyword arguments of :func:`yiwang.hotline.services.perform`.
Every action form carries the order's version as the page showed it
(optimistic concurrency).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from yiwang.accounts.constants import RevealPurpose
from yiwang.hotline.constants import Satisfaction, WorkOrderKind
from yiwang.hotline.services import (
    CONTENT_MAX,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_EXTENSION_DAYS,
    ORDER_REVEAL_PURPOSES,
    REASON_MAX,
    TITLE_MAX,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

LOCATION_MAX = 200
CALLER_NAME_MAX = 64
PHONE_MAX = 20
# The kinds a person may file; rectification and grid orders are opened by the platform.
FILED_KINDS = [
    (kind.value, kind.label) for kind in WorkOrderKind if kind not in {WorkOrderKind.RECTIFICATION, WorkOrderKind.GRID}
]
# What people report on the grid map (网格事件分类).
GRID_CATEGORIES = [
    ("市政设施", _("市政设施（井盖、路灯、道路破损）")),
    ("环境卫生", _("环境卫生（垃圾、污水、异味）")),
    ("市容秩序", _("市容秩序（占道经营、乱堆乱放）")),
    ("安全隐患", _("安全隐患（危房、消防通道堵塞）")),
    ("园林绿化", _("园林绿化（树木倒伏、绿地损毁）")),
    ("其他", _("其他")),
]


def _text(
    label: StrOrPromise, *, max_length: int, required: bool = True, rows: int = 4, help_text: StrOrPromise = ""
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


# What the file picker offers; the service decides by content, whatever the browser sends.
ATTACHMENT_ACCEPT = "image/jpeg,image/png,application/pdf"


def _attachment_hint() -> str:
    return gettext(
        "照片（JPG、PNG）或 PDF 文件，最多%(count)s个，每个不超过%(size)s MB。"
        "提交未成功时，请重新选择附件（浏览器不会保留已选的文件）。"
    ) % {"count": MAX_ATTACHMENTS, "size": MAX_ATTACHMENT_BYTES // (1024 * 1024)}


# Translated when shown, in the language of the request.
ATTACHMENT_HINT = lazy(_attachment_hint, str)()


class AttachmentsField(forms.FileField):
    """Several files in one input; a list (maybe empty) of uploads. The checks are the service's, by content."""

    def __init__(self, *, label: StrOrPromise, help_text: StrOrPromise = "") -> None:
        super().__init__(
            label=label,
            required=False,
            # An empty file is refused by the service, with the file's name in the message.
            allow_empty_file=True,
            widget=MultipleFileInput(attrs={"accept": ATTACHMENT_ACCEPT}),
            help_text=help_text or ATTACHMENT_HINT,
        )

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        items = data if isinstance(data, list | tuple) else [data]
        return [super(AttachmentsField, self).clean(item, initial) for item in items if item]


def _coordinate(label: StrOrPromise, *, limit: int, required: bool) -> forms.DecimalField:
    # No decimal_places limit: a point picked on the map or typed with more digits is rounded by the service.
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=-limit,
        max_value=limit,
        max_digits=16,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


class WorkOrderForm(forms.Form):
    """File a work order on the web (the person is signed in and is the caller)."""

    kind = forms.ChoiceField(label=_("诉求类型"), choices=FILED_KINDS, widget=forms.RadioSelect)
    title = forms.CharField(
        label=_("标题"), max_length=TITLE_MAX, help_text=_("一句话说明什么事，例如：小区门口路灯不亮")
    )
    content = _text(
        _("诉求内容"),
        max_length=CONTENT_MAX,
        rows=6,
        help_text=_("时间、地点、经过和诉求；不要填写身份证号等与诉求无关的个人信息。"),
    )
    location = forms.CharField(
        label=_("地点"),
        max_length=LOCATION_MAX,
        required=False,
        help_text=_("事情发生的地点，如街道、小区、门牌号"),
    )
    anonymous = forms.BooleanField(
        label=_("匿名举报（只有举报可以匿名）"),
        required=False,
        help_text=_("匿名举报时，承办部门看不到举报人的姓名和联系方式。"),
    )
    attachments = AttachmentsField(label=_("附件（现场照片、相关材料）"))

    def register_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "title": data["title"],
            "content": data["content"],
            "location_text": data["location"],
            "attachments": data["attachments"],
        }


class IntakeForm(WorkOrderForm):
    """A call the operator takes (电话受理): the caller's name and phone, and where, if they say."""

    caller_name = forms.CharField(label=_("来电人姓名"), max_length=CALLER_NAME_MAX, required=False)
    phone = forms.CharField(
        label=_("联系电话"),
        max_length=PHONE_MAX,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
        help_text=_("用于答复和回访；只显示部分号码，原号码加密保存。匿名举报可不填。"),
    )
    longitude = _coordinate(_("经度"), limit=180, required=False)
    latitude = _coordinate(_("纬度"), limit=90, required=False)

    def register_arguments(self) -> dict[str, Any]:
        return {
            **super().register_arguments(),
            "longitude": self.cleaned_data["longitude"],
            "latitude": self.cleaned_data["latitude"],
        }


class GridReportForm(forms.Form):
    """网格上报: a problem at a point of the map."""

    category = forms.ChoiceField(label=_("问题类别"), choices=[("", _("请选择")), *GRID_CATEGORIES])
    title = forms.CharField(label=_("标题"), max_length=TITLE_MAX)
    content = _text(_("问题描述"), max_length=CONTENT_MAX, rows=5, help_text=_("问题的情况、持续了多久、有无安全隐患"))
    location = forms.CharField(
        label=_("地点说明"), max_length=LOCATION_MAX, required=False, help_text=_("如：幸福小学门口人行道")
    )
    longitude = _coordinate(_("经度"), limit=180, required=True)
    latitude = _coordinate(_("纬度"), limit=90, required=True)
    attachments = AttachmentsField(label=_("现场照片"))


class TrackForm(forms.Form):
    number = forms.CharField(label=_("工单编号"), max_length=32, help_text=_("例如：12345-20250101-000001"))
    code = forms.CharField(label=_("查询码"), max_length=8, help_text=_("登记时告知或短信发送的6位字母和数字"))


class OpenOrderForm(forms.Form):
    number = forms.CharField(
        label=_("工单编号"), max_length=32, required=False, help_text=_("来电人询问已有工单时，按编号打开")
    )


# --- actions on one order ------------------------------------------------------------------------


class RevealCallerForm(forms.Form):
    """查看完整号码 beside the caller on the desk page, for a 回访 or a clarifying call; the why from a list."""

    purpose = forms.ChoiceField(
        label=_("查看用途"),
        choices=[(p.value, p.label) for p in RevealPurpose if p.value in ORDER_REVEAL_PURPOSES],
    )


class ActionForm(forms.Form):
    """An action with an optional note; ``expected_version`` is the order's version as the page showed it."""

    expected_version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    reason = _text(_("说明"), max_length=REASON_MAX, required=False, rows=2)

    def params(self) -> dict[str, Any]:
        return {}


class ReasonForm(ActionForm):
    reason = _text(_("理由"), max_length=REASON_MAX, rows=3)


class SendBackForm(ActionForm):
    reason = _text(_("退回理由（说明为何不属于本部门职责）"), max_length=REASON_MAX, rows=3)


class SuperviseForm(ActionForm):
    reason = _text(_("督办意见"), max_length=REASON_MAX, rows=3)


class _DepartmentsMixin(forms.Form):
    department = forms.ChoiceField(label=_("主办部门"))
    assisting = forms.MultipleChoiceField(
        label=_("协办部门（联合办理时选择）"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, departments: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        department = self.fields["department"]
        assisting = self.fields["assisting"]
        assert isinstance(department, forms.ChoiceField) and isinstance(assisting, forms.MultipleChoiceField)
        department.choices = [("", _("请选择部门")), *departments]
        assisting.choices = list(departments)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("department") and data.get("department") in (data.get("assisting") or []):
            self.add_error("assisting", _("主办部门不能同时作为协办部门"))
        return data


class DispatchForm(_DepartmentsMixin, ActionForm):
    category = forms.ChoiceField(label=_("分类"), required=False)
    reason = _text(_("派单说明"), max_length=REASON_MAX, required=False, rows=2)
    field_order = ["department", "category", "assisting", "reason"]

    def __init__(self, *args: Any, categories: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        category = self.fields["category"]
        assert isinstance(category, forms.ChoiceField)
        category.choices = [("", _("不分类")), *((name, f"{name}（{owner}）") for name, owner in categories)]

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"department": data["department"], "category": data["category"], "assisting": list(data["assisting"])}


class TransferForm(_DepartmentsMixin, ActionForm):
    reason = _text(_("转办理由"), max_length=REASON_MAX, rows=3)
    field_order = ["department", "assisting", "reason"]

    def params(self) -> dict[str, Any]:
        return {"department": self.cleaned_data["department"], "assisting": list(self.cleaned_data["assisting"])}


class AnswerForm(ActionForm):
    """直接答复: a consultation answered at once, with where the answer comes from."""

    answer = _text(_("答复内容"), max_length=CONTENT_MAX, rows=5)
    source = forms.CharField(label=_("答复依据（办事指南或以往答复）"), max_length=200)
    field_order = ["answer", "source", "reason"]

    def params(self) -> dict[str, Any]:
        return {"answer": self.cleaned_data["answer"], "source": self.cleaned_data["source"]}


class MergeForm(ActionForm):
    into = forms.CharField(label=_("合并到工单（编号）"), max_length=32)
    field_order = ["into", "reason"]

    def params(self) -> dict[str, Any]:
        return {"into": self.cleaned_data["into"].strip()}


class ContributeForm(ActionForm):
    opinion = _text(_("协办意见"), max_length=CONTENT_MAX, rows=4)
    field_order = ["opinion", "reason"]

    def params(self) -> dict[str, Any]:
        return {"opinion": self.cleaned_data["opinion"]}


class ReplyForm(ActionForm):
    reply = _text(_("答复意见（将告知来电人）"), max_length=CONTENT_MAX, rows=6)
    attachments = AttachmentsField(label=_("答复附件（整改后照片、书面答复等）"))
    field_order = ["reply", "attachments", "reason"]

    def params(self) -> dict[str, Any]:
        return {"reply": self.cleaned_data["reply"], "attachments": self.cleaned_data["attachments"]}


class ExtensionRequestForm(ActionForm):
    days = forms.IntegerField(label=_("延长工作日"), min_value=1, max_value=MAX_EXTENSION_DAYS)
    reason = _text(_("延期理由"), max_length=REASON_MAX, rows=3)

    def params(self) -> dict[str, Any]:
        return {"days": self.cleaned_data["days"]}


class ExtensionDecisionForm(ActionForm):
    decision = forms.ChoiceField(
        label=_("审批结果"), choices=(("approve", _("批准延期")), ("refuse", _("不批准"))), widget=forms.RadioSelect
    )
    field_order = ["decision", "reason"]

    def params(self) -> dict[str, Any]:
        return {"approve": self.cleaned_data["decision"] == "approve"}


class CallbackForm(ActionForm):
    satisfaction = forms.ChoiceField(label=_("回访评价"), choices=Satisfaction.choices, widget=forms.RadioSelect)
    note = _text(_("回访记录"), max_length=REASON_MAX, rows=3)
    field_order = ["satisfaction", "note", "reason"]

    def params(self) -> dict[str, Any]:
        return {"satisfaction": self.cleaned_data["satisfaction"], "note": self.cleaned_data["note"]}


class ConfirmForm(ActionForm):
    """The rater's word on a rectification: resolved, or handle it again."""

    resolved = forms.ChoiceField(
        label=_("问题是否已解决"),
        choices=(("yes", _("已解决")), ("no", _("未解决，请重新办理"))),
        widget=forms.RadioSelect,
    )
    reason = _text(_("补充说明"), max_length=REASON_MAX, required=False, rows=3)

    def params(self) -> dict[str, Any]:
        return {"resolved": self.cleaned_data["resolved"] == "yes"}


# The form of each action a person can take on the order page (escalate is the deadline job's alone).
ACTION_FORMS: dict[str, type[ActionForm]] = {
    "dispatch": DispatchForm,
    "answer": AnswerForm,
    "merge": MergeForm,
    "acknowledge": ActionForm,
    "send_back": SendBackForm,
    "transfer": TransferForm,
    "contribute": ContributeForm,
    "request_extension": ExtensionRequestForm,
    "decide_extension": ExtensionDecisionForm,
    "record_callback": CallbackForm,
    "reply": ReplyForm,
    "return_reply": ReasonForm,
    "close": ActionForm,
    "confirm": ConfirmForm,
    "supervise": SuperviseForm,
}
