"""Forms of the knowledge-base staff pages: they check shapes; the rules are the services'."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .constants import ANSWER_MAX_LENGTH, SOURCE_MAX_LENGTH, EntryKind, VersionStatus
from .services import EntryContent


class EntryForm(forms.Form):
    department = forms.ChoiceField(label=_("所属部门"))
    kind = forms.ChoiceField(label=_("类型"), choices=EntryKind.choices)
    questions = forms.CharField(
        label=_("问法"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2500,
        help_text=_("每行一个问法：群众可能怎么问这个问题。第一行作为标题。"),
    )
    answer = forms.CharField(
        label=_("答复"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=ANSWER_MAX_LENGTH,
        help_text=_("用群众看得懂的话回答，写明去哪里、带什么、多久办好。"),
    )
    source_text = forms.CharField(
        label=_("依据"), required=False, max_length=SOURCE_MAX_LENGTH, help_text=_("如政策文件名称和条款")
    )
    source_url = forms.CharField(label=_("依据链接"), required=False, max_length=500)
    item_codes = forms.MultipleChoiceField(
        label=_("关联事项"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("从已发布的事项中选择（可多选）"),
    )
    valid_from = forms.DateField(label=_("生效日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(
        label=_("失效日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("过了失效日期的条目不再向群众提供"),
    )
    change_note = forms.CharField(label=_("修改说明"), required=False, max_length=200)

    def __init__(
        self,
        *args: Any,
        departments: list[tuple[str, str]],
        items: list[tuple[str, str]],
        fixed_department: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        department, item_codes = self.fields["department"], self.fields["item_codes"]
        assert isinstance(department, forms.ChoiceField) and isinstance(item_codes, forms.MultipleChoiceField)
        department.choices = departments
        item_codes.choices = items
        if fixed_department:
            # An entry stays with the department that owns it; a draft's department is not edited.
            del self.fields["department"]

    def content(self) -> EntryContent:
        data = self.cleaned_data
        return EntryContent(
            kind=data["kind"],
            questions=[line for line in data["questions"].splitlines() if line.strip()],
            answer=data["answer"],
            source_text=data["source_text"],
            source_url=data["source_url"],
            item_codes=data["item_codes"],
            valid_from=data["valid_from"],
            valid_until=data["valid_until"],
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(forms.Form):
    change_note = forms.CharField(label=_("修改说明"), required=False, max_length=200)


class DeskFilterForm(forms.Form):
    q = forms.CharField(label=_("检索问法或答复"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("状态"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [("", _("全部")), *VersionStatus.choices]
