"""Issue 12 item 2: requests anyone can send answer with a page or a 4xx problem, never a server error."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from yiwang.accounts.sms import latest_message
from yiwang.core import crypto

from .factories import make_citizen, mobile

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/accounts/register/", "/accounts/login/sms/"])
def test_pressing_send_twice_within_a_minute_shows_the_form_with_a_message(path: str) -> None:
    browser = Client()
    number = mobile()
    first = browser.post(path, {"action": "send", "mobile": number})
    assert first.status_code == 200
    page = first.content.decode()
    # The button now counts down (accounts.js, loaded as a file: the CSP allows no inline script).
    assert 'data-resend-wait="' in page
    wait = int(page.split('data-resend-wait="')[1].split('"')[0])
    assert 55 <= wait <= 60
    assert "/static/yiwang/accounts.js" in page and "<script>" not in page

    again = browser.post(path, {"action": "send", "mobile": number})
    assert again.status_code == 200
    text = again.content.decode()
    assert "请60秒后再试" in text
    assert 'role="alert"' in text
    assert 'data-resend-wait="' in text


@pytest.mark.parametrize("path", ["/accounts/register/", "/accounts/login/sms/"])
def test_sending_to_an_invalid_mobile_names_the_field(path: str) -> None:
    response = Client().post(path, {"action": "send", "mobile": "12345"})
    assert response.status_code == 200
    text = response.content.decode()
    assert 'role="alert"' in text and 'aria-invalid="true"' in text
    assert "data-resend-wait" not in text


def test_the_send_button_has_no_countdown_before_a_code_was_sent() -> None:
    page = Client().get("/accounts/login/sms/").content.decode()
    assert "发送验证码" in page and "data-resend-wait" not in page


def test_sms_login_page_still_logs_in_after_a_refused_second_send(django_capture_on_commit_callbacks) -> None:
    citizen = make_citizen()
    assert citizen.person is not None
    browser = Client()
    number = crypto.decrypt(citizen.person.mobile_encrypted)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/accounts/login/sms/", {"action": "send", "mobile": number})
    browser.post("/accounts/login/sms/", {"action": "send", "mobile": number})
    body = latest_message(number)
    assert body is not None
    code = body.split("验证码为")[1][:6]
    response = browser.post("/accounts/login/sms/", {"action": "login", "mobile": number, "code": code})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/accounts/me/delegations",
        "/api/v1/cases/applications/1/files",
        "/api/v1/ratings/cases/ABC",
        "/api/v1/no-such-operation",
    ],
)
@pytest.mark.parametrize("logged_in", [False, True])
def test_api_multipart_body_without_boundary_is_a_400_problem(path: str, logged_in: bool) -> None:
    browser = Client(raise_request_exception=False, enforce_csrf_checks=True)
    if logged_in:
        browser.force_login(make_citizen())
    token = _get_new_csrf_string()
    browser.cookies["csrftoken"] = token
    response = browser.post(path, data=b"a=1", content_type="multipart/form-data", headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "malformed_body"


def test_api_multipart_upload_with_a_boundary_still_reaches_the_operation() -> None:
    browser = Client()
    browser.force_login(make_citizen())
    response = browser.post(
        "/api/v1/cases/applications/999999/files",
        {"material_key": "x", "file": SimpleUploadedFile("a.pdf", b"%PDF-1.4\n")},
    )
    assert response.status_code != 400 or response.json()["code"] != "malformed_body"
    assert response.status_code < 500
