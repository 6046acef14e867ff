"""Case handling pages through Django's test client: applicants, staff, the counter, 办件查询, printed documents.

The browser walk through the whole flow is tests/e2e/test_cases.py.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.accounts.factories import full_number, make_person, make_staff
from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, ID_CARD_REISSUE, RESTAURANT_BUNDLE, Staff, item_code
from tests.multipart import post_multipart
from yiwang.accounts.constants import AssuranceLevel, Role
from yiwang.accounts.models import Person, User
from yiwang.cases import definitions, services
from yiwang.cases.constants import CaseState, Channel
from yiwang.cases.models import Application, ApplicationFile, BundleSubmission, Case
from yiwang.core import uploads
from yiwang.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_text(response: Any) -> str:
    return html.unescape(response.content.decode())


def food_code() -> str:
    return item_code(FOOD_LICENCE, "market")


def start_draft(client: Client, code: str | None = None) -> Application:
    response = client.post(f"/apply/item/{code or food_code()}/")
    assert response.status_code == 302
    match = re.fullmatch(r"/applications/(\d+)/", response["Location"])
    assert match, response["Location"]
    return Application.objects.get(pk=int(match.group(1)))


def food_case(citizen: Any) -> Case:
    (case,) = builders.apply(citizen, item_code=food_code())
    return case


def pdf_upload(name: str = "材料.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, builders.pdf_bytes(), content_type="application/pdf")


def first_material(application: Application) -> definitions.MaterialSpec:
    definition = services.application_definition(application)
    applies = definitions.applicable(definition, application.situation_answers)
    return next(m for m in applies.materials if m.required and not m.from_source)


def answer_everything(application: Application, user: Any) -> None:
    definition = services.application_definition(application)
    services.save_draft(application, actor=user, answers=builders.answer_all(definition))
    application.refresh_from_db()


# --- starting -----------------------------------------------------------------------------


def test_the_guide_offers_online_application_and_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    code = food_code()
    guide = page_text(client.get(f"/items/{code}/"))
    assert f'action="/apply/item/{code}/"' in guide
    assert "在线办理" in guide

    response = client.post(f"/apply/item/{code}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not Application.objects.exists()


def test_the_bundle_page_offers_one_application_for_all_its_items(client: Client, citizen: Any) -> None:
    page = page_text(client.get(f"/bundles/{RESTAURANT_BUNDLE}/"))
    assert f'action="/apply/bundle/{RESTAURANT_BUNDLE}/"' in page and "一件事一次办" in page

    response = client_for(citizen).post(f"/apply/bundle/{RESTAURANT_BUNDLE}/")
    application = Application.objects.get()
    assert response["Location"] == f"/applications/{application.pk}/"
    assert (application.bundle_code, application.created_by_id) == (RESTAURANT_BUNDLE, citizen.pk)


def test_applying_opens_a_draft_and_shows_it(citizen: Any) -> None:
    client = client_for(citizen)
    start_page = page_text(client.get(f"/apply/item/{food_code()}/"))
    assert "开始填写" in start_page

    application = start_draft(client)
    assert (application.state, application.channel, application.created_by_id) == ("draft", Channel.ONLINE, citizen.pk)
    page = page_text(client.get(f"/applications/{application.pk}/"))
    assert "食品经营许可" in page
    assert "第一步：选择您的情形" in page and "保存草稿" in page
    assert re.search(r'name="submission_key" value="[0-9a-f]{32}"', page)


def test_a_person_below_the_real_name_level_is_told_what_to_do(citizen: Any) -> None:
    person = make_person(name="孙低级", level=AssuranceLevel.SELF_DECLARED)
    user = User.objects.create(username="low-level", person=person)
    response = client_for(user).post(f"/apply/item/{food_code()}/")
    assert response.status_code == 403
    page = page_text(response)
    assert "需要更高的实名认证等级" in page and "二级" in page and "窗口" in page
    assert not Application.objects.exists()


def test_items_not_offered_online_and_staff_without_a_person_are_refused_with_a_reason(market: Staff) -> None:
    response = client_for(make_citizen_user()).get(f"/apply/item/{item_code(ID_CARD_REISSUE, 'police')}/")
    assert response.status_code == 403
    assert "本事项需要到窗口办理" in page_text(response)

    response = client_for(market.reviewer).post(f"/apply/item/{food_code()}/")
    assert response.status_code == 403
    assert "请先完成实名认证" in page_text(response)
    assert not Application.objects.exists()


def make_citizen_user() -> User:
    from tests.accounts.factories import make_citizen

    return make_citizen("周五")


# --- the application page -------------------------------------------------------------------


def test_saving_keeps_everything_typed_and_shows_each_problem_next_to_its_field(citizen: Any) -> None:
    client = client_for(citizen)
    application = start_draft(client)
    definition = services.application_definition(application)
    answers = {f"answer-{k}": v for k, v in builders.answer_all(definition).items()}

    response = client.post(
        f"/applications/{application.pk}/",
        {**answers, "field-applicant_kind": "person", "field-contact_mobile": "12345", "action": "save"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/applications/{application.pk}/?check=1#problems"
    application.refresh_from_db()
    assert application.form_data["contact_mobile"] == "12345"

    page = page_text(client.get(response["Location"]))
    assert "提交前还需要处理" in page
    # The problem sits next to its field, and the field says it is invalid.
    field = re.search(r'<div class="field field-invalid">.*?</div>', page.split('id="fields"')[1], re.S)
    assert field is not None
    assert "联系电话应为11位手机号码" in page
    assert re.search(r'id="field-contact_mobile"[^>]*value="12345"[^>]*aria-invalid="true"', page)
    # The material to upload is named in the list and beside its upload form.
    material = first_material(application)
    assert f"请上传：{material.name}" in page
    assert f'href="#file-{material.key}"' in page


def test_answers_decide_which_materials_show(citizen: Any) -> None:
    client = client_for(citizen)
    client.post(f"/apply/bundle/{RESTAURANT_BUNDLE}/")
    application = Application.objects.get()
    definition, _items = definitions.for_bundle(RESTAURANT_BUNDLE)
    group = next(q for q in definition.questions if q.key.startswith("g_"))
    individual = next(code for code, label in group.options if "个体工商户" in label)
    signboard = next(q for q in definition.questions if "门头招牌" in q.text)
    answers = {f"answer-{k}": v for k, v in builders.answer_all(definition, {group.key: individual}).items()}

    client.post(f"/applications/{application.pk}/", {**answers, "action": "refresh"})
    without_sign = page_text(client.get(f"/applications/{application.pk}/"))
    client.post(f"/applications/{application.pk}/", {**answers, f"answer-{signboard.key}": "yes", "action": "refresh"})
    with_sign = page_text(client.get(f"/applications/{application.pk}/"))

    assert "户外广告设施设置申请表" not in without_sign
    assert "户外广告设施设置申请表" in with_sign
    assert "户外广告设施设置许可" in with_sign.split('id="bundle-items"')[1].split("</div>")[0]
    # A material the departments fetch themselves is not asked for: it says where it comes from.
    assert "免提交：由营业执照共享获取" in with_sign


def test_uploaded_files_are_listed_with_size_and_hash_and_can_be_removed(citizen: Any) -> None:
    client = client_for(citizen)
    application = start_draft(client)
    answer_everything(application, citizen)
    material = first_material(application)

    response = client.post(
        f"/applications/{application.pk}/files/", {"material_key": material.key, "file": pdf_upload("平面图.pdf")}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/applications/{application.pk}/#material-{material.key}"
    stored = ApplicationFile.objects.get(application=application)
    page = page_text(client.get(f"/applications/{application.pk}/"))
    assert "平面图.pdf" in page and f"SHA-256 {stored.sha256[:12]}" in page

    response = client.post(f"/applications/{application.pk}/files/{stored.pk}/remove/")
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.superseded_at is not None
    assert "平面图.pdf" not in page_text(client.get(f"/applications/{application.pk}/"))


def test_a_bad_upload_shows_the_reason_beside_the_material_and_stores_nothing(citizen: Any) -> None:
    client = client_for(citizen)
    application = start_draft(client)
    answer_everything(application, citizen)
    material = first_material(application)
    bad = b"MZ\x90\x00 this is a program, not a document"
    with pytest.raises(uploads.UploadRejected) as expected:
        uploads.check_upload("申请书.pdf", io.BytesIO(bad))

    response = client.post(
        f"/applications/{application.pk}/files/",
        {"material_key": material.key, "file": SimpleUploadedFile("申请书.pdf", bad)},
    )
    assert response.status_code == 400
    block = page_text(response).split(f'id="material-{material.key}"')[1].split('class="upload-form"')[0]
    assert "上传未成功" in block and expected.value.message in block
    assert not ApplicationFile.objects.exists()

    missing = client.post(f"/applications/{application.pk}/files/", {"material_key": material.key})
    assert missing.status_code == 400 and "请选择要上传的文件" in page_text(missing)


def test_a_path_in_the_file_name_is_refused_on_the_page_not_cleaned(citizen: Any) -> None:
    """Issue 12 item 6: "../../etc/passwd.pdf" is refused with the reason, not stored as "passwd.pdf"."""
    client = client_for(citizen)
    application = start_draft(client)
    answer_everything(application, citizen)
    material = first_material(application)
    url = f"/applications/{application.pk}/files/"
    fields = {"material_key": material.key}
    response = post_multipart(client, url, fields, [("file", "../../etc/passwd.pdf", builders.pdf_bytes())])
    assert response.status_code == 400
    block = page_text(response).split(f'id="material-{material.key}"')[1].split('class="upload-form"')[0]
    assert "上传未成功" in block and "文件名不符合要求" in block
    assert not ApplicationFile.objects.exists()
    kept = post_multipart(client, url, fields, [("file", "房屋 平面图（一层）.pdf", builders.pdf_bytes())])
    assert kept.status_code == 302
    assert ApplicationFile.objects.get().original_name == "房屋 平面图（一层）.pdf"


def test_submitting_twice_with_the_same_key_makes_one_case(citizen: Any) -> None:
    client = client_for(citizen)
    application = start_draft(client)
    builders.fill(application, citizen)
    key = re.search(
        r'name="submission_key" value="([0-9a-f]{32})"', page_text(client.get(f"/applications/{application.pk}/"))
    )
    assert key

    first = client.post(f"/applications/{application.pk}/submit/", {"submission_key": key.group(1)})
    second = client.post(f"/applications/{application.pk}/submit/", {"submission_key": key.group(1)})

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/applications/{application.pk}/submitted/"
    case = Case.objects.get()
    page = page_text(client.get(first["Location"]))
    assert case.number in page and case.verification_code in page and "市场监督管理局" in page
    # The draft page of a submitted application now leads to its cases.
    assert client.get(f"/applications/{application.pk}/")["Location"] == first["Location"]


def test_an_incomplete_submission_is_refused_with_the_problems_shown(citizen: Any) -> None:
    client = client_for(citizen)
    application = start_draft(client)
    response = client.post(f"/applications/{application.pk}/submit/", {"submission_key": "k" * 32})
    assert response["Location"] == f"/applications/{application.pk}/?check=1#problems"
    page = page_text(client.get(response["Location"]))
    assert "申请尚未填写完整" in page and "请回答：" in page
    assert not Case.objects.exists()


def test_other_people_get_404_for_applications_and_cases(citizen: Any, other_citizen: Any) -> None:
    application = start_draft(client_for(citizen))
    case = food_case(citizen)
    stranger = client_for(other_citizen)
    assert stranger.get(f"/applications/{application.pk}/").status_code == 404
    assert stranger.post(f"/applications/{application.pk}/", {"action": "save"}).status_code == 404
    assert stranger.post(f"/applications/{application.pk}/files/", {"material_key": "x"}).status_code == 404
    assert stranger.post(f"/applications/{application.pk}/submit/").status_code == 404
    assert stranger.get(f"/cases/{case.number}/").status_code == 404
    assert stranger.get(f"/cases/{case.number}/print/receipt/").status_code == 404
    assert stranger.post(f"/cases/{case.number}/withdraw/", {"version": 1, "reason": "不要了"}).status_code == 404
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED


def test_anonymous_visitors_are_sent_to_log_in(client: Client, citizen: Any) -> None:
    case = food_case(citizen)
    for path in [
        "/cases/",
        f"/cases/{case.number}/",
        f"/applications/{case.application_id}/",
        "/workbench/",
        "/counter/",
    ]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path


# --- my cases and the case page ------------------------------------------------------------------


def test_my_cases_lists_cases_and_drafts(citizen: Any, other_citizen: Any) -> None:
    case = food_case(citizen)
    client = client_for(citizen)
    draft = start_draft(client)
    food_case(other_citizen)

    page = page_text(client.get("/cases/"))
    assert case.number in page
    assert f"/applications/{draft.pk}/" in page and "继续填写" in page
    assert page.count('<th scope="row" class="code">') == 1


def test_the_case_page_shows_state_deadline_in_words_and_the_public_timeline(citizen: Any, market: Staff) -> None:
    case = services.perform(food_case(citizen), "accept", actor=market.clerk)
    # The statutory deadline falls in a year whose holidays nobody has confirmed; the promised one does not.
    Case.objects.filter(pk=case.pk).update(due_provisional=True, statutory_due=dt.date(2099, 1, 5))
    page = page_text(client_for(citizen).get(f"/cases/{case.number}/"))
    assert "审查中" in page and case.verification_code in page
    assert f"{case.promised_due:%Y-%m-%d}" in page
    assert re.search(r'class="deadline deadline-(green|yellow|red)">(正常|即将到期|已超期)<', page)
    assert "期限待确认" in page
    # Issue 12 item 18: only beside the deadline in the unconfirmed year, not beside both.
    assert page.count('class="provisional"') == 1
    assert page.index('class="provisional"') > page.index("2099-01-05")
    assert "提交申请" in page and "受理" in page
    assert "受理回执" in page
    # No withdraw form is missing while the case may still be withdrawn.
    assert "撤回申请" in page


def test_staff_opening_the_applicant_case_page_go_to_the_workbench(citizen: Any, market: Staff) -> None:
    case = food_case(citizen)
    response = client_for(market.reviewer).get(f"/cases/{case.number}/")
    assert response["Location"] == f"/workbench/cases/{case.number}/"


def _request_correction(case: Case, staff: Staff) -> tuple[Case, definitions.MaterialSpec]:
    material = next(m for m in definitions.for_item(case.item).materials if m.required and not m.from_source)
    case = services.perform(
        case,
        "request_correction",
        actor=staff.reviewer,
        items=[
            {"kind": "material", "key": material.key, "problem": "平面布局图未标明各功能区"},
            {"kind": "field", "key": "contact_mobile", "problem": "联系电话无法接通"},
        ],
    )
    return case, material


def test_the_applicant_corrects_on_the_case_page_and_resubmits(citizen: Any, market: Staff) -> None:
    case, material = _request_correction(services.perform(food_case(citizen), "accept", actor=market.clerk), market)
    client = client_for(citizen)
    page = page_text(client.get(f"/cases/{case.number}/"))
    assert "补正告知（一次性告知）" in page
    assert "平面布局图未标明各功能区" in page and "联系电话无法接通" in page
    assert f'name="material_key" value="{material.key}"' in page
    assert 'id="field-contact_mobile"' in page

    # Resubmitting before the file is uploaded says what is still missing.
    refused = client.post(
        f"/cases/{case.number}/resubmit/", {"version": case.version, "field-contact_mobile": "13900139000"}
    )
    assert "还有未补正的内容" in page_text(client.get(refused["Location"]))

    uploaded = client.post(
        f"/applications/{case.application_id}/files/",
        {"material_key": material.key, "file": pdf_upload("布局图.pdf"), "next": f"/cases/{case.number}/#x"},
    )
    assert uploaded["Location"] == f"/cases/{case.number}/#x"
    response = client.post(
        f"/cases/{case.number}/resubmit/", {"version": case.version, "field-contact_mobile": "13900139000"}
    )
    assert response["Location"] == f"/cases/{case.number}/"
    case.refresh_from_db()
    assert case.state == CaseState.IN_REVIEW
    assert case.application.form_data["contact_mobile"] == "13900139000"


def test_the_applicant_withdraws_with_a_reason(citizen: Any) -> None:
    case = food_case(citizen)
    client = client_for(citizen)
    no_reason = client.post(f"/cases/{case.number}/withdraw/", {"version": case.version, "reason": ""})
    assert no_reason.status_code == 400
    assert "撤回理由" in page_text(no_reason)

    response = client.post(f"/cases/{case.number}/withdraw/", {"version": case.version, "reason": "经营计划改变"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.WITHDRAWN
    assert "撤回申请</button>" not in page_text(client.get(f"/cases/{case.number}/"))


# --- printed documents ---------------------------------------------------------------------------------


def test_printed_documents_exist_only_once_they_apply(citizen: Any, market: Staff) -> None:
    case = food_case(citizen)
    client = client_for(citizen)
    receipt = page_text(client.get(f"/cases/{case.number}/print/receipt/"))
    # Received, not yet accepted: a 收件回执; the same page is the 受理回执 once the case is accepted.
    assert "收件回执" in receipt and "受理回执" not in receipt
    assert case.number in receipt and case.verification_code in receipt
    # Issue 12 item 1: the applicant's own documents name them in full (others' views are in test_personal_data).
    assert "赵一" in receipt
    assert "尚未受理" in receipt
    assert "收到的申请材料" in receipt and ".pdf" in receipt
    assert 'class="print-page' in receipt or "print-page" in receipt
    for kind in ("rejection", "correction", "decision", "nonsense"):
        assert client.get(f"/cases/{case.number}/print/{kind}/").status_code == 404, kind

    case, _material = _request_correction(services.perform(case, "accept", actor=market.clerk), market)
    assert "受理回执" in page_text(client.get(f"/cases/{case.number}/print/receipt/"))
    correction = page_text(client.get(f"/cases/{case.number}/print/correction/"))
    assert "补正告知书" in correction and "一次性告知" in correction
    assert "平面布局图未标明各功能区" in correction and "联系电话无法接通" in correction

    other = food_case(citizen)
    services.perform(
        other,
        "reject",
        actor=market.clerk,
        reason="申请事项不属于本机关职权范围",
        legal_basis="《行政许可法》第三十二条",
    )
    rejection = page_text(client_for(market.reviewer).get(f"/cases/{other.number}/print/rejection/"))
    assert "不予受理决定书" in rejection and "不属于本机关职权范围" in rejection and "第三十二条" in rejection


def test_the_decision_is_printable_after_approval(citizen: Any, market: Staff) -> None:
    case = services.perform(food_case(citizen), "accept", actor=market.clerk)
    case = services.perform(case, "complete_task", actor=market.reviewer, reason="符合要求")
    services.perform(case, "approve", actor=market.approver, reason="准予许可")
    page = page_text(client_for(citizen).get(f"/cases/{case.number}/print/decision/"))
    assert "准予行政许可决定书" in page and "决定准予许可" in page


# --- 办件查询 ---------------------------------------------------------------------------------------------


def test_lookup_shows_progress_without_personal_data_and_one_message_for_wrong_pairs(
    client: Client, citizen: Any
) -> None:
    case = food_case(citizen)
    found = page_text(client.post("/cases/lookup/", {"number": case.number.lower(), "code": case.verification_code}))
    assert "待受理" in found and "食品经营许可" in found and "提交申请" in found
    assert "赵" not in found.split('id="progress-title"')[1]

    wrong_code = page_text(client.post("/cases/lookup/", {"number": case.number, "code": "ZZZZZZ"}))
    wrong_number = page_text(
        client.post("/cases/lookup/", {"number": "MARKET-20000101-000001", "code": case.verification_code})
    )
    for page in (wrong_code, wrong_number):
        assert "办件编号或查询码不正确" in page
        assert "待受理" not in page


def test_lookup_is_throttled_after_too_many_wrong_guesses(client: Client, citizen: Any) -> None:
    case = food_case(citizen)
    for _ in range(services.LOOKUP_FAILURE_LIMIT):
        client.post("/cases/lookup/", {"number": case.number, "code": "WRONG1"})
    response = client.post("/cases/lookup/", {"number": case.number, "code": case.verification_code})
    assert response.status_code == 429
    assert "查询失败次数过多" in page_text(response)


# --- the workbench ----------------------------------------------------------------------------------------


def test_the_workbench_is_for_case_staff(client: Client, citizen: Any, market: Staff) -> None:
    case = food_case(citizen)
    page = page_text(client_for(market.clerk).get("/workbench/"))
    assert case.number in page and "受理" in page and "赵*" in page and "赵一" not in page
    assert client_for(citizen).get("/workbench/").status_code == 403
    # A hotline operator has a workbench for its desk links, but no case on it.
    operator_page = client_for(make_staff(Role.HOTLINE_OPERATOR)).get("/workbench/")
    assert operator_page.status_code == 200 and case.number not in page_text(operator_page)


def test_the_workbench_filters_and_offers_to_open_a_case_by_number(citizen: Any, market: Staff) -> None:
    submitted = food_case(citizen)
    in_review = services.perform(food_case(citizen), "accept", actor=market.clerk)
    client = client_for(market.reviewer)

    page = page_text(client.get("/workbench/", {"state": "in_review"}))
    assert in_review.number in page and submitted.number not in page
    # The reviewer has no task on a case waiting for acceptance, but may open it by its number.
    page = page_text(client.get("/workbench/", {"number": submitted.number}))
    assert f'href="/workbench/cases/{submitted.number}/"' in page
    assert client.get("/workbench/", {"deadline": "overdue"}).status_code == 200
    assert client.get("/workbench/", {"deadline": "<script>"}).status_code == 200


def test_the_workbench_list_has_no_n_plus_one(citizen: Any, market: Staff, django_assert_num_queries: Any) -> None:
    client = client_for(market.clerk)
    for _ in range(2):
        food_case(citizen)
    client.get("/workbench/")  # warm the calendar cache
    with CaptureQueriesContext(connection) as few:
        assert client.get("/workbench/").status_code == 200
    for _ in range(4):
        food_case(citizen)
    with django_assert_num_queries(WORKBENCH_QUERIES):
        page = page_text(client.get("/workbench/"))
    assert page.count('<th scope="row" class="code">') == 6
    assert len(few.captured_queries) == WORKBENCH_QUERIES


# Session, user, role assignments, department scope (one read of the tree), the page's count and rows, the unread count.
WORKBENCH_QUERIES = 7


# --- a case for staff -------------------------------------------------------------------------------------------


def test_staff_of_another_department_cannot_open_or_act(citizen: Any, market: Staff, police: Staff) -> None:
    case = food_case(citizen)
    assert client_for(market.reviewer).get(f"/workbench/cases/{case.number}/").status_code == 200
    assert client_for(police.reviewer).get(f"/workbench/cases/{case.number}/").status_code == 404
    assert client_for(citizen).get(f"/workbench/cases/{case.number}/").status_code == 404
    response = client_for(police.reviewer).post(
        f"/workbench/cases/{case.number}/actions/reject/",
        {"reject-version": case.version, "reject-reason": "不属本部门", "reject-legal_basis": "第三十二条"},
    )
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.state == CaseState.SUBMITTED


def test_the_staff_page_offers_the_actions_the_table_allows_this_user(citizen: Any, market: Staff) -> None:
    case = food_case(citizen)
    clerk_page = page_text(client_for(market.clerk).get(f"/workbench/cases/{case.number}/"))
    assert f'action="/workbench/cases/{case.number}/actions/accept/"' in clerk_page
    assert f'action="/workbench/cases/{case.number}/actions/reject/"' in clerk_page
    assert "/actions/approve/" not in clerk_page
    approver_page = page_text(client_for(market.approver).get(f"/workbench/cases/{case.number}/"))
    assert "/actions/accept/" not in approver_page
    # Personal data is masked for staff.
    assert "赵*" in clerk_page and "赵一" not in clerk_page
    assert "138****8000" in clerk_page


def test_accepting_then_a_stale_form_shows_the_fresh_state(citizen: Any, market: Staff) -> None:
    case = food_case(citizen)
    clerk = client_for(market.clerk)
    response = clerk.post(f"/workbench/cases/{case.number}/actions/accept/", {"accept-version": case.version})
    assert response["Location"] == f"/workbench/cases/{case.number}/"
    case.refresh_from_db()
    assert case.state == CaseState.IN_REVIEW

    stale = client_for(market.reviewer).post(
        f"/workbench/cases/{case.number}/actions/transfer/",
        {"transfer-version": 1, "transfer-reason": "属卫生健康部门职责", "transfer-department": "health"},
        follow=True,
    )
    page = page_text(stale)
    assert "该办件已被他人处理" in page
    assert '<span class="state" id="case-state">审查中</span>' in page
    case.refresh_from_db()
    assert case.department.code == "market"


def test_refusals_of_the_service_are_shown_with_the_form(citizen: Any, market: Staff) -> None:
    case = food_case(citizen)
    clerk = client_for(market.clerk)
    missing_basis = clerk.post(
        f"/workbench/cases/{case.number}/actions/reject/", {"reject-version": case.version, "reject-reason": "不符合"}
    )
    assert missing_basis.status_code == 400
    assert "法律依据" in page_text(missing_basis)
    unknown = clerk.post(f"/workbench/cases/{case.number}/actions/teleport/", {})
    assert unknown.status_code == 404
    not_now = clerk.post(f"/workbench/cases/{case.number}/actions/close/", {"close-version": case.version})
    assert not_now.status_code == 409
    assert "不能执行“送达办结”" in page_text(not_now)
    case.refresh_from_db()
    assert (case.state, case.version) == (CaseState.SUBMITTED, 1)


def test_request_correction_from_the_checklist(citizen: Any, market: Staff) -> None:
    case = services.perform(food_case(citizen), "accept", actor=market.clerk)
    material = next(m for m in definitions.for_item(case.item).materials if m.required and not m.from_source)
    reviewer = client_for(market.reviewer)
    page = page_text(reviewer.get(f"/workbench/cases/{case.number}/"))
    assert f'name="request_correction-pick-material-{material.key}"' in page
    assert 'name="request_correction-pick-field-contact_mobile"' in page

    ticked_without_problem = reviewer.post(
        f"/workbench/cases/{case.number}/actions/request_correction/",
        {
            "request_correction-version": case.version,
            f"request_correction-pick-material-{material.key}": "on",
            "request_correction-days": 10,
        },
    )
    assert ticked_without_problem.status_code == 400
    assert "请写明需要怎样补正" in page_text(ticked_without_problem)

    nothing = reviewer.post(
        f"/workbench/cases/{case.number}/actions/request_correction/",
        {"request_correction-version": case.version, "request_correction-days": 10},
    )
    assert nothing.status_code == 400 and "一次性告知须列出全部" in page_text(nothing)

    response = reviewer.post(
        f"/workbench/cases/{case.number}/actions/request_correction/",
        {
            "request_correction-version": case.version,
            f"request_correction-pick-material-{material.key}": "on",
            f"request_correction-problem-material-{material.key}": "缺少签字",
            "request_correction-days": 5,
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.CORRECTION_REQUESTED
    assert case.corrections.get().items == [
        {"kind": "material", "key": material.key, "label": material.name, "problem": "缺少签字"}
    ]


def test_review_decision_certificate_and_closing_through_the_pages(citizen: Any, market: Staff) -> None:
    case = services.perform(food_case(citizen), "accept", actor=market.clerk)

    def act(user: Any, action: str, **fields: Any) -> None:
        case.refresh_from_db()
        data = {f"{action}-version": case.version, **{f"{action}-{k}": v for k, v in fields.items()}}
        response = client_for(user).post(f"/workbench/cases/{case.number}/actions/{action}/", data)
        assert response.status_code == 302, page_text(response)

    act(market.reviewer, "complete_task", reason="现场核查符合要求")
    act(market.approver, "approve", reason="准予许可")
    act(market.clerk, "issue_certificate")
    act(market.clerk, "close")
    case.refresh_from_db()
    assert (case.state, case.outcome) == (CaseState.CLOSED, "approved")


def test_extension_needs_a_second_approver_on_the_page(citizen: Any, market: Staff) -> None:
    case = services.perform(food_case(citizen), "accept", actor=market.clerk)
    requester = client_for(market.approver)
    requester.post(
        f"/workbench/cases/{case.number}/actions/request_extension/",
        {
            "request_extension-version": case.version,
            "request_extension-days": 5,
            "request_extension-reason": "情形复杂",
        },
    )
    assert "/actions/decide_extension/" not in page_text(requester.get(f"/workbench/cases/{case.number}/"))
    second = client_for(make_staff(Role.APPROVER, "market"))
    page = page_text(second.get(f"/workbench/cases/{case.number}/"))
    assert "/actions/decide_extension/" in page and "申请延长5个工作日" in page


def test_files_download_as_attachments_for_those_who_may_see_the_case(
    citizen: Any, market: Staff, police: Staff
) -> None:
    case = food_case(citizen)
    stored = case.application.files.first()
    url = f"/workbench/cases/{case.number}/files/{stored.pk}/"

    response = client_for(market.reviewer).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == stored.content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert AuditEvent.objects.filter(event="case.file_downloaded", target=f"cases.Case:{case.number}").exists()

    assert client_for(police.reviewer).get(url).status_code == 404
    other = food_case(citizen)
    assert client_for(market.reviewer).get(f"/workbench/cases/{other.number}/files/{stored.pk}/").status_code == 404


# --- counter intake -----------------------------------------------------------------------------------------------


def test_counter_intake_from_identity_check_to_the_receipt(citizen: Any, market: Staff, police: Staff) -> None:
    clerk = client_for(market.clerk)
    assert client_for(market.reviewer).get("/counter/").status_code == 403

    refused = clerk.post(
        "/counter/",
        {"document_type": "resident_id", "document_number": full_number(citizen.person), "identity_checked_by": ""},
    )
    assert refused.status_code == 400
    clerk.post(
        "/counter/",
        {
            "document_type": "resident_id",
            "document_number": full_number(citizen.person),
            "identity_checked_by": "id_card_reader",
        },
    )
    page = page_text(clerk.get("/counter/", {"q": ID_CARD_REISSUE}))
    assert "正在为 赵* 办理" in page and ID_CARD_REISSUE in page

    # 无差别受理: a market clerk takes a police item.
    code = item_code(ID_CARD_REISSUE, "police")
    response = clerk.post("/counter/start/", {"item_code": code})
    application = Application.objects.get()
    assert response["Location"] == f"/applications/{application.pk}/"
    assert (application.channel, application.agent_id, application.applicant_person_id) == (
        Channel.COUNTER,
        market.clerk.pk,
        citizen.person_id,
    )
    assert "窗口代办" in page_text(clerk.get(f"/applications/{application.pk}/"))

    builders.fill(application, market.clerk)
    clerk.post(f"/applications/{application.pk}/submit/", {"submission_key": "counter-1"})
    case = Case.objects.get()
    submitted = page_text(clerk.get(f"/applications/{application.pk}/submitted/"))
    assert "当场受理" in submitted

    response = clerk.post(
        f"/workbench/cases/{case.number}/actions/accept/",
        {"accept-version": case.version, "next": f"/applications/{application.pk}/submitted/"},
    )
    assert response["Location"] == f"/applications/{application.pk}/submitted/"
    case.refresh_from_db()
    assert case.state == CaseState.IN_REVIEW
    receipt = page_text(clerk.get(f"/cases/{case.number}/print/receipt/"))
    assert "受理时间" in receipt and "尚未受理" not in receipt
    # The case belongs to the person served: it is on their own list.
    assert case.number in page_text(client_for(citizen).get("/cases/"))

    clerk.post("/counter/finish/")
    assert "请先核验办事人身份" in page_text(clerk.get("/counter/"))
    assert clerk.post("/counter/start/", {"item_code": code})["Location"] == "/counter/"
    assert Application.objects.count() == 1


WALK_IN_ID = "110101194503074518"


def counter_check(clerk: Client, number: str = WALK_IN_ID) -> Any:
    return clerk.post(
        "/counter/",
        {"document_type": "resident_id", "document_number": number, "identity_checked_by": "id_card_reader"},
    )


def test_a_walk_in_who_never_registered_is_registered_and_served_at_the_counter(market: Staff) -> None:
    """Issue 12 item 9: the person is recorded at the counter, applies there, and is found again next time."""
    clerk = client_for(market.clerk)
    unknown = counter_check(clerk)
    assert unknown.status_code == 400
    page = page_text(unknown)
    assert "登记新办事人" in page
    # The registration form carries the document just checked.
    assert re.search(rf'name="register-document_number"[^>]*value="{WALK_IN_ID}"', page)

    refused = clerk.post("/counter/register/", {"register-document_type": "resident_id"})
    assert refused.status_code == 400 and not Person.objects.exists()
    response = clerk.post(
        "/counter/register/",
        {
            "register-name": "钱老伯",
            "register-document_type": "resident_id",
            "register-document_number": WALK_IN_ID,
            "register-identity_checked_by": "id_card_reader",
            "register-mobile": "",
        },
    )
    assert response["Location"] == "/counter/"
    person = Person.objects.get()
    assert person.name == "钱老伯" and person.assurance_level == AssuranceLevel.IDENTITY_VERIFIED
    assert not User.objects.filter(person=person).exists()
    assert "正在为 钱* 办理" in page_text(clerk.get("/counter/"))

    code = item_code(ID_CARD_REISSUE, "police")
    clerk.post("/counter/start/", {"item_code": code})
    application = Application.objects.get()
    assert (application.applicant_person_id, application.agent_id) == (person.pk, market.clerk.pk)
    builders.fill(application, market.clerk)
    clerk.post(f"/applications/{application.pk}/submit/", {"submission_key": "walk-in-1"})
    case = Case.objects.get()
    assert (case.applicant_person_id, case.channel) == (person.pk, Channel.COUNTER)

    # The second visit: the typed document number finds the same person; nobody is registered twice.
    clerk.post("/counter/finish/")
    assert counter_check(clerk)["Location"] == "/counter/"
    assert "正在为 钱* 办理" in page_text(clerk.get("/counter/"))
    assert Person.objects.count() == 1
    again = clerk.post(
        "/counter/register/",
        {
            "register-name": "钱老伯",
            "register-document_type": "resident_id",
            "register-document_number": WALK_IN_ID,
            "register-identity_checked_by": "id_card_reader",
        },
    )
    assert again.status_code == 400 and "已登记" in page_text(again) and Person.objects.count() == 1


def test_only_counter_clerks_register_walk_ins(market: Staff) -> None:
    form = {
        "register-name": "钱老伯",
        "register-document_type": "resident_id",
        "register-document_number": WALK_IN_ID,
        "register-identity_checked_by": "id_card_reader",
    }
    assert client_for(market.reviewer).post("/counter/register/", form).status_code == 403
    assert not Person.objects.filter(name="钱老伯").exists()


def test_counter_refuses_unknown_people_and_items(citizen: Any, market: Staff) -> None:
    clerk = client_for(market.clerk)
    unknown = clerk.post(
        "/counter/",
        {"document_type": "resident_id", "document_number": "110101199003078515", "identity_checked_by": "face_match"},
    )
    assert unknown.status_code == 400
    assert "未找到该办事人" in page_text(unknown) or "证件号码" in page_text(unknown)
    clerk.post(
        "/counter/",
        {
            "document_type": "resident_id",
            "document_number": full_number(citizen.person),
            "identity_checked_by": "document_inspected",
        },
    )
    response = clerk.post("/counter/start/", {"item_code": "NO-SUCH-ITEM"}, follow=True)
    assert "事项不存在或未发布" in page_text(response)
    assert not Application.objects.exists()


# --- issue 12 item 15: what was submitted, and drafts resumed -----------------------------


def test_the_case_page_shows_the_answers_fields_and_files_the_applicant_submitted(
    citizen: Any, other_citizen: Any
) -> None:
    case = food_case(citizen)
    application = case.application
    stored = application.files.filter(superseded_at__isnull=True).first()
    assert stored is not None
    definition = services.application_definition(application)
    question = definition.questions[0]

    page = page_text(client_for(citizen).get(f"/cases/{case.number}/"))
    submitted = page.split('id="submitted"')[1].split("</section>")[0]
    assert "您提交的申请" in submitted
    assert question.text in submitted and "否" in submitted
    assert "联系电话" in submitted and application.form_data["contact_mobile"] in submitted
    assert stored.original_name in submitted and stored.sha256[:12] in submitted
    # Someone else never sees it.
    assert client_for(other_citizen).get(f"/cases/{case.number}/").status_code == 404


def test_pressing_apply_online_again_resumes_the_draft_instead_of_making_a_second(
    citizen: Any, other_citizen: Any
) -> None:
    client = client_for(citizen)
    assert "开始填写" in page_text(client.get(f"/apply/item/{food_code()}/"))
    first = start_draft(client)
    assert "继续填写草稿" in page_text(client.get(f"/apply/item/{food_code()}/"))
    again = start_draft(client)
    assert again.pk == first.pk
    assert Application.objects.filter(created_by=citizen).count() == 1
    # Once submitted (or for another person) a new draft is made.
    assert start_draft(client_for(other_citizen)).pk != first.pk
    Application.objects.filter(pk=first.pk).update(state="abandoned")
    assert start_draft(client).pk != first.pk


def test_the_correction_checklist_lists_only_what_applies_to_this_applicant(citizen: Any, market: Staff) -> None:
    """Issue 12 item 16: materials and fields of a branch the applicant did not take are not offered."""
    case = services.perform(food_case(citizen), "accept", actor=market.clerk)
    definition = definitions.for_item(case.item)
    not_asked = [m for m in definition.materials if m.show_if]
    asked = next(m for m in definition.materials if not m.show_if and not m.from_source)
    assert not_asked, "the food licence has conditional materials"
    page = page_text(client_for(market.reviewer).get(f"/workbench/cases/{case.number}/"))
    assert f'name="request_correction-pick-material-{asked.key}"' in page
    for spec in not_asked:
        assert f'name="request_correction-pick-material-{spec.key}"' not in page
    # The applicant applied as a person: the organisation's fields were never asked.
    assert 'name="request_correction-pick-field-credit_code"' not in page
    assert 'name="request_correction-pick-field-contact_mobile"' in page

    for kind, key in [("material", not_asked[0].key), ("field", "credit_code")]:
        with pytest.raises(services.CaseError) as refused:
            services.perform(
                case, "request_correction", actor=market.reviewer, items=[{"kind": kind, "key": key, "problem": "缺少"}]
            )
        assert refused.value.code == "unknown_correction_item"


# --- issue 12 item 12: one number and one code for a 一件事 -------------------------------


def restaurant_cases(user: Any) -> list[Case]:
    definition, _items = definitions.for_bundle(RESTAURANT_BUNDLE)
    signboard = next(q for q in definition.questions if "门头招牌" in q.text)
    return builders.apply(user, bundle_code=RESTAURANT_BUNDLE, answers={signboard.key: "yes"})


def test_a_bundle_gets_one_number_one_code_and_one_progress_page(
    client: Client, citizen: Any, other_citizen: Any
) -> None:
    cases = restaurant_cases(citizen)
    assert len(cases) >= 3
    bundle = BundleSubmission.objects.get(application=cases[0].application)
    assert re.fullmatch(r"YJS-\d{8}-000001", bundle.number)
    owner = client_for(citizen)

    submitted = page_text(owner.get(f"/applications/{bundle.application_id}/submitted/"))
    assert bundle.number in submitted and bundle.verification_code in submitted

    progress = page_text(owner.get(f"/cases/bundles/{bundle.number}/"))
    for case in cases:
        assert case.item_name in progress and f"/cases/{case.number}/" in progress
    assert bundle.verification_code in progress
    assert bundle.number in page_text(owner.get(f"/cases/{cases[0].number}/"))
    assert client_for(other_citizen).get(f"/cases/bundles/{bundle.number}/").status_code == 404

    # 我的办件: the bundle is one entry holding its cases, not four unrelated rows.
    mine = page_text(owner.get("/cases/"))
    assert mine.count(f"/cases/bundles/{bundle.number}/") == 1
    assert mine.count('<th scope="row" class="code">') == 0
    assert all(case.item_name in mine.split('id="bundles-title"')[1] for case in cases)

    # 办件查询 by the one number and code shows every case, and no personal data.
    found = page_text(
        client.post("/cases/lookup/", {"number": bundle.number.lower(), "code": bundle.verification_code})
    )
    assert all(case.item_name in found for case in cases)
    assert citizen.person.name not in found
    wrong = page_text(client.post("/cases/lookup/", {"number": bundle.number, "code": cases[0].verification_code}))
    assert "办件编号或查询码不正确" in wrong


# --- issue 12 item 14: the bundle form asks only what applies ----------------------------


def test_material_conditions_read_as_questions_a_person_would_ask() -> None:
    assert definitions.condition_question("委托他人代为办理的").text == "是否委托他人代为办理？"
    assert definitions.condition_question("以家庭形式经营的，用于证明参加经营的家庭成员关系").text == (
        "是否以家庭形式经营？"
    )
    assert definitions.condition_question("股东或合伙人为企业、事业单位或社会组织的").text == (
        "股东或合伙人是否为企业、事业单位或社会组织？"
    )
    assert definitions.condition_question("场所设有自动消防系统的").text == "场所是否设有自动消防系统？"
    assert definitions.condition_question("经营项目涉及登记前须经批准的").text == "经营项目是否涉及登记前须经批准？"
    # The key is the condition's, so answers saved before the wording changed still hold.
    assert (
        definitions.condition_question("场所设有自动消防系统的").key
        == definitions.condition_question("场所设有自动消防系统的 ").key
    )


def test_the_bundle_form_brings_up_questions_as_answers_make_them_relevant(citizen: Any) -> None:
    definition, _items = definitions.for_bundle(RESTAURANT_BUNDLE)
    group = next(q for q in definition.questions if q.key.startswith("g_"))
    individual = next(code for code, label in group.options if "个体工商户" in label)
    signboard = next(q for q in definition.questions if "门头招牌" in q.text)
    gathering = next(q for q in definition.questions if "公众聚集场所" in q.text)
    family = next(q for q in definition.questions if "家庭形式经营" in q.text)
    company_only = next(q for q in definition.questions if "股东或合伙人" in q.text)
    big_sign = next(q for q in definition.questions if "大型户外广告" in q.text)

    first = [q.key for q in definitions.relevant_questions(definition, {})]
    assert {group.key, signboard.key, gathering.key} <= set(first)
    assert not {family.key, company_only.key, big_sign.key} & set(first)

    chosen = {group.key: individual, signboard.key: "no", gathering.key: "no"}
    then = {q.key for q in definitions.relevant_questions(definition, chosen)}
    assert family.key in then and company_only.key not in then and big_sign.key not in then

    # On the page, without JavaScript: answer, press 按所选情形更新, and the follow-up question appears.
    client = client_for(citizen)
    client.post(f"/apply/bundle/{RESTAURANT_BUNDLE}/")
    application = Application.objects.get()
    before = page_text(client.get(f"/applications/{application.pk}/"))
    assert family.text not in before and group.text in before
    client.post(
        f"/applications/{application.pk}/", {**{f"answer-{k}": v for k, v in chosen.items()}, "action": "refresh"}
    )
    after = page_text(client.get(f"/applications/{application.pk}/"))
    assert family.text in after and company_only.text not in after and big_sign.text not in after

    # A question of a branch not taken is never required: answering what is asked is enough.
    relevant_answers = {q.key: "no" for q in definitions.relevant_questions(definition, chosen) if q.key not in chosen}
    services.save_draft(application, actor=citizen, answers={**chosen, **relevant_answers})
    application.refresh_from_db()
    problems = services.application_problems(application)
    assert not [p for p in problems if p.kind == "question"], problems
