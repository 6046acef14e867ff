"""Forms of the case pages: they parse and check input; the rules of handling stay in services.py.

Each staff action has its own form, prefixed with the action's name so that
every form on the case page has ids of its own. ``params()`` turns a valid
form into the keyword arguments of :func:`yiwang.cases.services.perform`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from yiwang.accounts.constants import RevealPurpose
from yiwang.cases import definitions
from yiwang.cases.services import (
    CASE_REVEAL_PURPOSES,
    DEFAULT_CORRECTION_DAYS,
    MAX_CORRECTION_DAYS,
    MAX_EXTENSION_DAYS,
)
from yiwang.core.identifiers import DocumentType

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

REASON_MAX = 2000


def _reason(label: StrOrPromise, *, required: bool) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class ActionForm(forms.Form):
    """An action with an optional opinion; the version is the case's as the page showed it."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    reason = _reason(_("办理意见"), required=False)

    def params(self) -> dict[str, Any]:
        return {}


class ReasonRequiredForm(ActionForm):
    reason = _reason(_("理由"), required=True)


class LegalDecisionForm(ActionForm):
    """Reject and refuse: a reason and the legal basis, both printed on the decision."""

    reason = _reason(_("理由"), required=True)
    legal_basis = forms.CharField(label=_("法律依据"), max_length=500)

    def params(self) -> dict[str, Any]:
        return {"legal_basis": self.cleaned_data["legal_basis"]}


class ExtensionRequestForm(ActionForm):
    reason = _reason(_("延期理由"), required=True)
    days = forms.IntegerField(label=_("延长工作日"), min_value=1, max_value=MAX_EXTENSION_DAYS)

    def params(self) -> dict[str, Any]:
        return {"days": self.cleaned_data["days"]}


class ExtensionDecisionForm(ActionForm):
    decision = forms.ChoiceField(
        label=_("审批结果"), choices=(("approve", _("批准延期")), ("refuse", _("不批准"))), widget=forms.RadioSelect
    )

    def params(self) -> dict[str, Any]:
        return {"approve": self.cleaned_data["decision"] == "approve"}


class TransferForm(ActionForm):
    reason = _reason(_("移交理由"), required=True)
    department = forms.ChoiceField(label=_("接收部门"))

    def __init__(self, *args: Any, departments: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        department = self.fields["department"]
        assert isinstance(department, forms.ChoiceField)
        department.choices = [("", _("请选择部门")), *(departments or [])]

    def params(self) -> dict[str, Any]:
        return {"department": self.cleaned_data["department"]}


class CorrectionForm(ActionForm):
    """一次性告知: every material and field of the item is listed; tick each one to fix and say what is wrong."""

    reason = _reason(_("补正说明"), required=False)
    days = forms.IntegerField(
        label=_("补正期限（工作日）"), min_value=1, max_value=MAX_CORRECTION_DAYS, initial=DEFAULT_CORRECTION_DAYS
    )

    def __init__(
        self,
        *args: Any,
        materials: list[definitions.MaterialSpec] | None = None,
        fields: list[definitions.FormField] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[tuple[str, str, StrOrPromise]] = []  # (kind, key, label)
        for spec in materials or []:
            self.rows.append(("material", spec.key, spec.name))
        for form_field in fields or []:
            self.rows.append(("field", form_field.key, form_field.label))
        for kind, key, label in self.rows:
            self.fields[f"pick-{kind}-{key}"] = forms.BooleanField(label=label, required=False)
            self.fields[f"problem-{kind}-{key}"] = forms.CharField(
                label=_("“%(label)s”需要怎样补正") % {"label": label}, required=False, max_length=300
            )

    def checklist(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        """(kind, tick box, problem text) per row, for the template."""
        return [(kind, self[f"pick-{kind}-{key}"], self[f"problem-{kind}-{key}"]) for kind, key, _label in self.rows]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        picked = []
        for kind, key, _label in self.rows:
            problem = " ".join(str(data.get(f"problem-{kind}-{key}") or "").split())
            if data.get(f"pick-{kind}-{key}"):
                if len(problem) < 2:
                    self.add_error(f"problem-{kind}-{key}", _("请写明需要怎样补正"))
                picked.append({"kind": kind, "key": key, "problem": problem})
            elif problem:
                # A problem written down but not ticked is almost always meant: count it in.
                picked.append({"kind": kind, "key": key, "problem": problem})
        if not picked and not self.errors:
            raise forms.ValidationError(_("一次性告知须列出全部需要补正的材料或字段：请至少勾选一项并写明问题"))
        data["items"] = picked
        return data

    def params(self) -> dict[str, Any]:
        return {"items": self.cleaned_data["items"], "days": self.cleaned_data["days"]}


# The form of each staff action on the case page.
class ApproveForm(ActionForm):
    """准予: with the fee situation to choose when the applicant's answers leave the fee line open."""

    def __init__(self, *args: Any, fee_situations: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if fee_situations:
            self.fields["fee_situation"] = forms.ChoiceField(
                label=_("收费情形"),
                choices=[(s, s) for s in fee_situations],
                help_text=_("申请人未选择收费情形，请按法定情形确定；可选的收费项目只收其中一项"),
            )

    def params(self) -> dict[str, Any]:
        situation = self.cleaned_data.get("fee_situation")
        return {"fee_situation": situation} if situation else {}


ACTION_FORMS: dict[str, type[ActionForm]] = {
    "accept": ActionForm,
    "reject": LegalDecisionForm,
    "request_correction": CorrectionForm,
    "complete_task": ActionForm,
    "approve": ApproveForm,
    "refuse": LegalDecisionForm,
    "suspend": ReasonRequiredForm,
    "resume": ReasonRequiredForm,
    "request_extension": ExtensionRequestForm,
    "decide_extension": ExtensionDecisionForm,
    "transfer": TransferForm,
    "issue_certificate": ActionForm,
    "close": ActionForm,
}


class WithdrawForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    reason = _reason(_("撤回理由"), required=True)


class RevealApplicantForm(forms.Form):
    """查看完整信息 on the staff case page: what to see and why, the why chosen from a list."""

    which = forms.MultipleChoiceField(
        label=_("要查看的信息"),
        choices=[("mobile", _("手机号码")), ("document_number", _("证件号码")), ("name", _("姓名"))],
        widget=forms.CheckboxSelectMultiple,
    )
    purpose = forms.ChoiceField(
        label=_("查看用途"),
        choices=[(p.value, p.label) for p in RevealPurpose if p.value in CASE_REVEAL_PURPOSES],
    )


class LookupForm(forms.Form):
    number = forms.CharField(label=_("办件编号"), max_length=64)
    code = forms.CharField(label=_("查询码"), max_length=16)


class WorkbenchFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("办件状态"), required=False)
    deadline = forms.ChoiceField(
        label=_("期限"),
        required=False,
        choices=(
            ("", _("全部")),
            ("overdue", _("已超期")),
            ("due_soon", _("即将到期")),
            ("paused", _("计时暂停")),
        ),
    )
    number = forms.CharField(label=_("办件编号"), required=False, max_length=64)

    def __init__(self, *args: Any, states: list[tuple[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        state = self.fields["state"]
        assert isinstance(state, forms.ChoiceField)
        state.choices = [("", _("全部")), *(states or [])]


IDENTITY_CHECKS = (
    ("id_card_reader", _("身份证阅读器读取")),
    ("document_inspected", _("人工核验证件原件")),
    ("face_match", _("人脸比对")),
)


class CounterIdentityForm(forms.Form):
    document_type = forms.ChoiceField(label=_("证件类型"), choices=DocumentType.choices)
    document_number = forms.CharField(label=_("证件号码"), max_length=40)
    identity_checked_by = forms.ChoiceField(label=_("核验方式"), choices=IDENTITY_CHECKS, widget=forms.RadioSelect)


class CounterRegisterForm(CounterIdentityForm):
    """登记新办事人: the details of a walk-in read off the document the clerk has just checked."""

    # Shown on the same page as the identity form: its own ids and names.
    prefix = "register"

    name = forms.CharField(label=_("姓名"), max_length=64)
    mobile = forms.CharField(
        label=_("手机号码"),
        max_length=20,
        required=False,
        help_text=_("留下手机号，本人日后可用它在网上注册并关联本次登记"),
    )


class CounterItemForm(forms.Form):
    q = forms.CharField(label=_("事项名称或编码"), max_length=100, required=False)
