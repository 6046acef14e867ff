"""Forms of the staff page of licence types (电子证照目录): the type, and one row per field (照面信息项).

The forms check what a person can get wrong on the page (formats, repeated
keys, a choice field without choices); the rules that depend on stored data
(a number already used, what issued licences fix, unknown item codes) are the
service's, whose refusals the view puts back on the form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from .constants import FieldType, HolderKind
from .services.issuance import FIELD_KEY_RE, MAX_FIELDS

# Choices may be separated by new lines, 、, commas or semicolons (full or half width).
CHOICE_SEPARATORS = re.compile(r"[\n\r、,，;；]+")
LIST_SEPARATORS = re.compile(r"[\s,，;；、]+")
EXTRA_FIELD_ROWS = 3
MAX_ITEM_CODES = 50
MAX_MATERIAL_NAMES = 20


def split_choices(value: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in CHOICE_SEPARATORS.split(value) if part.strip()))


class LicenceTypeForm(forms.Form):
    """The type itself; ``department`` and ``number`` only when creating (they make the type's code)."""

    department: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("发证部门"), queryset=None, empty_label=_("请选择")
    )
    number = forms.IntegerField(
        label=_("类型序号"),
        min_value=1,
        max_value=999,
        error_messages={
            "invalid": _("请填写1至999的整数"),
            "min_value": _("请填写1至999的整数"),
            "max_value": _("请填写1至999的整数"),
        },
    )
    name = forms.CharField(label=_("证照名称"), max_length=100)
    holder_kind = forms.ChoiceField(label=_("持证主体"), choices=HolderKind.choices)
    validity_years = forms.IntegerField(
        label=_("有效期（年）"),
        required=False,
        min_value=1,
        max_value=100,
        error_messages={
            "invalid": _("请填写1至100的整数，长期有效请留空"),
            "min_value": _("请填写1至100的整数，长期有效请留空"),
            "max_value": _("请填写1至100的整数，长期有效请留空"),
        },
    )
    proves_identity = forms.BooleanField(label=_("身份证照（可用于实名四级核验）"), required=False)
    item_codes = forms.CharField(label=_("签发事项编码"), required=False, max_length=5000, widget=forms.Textarea)
    material_names = forms.CharField(label=_("对应材料名称"), required=False, max_length=2000, widget=forms.Textarea)

    def __init__(self, *args: Any, departments: QuerySet[Any], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        department = self.fields["department"]
        assert isinstance(department, forms.ModelChoiceField)
        department.queryset = departments
        if editing:
            del self.fields["department"]
            del self.fields["number"]

    def clean_name(self) -> str:
        return " ".join(str(self.cleaned_data["name"]).split())

    def clean_item_codes(self) -> list[str]:
        codes = list(dict.fromkeys(c for c in LIST_SEPARATORS.split(self.cleaned_data["item_codes"]) if c))
        if len(codes) > MAX_ITEM_CODES:
            raise forms.ValidationError(_("签发事项最多%(n)s个"), params={"n": MAX_ITEM_CODES})
        if any(len(code) > 80 for code in codes):
            raise forms.ValidationError(_("事项编码过长"))
        return codes

    def clean_material_names(self) -> list[str]:
        lines = str(self.cleaned_data["material_names"]).splitlines()
        names = list(dict.fromkeys(" ".join(line.split()) for line in lines if line.strip()))
        if len(names) > MAX_MATERIAL_NAMES:
            raise forms.ValidationError(_("对应材料名称最多%(n)s个"), params={"n": MAX_MATERIAL_NAMES})
        if any(len(name) > 100 for name in names):
            raise forms.ValidationError(_("每个材料名称不超过100个字"))
        return names


class LicenceFieldForm(forms.Form):
    """One field of the licence's face; a row left empty is ignored."""

    key = forms.CharField(label=_("标识"), required=False, max_length=40)
    label = forms.CharField(label=_("名称"), required=False, max_length=60)
    type = forms.ChoiceField(label=_("类型"), choices=FieldType.choices, initial=FieldType.TEXT)
    required = forms.BooleanField(label=_("必填"), required=False)
    choices = forms.CharField(label=_("可选值"), required=False, max_length=2000)
    source = forms.CharField(label=_("取自申请表字段"), required=False, max_length=40)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        key, label = data.get("key", "").strip(), " ".join(str(data.get("label", "")).split())
        data["key"], data["label"] = key, label
        if not key and not label and not data.get("choices") and not data.get("source"):
            data["empty"] = True
            return data
        data["empty"] = False
        if not FIELD_KEY_RE.fullmatch(key):
            self.add_error("key", _("标识须以小写字母开头，只含小写字母、数字和下划线，不超过40个字符"))
        if not label:
            self.add_error("label", _("请填写信息项名称"))
        source = str(data.get("source", "")).strip()
        if source and not FIELD_KEY_RE.fullmatch(source):
            self.add_error("source", _("申请表字段须以小写字母开头，只含小写字母、数字和下划线"))
        data["source"] = source
        choices = split_choices(str(data.get("choices", "")))
        if data.get("type") == FieldType.CHOICE and not choices:
            self.add_error("choices", _("选项类信息项须列出可选值"))
        data["choices"] = choices if data.get("type") == FieldType.CHOICE else []
        return data

    def as_field(self) -> dict[str, Any]:
        data = self.cleaned_data
        entry: dict[str, Any] = {
            "key": data["key"],
            "label": data["label"],
            "type": data["type"],
            "required": bool(data.get("required")),
            "choices": data["choices"],
        }
        if data["source"]:
            entry["source"] = data["source"]
        return entry


if TYPE_CHECKING:
    _FormSet = forms.BaseFormSet[LicenceFieldForm]
else:  # BaseFormSet is generic only in the type stubs
    _FormSet = forms.BaseFormSet


class BaseLicenceFieldFormSet(_FormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.forms:
            data = form.cleaned_data
            if not data or data.get("empty") or data.get("DELETE"):
                continue
            key = data["key"]
            if key in seen:
                form.add_error("key", _("标识重复：%(key)s") % {"key": key})
            seen.add(key)

    def licence_fields(self) -> list[dict[str, Any]]:
        """The rows as the service takes them, in order, without empty and deleted rows."""
        rows = []
        for form in self.forms:
            data = form.cleaned_data
            if data and not data.get("empty") and not data.get("DELETE"):
                rows.append(form.as_field())
        return rows


LicenceFieldFormSet = cast(
    "type[BaseLicenceFieldFormSet]",
    forms.formset_factory(
        LicenceFieldForm,
        formset=BaseLicenceFieldFormSet,
        extra=EXTRA_FIELD_ROWS,
        can_delete=True,
        max_num=MAX_FIELDS,
        validate_max=True,
        absolute_max=MAX_FIELDS + EXTRA_FIELD_ROWS,
    ),
)


def field_rows(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A licence type's fields as the formset's initial rows."""
    return [
        {
            "key": f["key"],
            "label": f["label"],
            "type": f.get("type", FieldType.TEXT),
            "required": bool(f.get("required")),
            "choices": "、".join(f.get("choices", [])),
            "source": f.get("source", ""),
        }
        for f in fields
    ]


def joined_lines(values: list[str]) -> str:
    return "\n".join(values)
