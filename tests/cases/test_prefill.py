"""Issue 15 item 6 (免填): a new draft is filled in from the applicant's profile and earlier applications, never with
another person's data; changed values stay as typed; each case counts the fields its applicant did not type."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import full_number, make_citizen
from tests.cases import builders
from tests.cases.conftest import FOOD_LICENCE, Staff, item_code
from yiwang.accounts import services as account_services
from yiwang.accounts.constants import Relationship
from yiwang.cases import definitions, selectors, services
from yiwang.cases.models import Application, Case, FieldSaving
from yiwang.cases.services import prefill
from yiwang.core import crypto
from yiwang.core.identifiers import DocumentType, make_credit_code

pytestmark = pytest.mark.django_db

PERSON_ITEM = "户籍证明开具"  # a person's item: applicant name, mobile, address, description
ADDRESS = "示范市幸福街道幸福路8号2单元301"
SHOP_CODE = make_credit_code("92", "990102", "P7654321")


def mobile_of(user: Any) -> str:
    return crypto.decrypt(user.person.mobile_encrypted)


def start(user: Any, name: str = PERSON_ITEM, *, organisation_id: int | None = None) -> Application:
    applicant = services.applicant_for(user, organisation_id=organisation_id)
    return services.start_application(actor=user, applicant=applicant, item_code=item_code(name))


def complete_and_submit(application: Application, user: Any, typed: dict[str, str] | None = None) -> list[Case]:
    """Answer "no" to every question, type only what is still empty (or ``typed``), upload, submit."""
    application.refresh_from_db()
    definition = services.application_definition(application)
    answers = builders.answer_all(definition)
    data = {
        f.key: builders.value_for(f)
        for f in definitions.applicable(definition, {**application.form_data, **answers}).fields
        if not application.form_data.get(f.key)
    }
    data.update(typed or {})
    services.save_draft(application, actor=user, answers=answers, form_data=data)
    for spec in definitions.applicable(definition, answers).materials:
        if spec.required and not spec.from_source:
            services.attach_file(
                application,
                actor=user,
                material_key=spec.key,
                name=f"{spec.key}.pdf",
                stream=io.BytesIO(builders.pdf_bytes()),
            )
    return services.submit_application(application, actor=user)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shop_of(user: Any) -> Any:
    return account_services.register_organisation(actor=user, name="示范区赵一小吃店", credit_code=SHOP_CODE)


# --- the profile ------------------------------------------------------------------------------------------


def test_a_persons_draft_opens_with_their_verified_name_and_mobile(citizen: Any) -> None:
    application = start(citizen)

    assert application.form_data == {"applicant_name": "赵一", "contact_mobile": mobile_of(citizen)}
    assert {key: mark["source"] for key, mark in application.prefilled.items()} == {
        "applicant_name": prefill.PROFILE,
        "contact_mobile": prefill.PROFILE,
    }
    # The draft keeps a keyed digest of what was put in, not a second copy of the value.
    assert mobile_of(citizen) not in str(application.prefilled)

    page = signed_in(citizen).get(f"/applications/{application.pk}/").content.decode()
    assert 'id="field-applicant_name" name="field-applicant_name" type="text" value="赵一"' in page
    assert page.count("已按您的实名信息预填") == 2
    assert 'aria-describedby="field-contact_mobile-prefill"' in page


def test_an_organisations_draft_opens_with_the_organisations_registered_details(citizen: Any) -> None:
    shop = shop_of(citizen)

    application = start(citizen, FOOD_LICENCE, organisation_id=shop.pk)

    assert application.form_data == {
        "applicant_kind": "organisation",
        "organisation_name": "示范区赵一小吃店",
        "credit_code": SHOP_CODE,
        "legal_representative": "赵一",
        "contact_name": "赵一",
        "contact_mobile": mobile_of(citizen),
    }
    assert "applicant_name" not in application.form_data


# --- earlier applications ---------------------------------------------------------------------------------


def test_the_answers_of_an_earlier_application_fill_the_next_one(citizen: Any) -> None:
    complete_and_submit(start(citizen), citizen, {"address": ADDRESS, "description": "开具户籍证明用于入学"})

    application = start(citizen)

    assert application.form_data["address"] == ADDRESS
    assert application.prefilled["address"]["source"] == prefill.EARLIER
    # What one application was for is never carried over; the profile still wins for the name.
    assert "description" not in application.form_data
    assert application.prefilled["applicant_name"]["source"] == prefill.PROFILE
    page = signed_in(citizen).get(f"/applications/{application.pk}/").content.decode()
    assert "已按您此前申请时填写的内容预填" in page


def test_the_latest_valid_earlier_answer_wins_and_an_invalid_one_is_skipped(citizen: Any) -> None:
    complete_and_submit(start(citizen), citizen, {"address": "示范市旧地址1号"})
    complete_and_submit(start(citizen), citizen, {"address": ADDRESS})
    drafted = start(citizen)
    # A draft is not an earlier application: only submitted ones count.
    services.save_draft(drafted, actor=citizen, form_data={"address": "草稿里的地址"})
    Application.objects.filter(pk=drafted.pk).update(state="abandoned")

    assert start(citizen).form_data["address"] == ADDRESS

    long_address = "长" * 300  # longer than the field allows: not put in
    Application.objects.filter(state="submitted").update(form_data={"address": long_address})
    assert "address" not in start(citizen).form_data


# --- never another person's data ---------------------------------------------------------------------------


def test_another_citizens_earlier_applications_are_never_used(citizen: Any, other_citizen: Any) -> None:
    complete_and_submit(start(other_citizen), other_citizen, {"address": ADDRESS})

    application = start(citizen)

    assert "address" not in application.form_data
    assert ADDRESS not in str(application.form_data)
    assert application.form_data["applicant_name"] == "赵一"


def test_a_delegate_applying_for_someone_gets_no_ones_details(citizen: Any, other_citizen: Any) -> None:
    code = item_code(PERSON_ITEM)
    complete_and_submit(start(citizen), citizen, {"address": ADDRESS})
    delegation = account_services.grant_delegation(
        actor=citizen,
        agent_document_type=DocumentType.RESIDENT_ID,
        agent_document_number=full_number(other_citizen.person),
        relationship=Relationship.CHILD,
        valid_until=timezone.now() + dt.timedelta(days=30),
        scope=[code],
    )
    acting = account_services.act_for_by_delegation(actor=other_citizen, delegation=delegation, item_codes=[code])

    application = services.start_application(
        actor=other_citizen, applicant=services.applicant_for(other_citizen, acting=acting), item_code=code
    )

    # Neither the grantor's details (name, mobile, earlier address) nor the delegate's own.
    assert application.form_data == {} and application.prefilled == {}
    page = signed_in(other_citizen).get(f"/applications/{application.pk}/").content.decode()
    assert "预填" not in page and mobile_of(citizen) not in page and mobile_of(other_citizen) not in page


def test_a_counter_clerk_filling_in_for_a_citizen_gets_nothing_prefilled(citizen: Any, market: Staff) -> None:
    complete_and_submit(start(citizen), citizen, {"address": ADDRESS})
    acting = account_services.act_for_at_counter(
        actor=market.clerk,
        document_type=citizen.person.document_type,
        document_number=full_number(citizen.person),
        identity_checked_by="id_card_reader",
    )

    application = services.start_application(
        actor=market.clerk,
        applicant=services.applicant_for(market.clerk, acting=acting),
        item_code=item_code(PERSON_ITEM),
        channel="counter",
    )

    assert application.form_data == {} and application.prefilled == {}


def test_answers_given_as_a_person_do_not_fill_an_organisations_application(citizen: Any) -> None:
    complete_and_submit(start(citizen, FOOD_LICENCE), citizen, {"address": ADDRESS})
    shop = shop_of(citizen)

    for_shop = start(citizen, FOOD_LICENCE, organisation_id=shop.pk)
    as_person = start(citizen, FOOD_LICENCE)

    assert "address" not in for_shop.form_data
    assert as_person.form_data["address"] == ADDRESS


# --- changed values and the 六减 count --------------------------------------------------------------------------


def test_a_changed_value_is_kept_and_not_counted_as_saved(citizen: Any, market: Staff) -> None:
    complete_and_submit(start(citizen), citizen, {"address": ADDRESS})
    application = start(citizen)
    services.save_draft(application, actor=citizen, form_data={"contact_mobile": "13912345678"})

    # Opening the draft again keeps what the applicant typed; only the untouched fields stay marked.
    client = signed_in(citizen)
    page = client.get(f"/applications/{application.pk}/").content.decode()
    assert 'value="13912345678"' in page
    assert 'id="field-contact_mobile-prefill"' not in page
    application.refresh_from_db()
    assert application.form_data["contact_mobile"] == "13912345678"
    assert services.kept_prefills(application) == {"applicant_name": prefill.PROFILE, "address": prefill.EARLIER}

    [case] = complete_and_submit(application, citizen)

    saved = {row.field_key: row.source for row in selectors.fields_saved([case.pk])}
    assert saved == {"applicant_name": prefill.PROFILE, "address": prefill.EARLIER}
    assert selectors.case_savings(case).fields_saved == 2


def test_each_case_counts_its_fields_saved_once_and_staff_see_the_figures(citizen: Any, market: Staff) -> None:
    shop = shop_of(citizen)
    [case] = complete_and_submit(start(citizen, FOOD_LICENCE, organisation_id=shop.pk), citizen)

    saved = set(FieldSaving.objects.filter(case=case).values_list("field_key", flat=True))
    assert saved == {
        "applicant_kind",
        "organisation_name",
        "credit_code",
        "legal_representative",
        "contact_name",
        "contact_mobile",
    }
    # Counting again (a retried job) makes no second row.
    assert prefill.record_field_savings(case.application, [case], {case.item_code: definitions.for_item(case.item)})
    assert FieldSaving.objects.filter(case=case).count() == 6
    assert selectors.case_savings(case).materials_saved == 0

    page = signed_in(market.clerk).get(f"/workbench/cases/{case.number}/").content.decode()
    assert "免填字段 6 项，免交材料 0 项" in page


def test_nothing_is_counted_when_every_field_was_typed(citizen: Any) -> None:
    other = make_citizen("孙三")
    application = start(other)
    [case] = complete_and_submit(application, other, {"applicant_name": "孙三丰", "contact_mobile": "13700000000"})

    assert not FieldSaving.objects.filter(case=case).exists()
    assert selectors.case_savings(case).fields_saved == 0
