"""Issue 12 item 18: plain Chinese validation, every field's problem at once, no SMS to a registered number,
期限待确认 only on the deadline that needs it, no untranslated labels."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.template import Context, Template
from django.test import Client
from django.utils import translation

from yiwang.accounts import services
from yiwang.accounts.constants import CodePurpose
from yiwang.accounts.models import OneTimeCode
from yiwang.accounts.sms import latest_message
from yiwang.core import crypto
from yiwang.hotline.workflow import action_label

from .factories import make_citizen, mobile

pytestmark = pytest.mark.django_db


class _Sample(forms.Form):
    name = forms.CharField(max_length=4)
    note = forms.CharField(min_length=3)
    count = forms.IntegerField(max_value=3)
    kind = forms.ChoiceField(choices=[("a", "甲")])
    day = forms.DateField()


def test_django_validation_messages_read_as_plain_chinese() -> None:
    with translation.override("zh-hans"):
        form = _Sample({"name": "一二三四五六", "note": "短", "count": "9", "kind": "z", "day": "昨天"})
        assert not form.is_valid()
        errors = {field: " ".join(messages) for field, messages in form.errors.items()}
        empty = _Sample({})
        empty.is_valid()
    assert errors["name"] == "最多只能填 4 个字（现在是 6 个），请删减。"
    assert errors["note"] == "至少要填 3 个字（现在是 1 个）。"
    assert errors["count"] == "不能大于 3。"
    assert "请从列表中选择" in errors["kind"]
    assert "例如 2026-01-31" in errors["day"]
    assert all(" ".join(messages) == "请填写此项。" for messages in empty.errors.values())
    every = " ".join(errors.values())
    assert "变量" not in every and "确保" not in every and "字段" not in every


def test_registration_shows_every_field_problem_at_once() -> None:
    browser = Client()
    response = browser.post(
        "/accounts/register/",
        {
            "action": "register",
            "mobile": "12345",
            "code": "000000",
            "name": "<script>",
            "document_type": "resident_id",
            "document_number": "110101199003077771",
            "password": "short",
            "password_again": "short",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert {"mobile", "name", "document_number", "password"} <= set(form.errors)


def test_a_registered_mobile_is_refused_before_a_code_is_sent(django_capture_on_commit_callbacks) -> None:
    citizen = make_citizen()
    assert citizen.person is not None
    number = crypto.decrypt(citizen.person.mobile_encrypted)
    before = latest_message(number)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.IdentityError) as refused:
        services.send_code(number, CodePurpose.REGISTER)
    assert refused.value.code == "mobile_taken" and refused.value.field == "mobile"
    assert latest_message(number) == before
    assert not OneTimeCode.objects.filter(mobile_index=services.mobile_index(number)).exists()

    page = Client().post("/accounts/register/", {"action": "send", "mobile": number}).content.decode()
    assert "该手机号已注册，请直接登录" in page and "data-resend-wait" not in page
    # Logging in by SMS to that number still sends a code; a new number still registers.
    with django_capture_on_commit_callbacks(execute=True):
        services.send_code(number, CodePurpose.LOGIN)
        services.send_code(mobile(), CodePurpose.REGISTER)


@pytest.mark.parametrize("template", ["cases/_deadline.html", "hotline/_deadline.html"])
def test_provisional_mark_only_on_the_deadline_in_an_unconfirmed_year(template: str) -> None:
    page = Template('{% include template with due=due provisional=True warning="" %}')
    this_year = page.render(Context({"template": template, "due": dt.date(2026, 12, 30)}))
    far_year = page.render(Context({"template": template, "due": dt.date(2099, 1, 5)}))
    assert "期限待确认" not in this_year
    assert "期限待确认" in far_year


def test_every_work_order_action_has_a_chinese_label() -> None:
    with translation.override("zh-hans"):
        assert action_label("suggest") == "智能分类建议"


def test_admin_lists_have_chinese_column_headings(admin_client: Client) -> None:
    with translation.override("zh-hans"):
        page = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Model name" not in page and "数据类型" in page
