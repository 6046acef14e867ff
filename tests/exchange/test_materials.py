"""免提交 for real: a 部门共享获取 material is fetched (consent first when conditional), shown, confirmed,
attached with its exchange id and counted; faults fall back to upload without blocking the case."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.cases import builders
from tests.cases.conftest import item_code
from tests.exchange.conftest import add_insurance
from yiwang.accounts.models import DataAccessRecord
from yiwang.cases import services as case_services
from yiwang.cases.definitions import applicable
from yiwang.core import outbox
from yiwang.exchange import selectors, services
from yiwang.exchange.models import Consent, DataService, ExchangeRecord, SharedMaterial

pytestmark = pytest.mark.django_db

SETTLEMENT = "人才引进落户"  # police; its 就业或创业证明 comes from 社会保险参保信息 (有条件共享)


def _draft(user: Any) -> tuple[Any, str]:
    application = case_services.start_application(
        actor=user, applicant=case_services.applicant_for(user), item_code=item_code(SETTLEMENT, "police")
    )
    builders.fill(application, user)
    definition = case_services.application_definition(application)
    chosen = builders.answer_all(definition)
    shared = [m for m in applicable(definition, chosen).materials if m.from_source == "社会保险参保信息"]
    assert shared, "the seed item no longer asks for the shared material"
    return application, shared[0].key


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(application: Any, key: str) -> str:
    return reverse("exchange:material", args=[application.pk, key])


def test_the_application_page_links_the_shared_material(catalogue: None, citizen: Any) -> None:
    application, key = _draft(citizen)
    page = _client(citizen).get(reverse("cases:application", args=[application.pk]))
    assert _url(application, key) in page.content.decode()


def test_consent_fetch_confirm_submit_and_count(catalogue: None, citizen: Any) -> None:
    add_insurance(citizen.person)
    application, key = _draft(citizen)
    client = _client(citizen)
    first = client.get(_url(application, key)).content.decode()
    assert "授权并获取" in first  # conditional: consent comes first
    # Fetching without consent is refused and nothing is fetched.
    client.post(_url(application, key), {"action": "fetch"})
    assert not SharedMaterial.objects.filter(application_id=application.pk).exists()
    response = client.post(_url(application, key), {"action": "consent", "agree": "yes", "days": "30"})
    assert response.status_code == 302
    row = SharedMaterial.objects.get(application_id=application.pk, material_key=key)
    assert services.material_data(row)["status"] == "正常参保"
    consent = Consent.objects.get(person=citizen.person)
    assert consent.consumer.code == "police" and consent.application_id == application.pk
    page = client.get(_url(application, key)).content.decode()
    assert "正常参保" in page and row.exchange.exchange_id in page
    client.post(_url(application, key), {"action": "confirm", "confirm": "yes"})
    row.refresh_from_db()
    assert row.confirmed_by == citizen
    (case,) = case_services.submit_application(application, actor=citizen)
    while outbox.process_batch("test-worker"):
        pass
    (saving,) = selectors.materials_saved([case.pk])
    assert saving.exchange_id == row.exchange.exchange_id
    assert selectors.materials_saved_count(case.number) == 1
    access = DataAccessRecord.objects.get(person=citizen.person, exchange_id=row.exchange.exchange_id)
    assert access.department_name == "示范市公安局"


def test_revoked_consent_stops_further_fetches(catalogue: None, citizen: Any) -> None:
    add_insurance(citizen.person)
    application, key = _draft(citizen)
    client = _client(citizen)
    client.post(_url(application, key), {"action": "consent", "agree": "yes", "days": "30"})
    consent = Consent.objects.get(person=citizen.person)
    services.revoke_consent(actor=citizen, consent_id=consent.pk)
    with pytest.raises(services.ExchangeError) as caught:
        services.fetch_material(actor=citizen, application_id=application.pk, material_key=key)
    assert caught.value.code == "consent_revoked"
    assert ExchangeRecord.objects.filter(refusal_code="consent_revoked").count() == 1


def test_stale_data_must_be_fetched_again_before_confirming(catalogue: None, citizen: Any) -> None:
    add_insurance(citizen.person)
    application, key = _draft(citizen)
    services.give_consent(actor=citizen, service_code="social_insurance", days=30, purpose="办事")
    row = services.fetch_material(actor=citizen, application_id=application.pk, material_key=key)
    SharedMaterial.objects.filter(pk=row.pk).update(fetched_at=timezone.now() - dt.timedelta(hours=25))
    with pytest.raises(services.ExchangeError) as caught:
        services.confirm_material(actor=citizen, application_id=application.pk, material_key=key)
    assert caught.value.code == "stale"
    fresh = services.fetch_material(actor=citizen, application_id=application.pk, material_key=key)
    assert fresh.exchange_id != row.exchange_id
    services.confirm_material(actor=citizen, application_id=application.pk, material_key=key)


def test_provider_down_falls_back_to_upload_and_the_case_is_not_blocked(catalogue: None, citizen: Any) -> None:
    add_insurance(citizen.person)
    application, key = _draft(citizen)
    services.give_consent(actor=citizen, service_code="social_insurance", days=30, purpose="办事")
    DataService.objects.filter(code="social_insurance").update(transport="node-down")
    response = _client(citizen).post(_url(application, key), {"action": "fetch"})
    assert response.status_code == 503
    page = response.content.decode()
    assert "暂时不可用" in page and reverse("cases:application_upload", args=[application.pk]) in page
    (case,) = case_services.submit_application(application, actor=citizen)
    assert case.number


def test_someone_else_cannot_open_or_fetch_the_material(catalogue: None, citizen: Any, other_citizen: Any) -> None:
    application, key = _draft(citizen)
    client = _client(other_citizen)
    assert client.get(_url(application, key)).status_code == 404
    assert client.post(_url(application, key), {"action": "fetch"}).status_code == 404
    assert _client(citizen).get(reverse("exchange:material", args=[application.pk, "m_nothere"])).status_code == 404


def test_offers_follow_the_applicant_kind_and_let_the_wallet_go_first(catalogue: None, citizen: Any) -> None:
    from yiwang.core import material_sources

    application, _key = _draft(citizen)
    needs = [
        material_sources.MaterialNeed("m_book", "居民户口簿", "居民户口簿"),
        material_sources.MaterialNeed("m_licence", "营业执照", "营业执照"),
    ]
    offers = services.material_offers(citizen, application.pk, needs)
    assert offers["m_book"].review_url == _url(application, "m_book")
    assert "m_licence" not in offers  # a person applying alone has no register entry to fetch
    # The wallet sorts first, so a licence the applicant holds is offered before a data service.
    assert sorted(material_sources._providers)[:2] == ["licence_wallet", "shared_data"]


def test_an_organisations_licence_is_fetched_listed_for_its_representative_and_counted(
    catalogue: None, citizen: Any, other_citizen: Any
) -> None:
    from yiwang.accounts import services as account_services
    from yiwang.cases import selectors as case_selectors
    from yiwang.exchange.demo import SNACK_SHOP

    shop = account_services.register_organisation(actor=citizen, name="示范区张三小吃店", credit_code=SNACK_SHOP)
    application = case_services.start_application(
        actor=citizen,
        applicant=case_services.applicant_for(citizen, organisation_id=shop.pk),
        item_code=item_code("食品经营许可", "market"),
    )
    builders.fill(application, citizen)
    definition = case_services.application_definition(application)
    (spec,) = [m for m in definition.materials if m.from_source == "营业执照"]
    client = _client(citizen)
    assert "授权并获取" not in client.get(_url(application, spec.key)).content.decode()  # shared unconditionally
    client.post(_url(application, spec.key), {"action": "fetch"})
    client.post(_url(application, spec.key), {"action": "confirm", "confirm": "yes"})
    row = SharedMaterial.objects.get(application_id=application.pk, material_key=spec.key)
    assert row.confirmed_at is not None and services.material_data(row)["name"] == "示范区张三小吃店"

    # 谁用了我的数据: the organisation's exchange is listed for its legal representative, for nobody else.
    assert [r.exchange_id for r in selectors.my_exchanges(citizen)] == [row.exchange.exchange_id]
    assert list(selectors.my_exchanges(other_citizen)) == []
    page = client.get(reverse("exchange:consents")).content.decode()
    assert row.exchange.exchange_id in page

    (case,) = case_services.submit_application(application, actor=citizen)
    while outbox.process_batch("test-worker"):
        pass
    # 六减 on the case: the shared 营业执照 beside the fields prefilled from the organisation's registration.
    savings = case_selectors.case_savings(case)
    assert savings.materials_saved == 1
    assert selectors.materials_saved_counts([case.number, "MARKET-20000101-000001"]) == {case.number: 1}
