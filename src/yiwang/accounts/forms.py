"""Forms of the identity pages; business rules stay in services.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from yiwang.core.api_access import API_SCOPES
from yiwang.core.identifiers import DocumentType

from .constants import Relationship, Role


class LoginForm(forms.Form):
    identifier = forms.CharField(label=_("手机号、身份证号或工号"), max_length=64)
    password = forms.CharField(label=_("密码"), max_length=128, widget=forms.PasswordInput)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("验证码"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class MobileForm(forms.Form):
    mobile = forms.CharField(
        label=_("手机号码"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"})
    )


class SmsLoginForm(MobileForm):
    code = forms.CharField(
        label=_("短信验证码"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class RegisterForm(forms.Form):
    mobile = forms.CharField(label=_("手机号码"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel"}))
    code = forms.CharField(label=_("短信验证码"), max_length=20)
    name = forms.CharField(label=_("姓名"), max_length=64)
    document_type = forms.ChoiceField(label=_("证件类型"), choices=DocumentType.choices)
    document_number = forms.CharField(label=_("证件号码"), max_length=40)
    password = forms.CharField(label=_("设置密码"), max_length=128, widget=forms.PasswordInput)
    password_again = forms.CharField(label=_("再次输入密码"), max_length=128, widget=forms.PasswordInput)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("两次输入的密码不一致"))
        return data


class DelegationForm(forms.Form):
    agent_document_type = forms.ChoiceField(label=_("被授权人证件类型"), choices=DocumentType.choices)
    agent_document_number = forms.CharField(label=_("被授权人证件号码"), max_length=40)
    relationship = forms.ChoiceField(label=_("与您的关系"), choices=Relationship.choices)
    valid_until = forms.DateField(label=_("有效期至"), widget=forms.DateInput(attrs={"type": "date"}))
    scope = forms.MultipleChoiceField(
        label=_("授权办理的事项（可多选；不选表示全部事项）"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, items: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = items or []  # type: ignore[attr-defined]


class OrganisationForm(forms.Form):
    name = forms.CharField(label=_("法人名称"), max_length=200)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=18)


class AgentForm(forms.Form):
    agent_document_type = forms.ChoiceField(label=_("经办人证件类型"), choices=DocumentType.choices)
    agent_document_number = forms.CharField(label=_("经办人证件号码"), max_length=40)
    valid_until = forms.DateField(label=_("有效期至"), widget=forms.DateInput(attrs={"type": "date"}))
    scope = forms.MultipleChoiceField(
        label=_("授权办理的事项（可多选；不选表示全部事项）"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, items: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = items or []  # type: ignore[attr-defined]


class StaffForm(forms.Form):
    username = forms.CharField(label=_("工号"), max_length=64)
    display_name = forms.CharField(label=_("姓名"), max_length=64)
    department = forms.CharField(label=_("部门代码"), max_length=32)
    role = forms.ChoiceField(label=_("角色"), choices=[(r.value, r.label) for r in Role if r != Role.APPLICANT])
    password = forms.CharField(label=_("初始密码"), max_length=128, widget=forms.PasswordInput)


class GrantRoleForm(forms.Form):
    department = forms.CharField(label=_("部门代码"), max_length=32)
    role = forms.ChoiceField(label=_("角色"), choices=[(r.value, r.label) for r in Role if r != Role.APPLICANT])


class RevealForm(forms.Form):
    which = forms.MultipleChoiceField(
        label=_("要查看的信息"),
        choices=[("document_number", _("证件号码")), ("mobile", _("手机号码"))],
        widget=forms.CheckboxSelectMultiple,
    )


class ServiceAccountForm(forms.Form):
    name = forms.CharField(label=_("系统名称"), max_length=255)
    department = forms.ChoiceField(label=_("所属部门"), choices=[])
    scopes = forms.MultipleChoiceField(label=_("授权范围"), widget=forms.CheckboxSelectMultiple, choices=[])
    description = forms.CharField(label=_("用途说明"), max_length=500, required=False)

    def __init__(self, *args: Any, departments: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the departments the administrator manages: another department's code is not a valid choice.
        department = self.fields["department"]
        assert isinstance(department, forms.ChoiceField)
        department.choices = [("", _("请选择部门")), *(departments or [])]
        field = self.fields["scopes"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(name, f"{name}：{text}") for name, text in API_SCOPES.items()]


class HouseholdMatchForm(forms.Form):
    """户籍信息比对 (real-name level 3 online): the person's consent to the one request."""

    consent = forms.BooleanField(
        label=_("我同意由示范市公安局向户籍信息库核对我的姓名和公民身份号码，本次授权仅用于这一次比对"),
        required=False,
    )


class CounterLookupForm(forms.Form):
    """The counter check's first step: the document the person hands over."""

    document_type = forms.ChoiceField(label=_("证件类型"), choices=DocumentType.choices)
    document_number = forms.CharField(label=_("证件号码"), max_length=40)


class CounterCheckForm(CounterLookupForm):
    """The counter check recorded: the original was checked, and (for level 4) which identity e-licence was seen."""

    original_checked = forms.BooleanField(label=_("我已当面核验证件原件，并核对本人与证件照片一致"), required=False)
    licence = forms.TypedChoiceField(
        label=_("电子身份证照（四级核验，可选）"), coerce=int, required=False, empty_value=None, choices=()
    )

    def __init__(self, *args: Any, licences: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        licence_field = self.fields["licence"]
        assert isinstance(licence_field, forms.TypedChoiceField)
        licence_field.choices = [("", _("不核验电子证照（三级）")), *(licences or [])]
