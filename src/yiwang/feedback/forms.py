"""Forms of the rating pages: they parse input; the rules of rating stay in services.py.

The comment's length and content are checked by the service (one rule, one
message, for pages and API alike); the text area only tells the browser the
limit. Service refusals are put next to the field they concern
(:func:`add_service_error`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from yiwang.feedback.constants import DIMENSIONS, Dimension, Level, ServiceMode
from yiwang.feedback.services import COMMENT_MAX

SCORE_PREFIX = "score_"
# The resolution form shares pages with the rating form: its own prefix keeps their ids apart.
RESOLUTION_PREFIX = "resolution"
NOTE_MAX = 1000
REASON_MAX = 2000
# Highest level first, as people read a satisfaction scale.
LEVEL_CHOICES = [(str(value), label) for value, label in sorted(Level.choices, reverse=True)]
LEVEL_ERRORS = {"required": _("请选择总体评价"), "invalid_choice": _("请选择评价等级（1到5）")}


def _levels(label: Any, *, required: bool) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=LEVEL_CHOICES,
        required=required,
        widget=forms.RadioSelect,
        error_messages=LEVEL_ERRORS,
    )


class RatingForm(forms.Form):
    """Five levels overall, five per dimension of the service mode (optional), and an optional comment."""

    level = _levels(_("总体评价"), required=True)
    comment = forms.CharField(
        label=_("评价内容"),
        required=False,
        # The hint under the label (feedback/_rating_fields.html) says what is published and the limit.
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": COMMENT_MAX, "aria-describedby": "id_comment-hint"}),
    )

    def __init__(self, *args: Any, mode: str = ServiceMode.ONLINE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(Dimension.choices)
        self.dimension_names = list(DIMENSIONS[ServiceMode(mode)])
        comment = self.fields.pop("comment")
        for name in self.dimension_names:
            self.fields[f"{SCORE_PREFIX}{name}"] = _levels(labels[name], required=False)
        self.fields["comment"] = comment  # after the dimensions, as the page asks them

    def dimension_fields(self) -> list[forms.BoundField]:
        return [self[f"{SCORE_PREFIX}{name}"] for name in self.dimension_names]

    def scores(self) -> dict[str, str]:
        """{dimension: level} for the dimensions the person rated."""
        return {
            name: self.cleaned_data[f"{SCORE_PREFIX}{name}"]
            for name in self.dimension_names
            if self.cleaned_data.get(f"{SCORE_PREFIX}{name}")
        }

    def field_for(self, service_field: str) -> str | None:
        """The form field a service refusal names (a dimension's name, ``level``, ``comment``)."""
        if service_field in self.dimension_names:
            return f"{SCORE_PREFIX}{service_field}"
        return service_field if service_field in self.fields else None


class PhoneRatingForm(RatingForm):
    """A 12345 operator enters the rating a caller gives for the case on their receipt."""

    number = forms.CharField(label=_("办件编号"), max_length=64)
    code = forms.CharField(label=_("查询码"), max_length=16)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, mode=ServiceMode.ONLINE, **kwargs)
        self.order_fields(["number", "code", "level"])


class CounterForm(forms.Form):
    """The clerk's end of a counter visit: which window, and the case or item if there is one."""

    window = forms.TypedChoiceField(label=_("服务窗口"), coerce=int, error_messages={"required": _("请选择服务窗口")})
    case_number = forms.CharField(label=_("办件编号"), required=False, max_length=64)
    item_code = forms.CharField(label=_("事项编码"), required=False, max_length=64)

    def __init__(self, *args: Any, windows: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        window = self.fields["window"]
        assert isinstance(window, forms.TypedChoiceField)
        window.choices = [("", _("请选择窗口")), *(windows or [])]

    def clean_case_number(self) -> str:
        return str(self.cleaned_data.get("case_number") or "").strip().upper()

    def clean_item_code(self) -> str:
        return str(self.cleaned_data.get("item_code") or "").strip()


class ResolutionForm(forms.Form):
    """The rater's word after the rectification: resolved or not, and why."""

    resolved = forms.ChoiceField(
        label=_("问题是否已经解决？"),
        choices=(("yes", _("已解决")), ("no", _("未解决，请继续整改"))),
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择问题是否已经解决")},
    )
    note = forms.CharField(
        label=_("补充说明"), required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReviewForm(forms.Form):
    """A supervisor's verdict on a suspect rating; the button pressed gives the decision."""

    decision = forms.ChoiceField(
        label=_("核查结论"),
        choices=(("exclude", _("确认刷评，剔除")), ("clear", _("核查无误，计入统计"))),
        error_messages={"required": _("请选择核查结论"), "invalid_choice": _("请选择核查结论")},
    )
    note = forms.CharField(
        label=_("核查意见"),
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写核查意见")},
    )


class AppealDecisionForm(forms.Form):
    """A supervisor's decision on an appeal; the button pressed gives the decision."""

    decision = forms.ChoiceField(
        label=_("裁定结论"),
        choices=(("uphold", _("申诉成立，剔除该评价")), ("dismiss", _("申诉不成立"))),
        error_messages={"required": _("请选择裁定结论"), "invalid_choice": _("请选择裁定结论")},
    )
    reason = forms.CharField(
        label=_("裁定理由"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写裁定理由")},
    )


class AppealForm(forms.Form):
    """申诉: why the department believes the bad rating mistaken or malicious."""

    reason = forms.CharField(
        label=_("申诉理由"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写申诉理由")},
    )


class PeriodForm(forms.Form):
    """统计期间 of the public results: ``from`` and ``to`` (the names the API uses too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        date_input = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        messages = {"invalid": _("请输入有效日期，例如 2026-01-31")}
        self.fields["from"] = forms.DateField(
            label=_("开始日期"), required=False, widget=date_input, error_messages=messages
        )
        self.fields["to"] = forms.DateField(
            label=_("结束日期"), required=False, widget=date_input, error_messages=messages
        )


class CommentFilterForm(forms.Form):
    """The department whose published comments to list (all by default)."""

    department = forms.ChoiceField(label=_("部门"), required=False)

    def __init__(self, *args: Any, departments: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        department = self.fields["department"]
        assert isinstance(department, forms.ChoiceField)
        department.choices = [("", _("全部部门")), *(departments or [])]


def add_service_error(form: forms.Form, error: Any, field: str | None = None) -> int:
    """Put a service refusal next to the field it concerns (or above the form); returns its HTTP status."""
    named = str(error.extra.get("field") or "")
    if field is None and named:
        field = form.field_for(named) if isinstance(form, RatingForm) else (named if named in form.fields else None)
    form.add_error(field, str(error.message))
    return int(getattr(error, "status", 400))
