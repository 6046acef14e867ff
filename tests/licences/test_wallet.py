"""我的证照: whose licences one sees, taking a material from the wallet into an application, the 六减 record,
expiry reminders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import make_citizen, make_staff
from tests.cases import builders
from tests.cases.conftest import item_code
from tests.licences.helpers import FOOD_CHANGE, food_type, issue_food_licence, run_worker, use_tmp_materials
from yiwang.accounts.constants import Role
from yiwang.accounts.models import Organisation
from yiwang.cases import definitions
from yiwang.cases import services as cases_services
from yiwang.core import calendar
from yiwang.core.identifiers import make_credit_code
from yiwang.core.models import InAppMessage, Notification
from yiwang.licences import selectors, services
from yiwang.licences.constants import LicenceEventKind
from yiwang.licences.models import Licence, MaterialSaving, WalletMaterial

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _materials(settings: Any, tmp_path: Path) -> None:
    use_tmp_materials(settings, tmp_path)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _change_application(user: Any) -> Any:
    """A draft of 食品经营许可变更, which asks for the 食品经营许可证 as an e-licence material."""
    application = cases_services.start_application(
        actor=user, applicant=cases_services.applicant_for(user), item_code=item_code(FOOD_CHANGE, "market")
    )
    builders.fill(application, user)
    return application


def _licence_material(application: Any) -> definitions.MaterialSpec:
    definition = cases_services.application_definition(application)
    return next(m for m in definition.materials if m.from_source == "食品经营许可证")


def test_the_wallet_holds_own_and_represented_organisations_licences_only() -> None:
    owner, stranger = make_citizen("周一"), make_citizen("吴二")
    own = issue_food_licence(owner)
    organisation = Organisation.objects.create(
        name="示范餐饮有限公司",
        credit_code=make_credit_code("91", "990102", "MA7X0001"),
        legal_representative=owner.person,
    )
    company = services.issue_licence(
        actor=None,
        licence_type=food_type(),
        person_id=owner.person_id,
        organisation_id=organisation.pk,
        data={"operator": organisation.name, "premises": "示范市"},
    )
    assert company.holder_organisation_id == organisation.pk and company.holder_name == organisation.name
    assert set(selectors.wallet(owner)) == {own, company}
    assert list(selectors.wallet(stranger)) == []
    with pytest.raises(services.LicenceError) as refused:
        selectors.get_own_licence(stranger, own.pk)
    assert refused.value.code == "not_found"
    # Another citizen gets the same 404 for someone's licence page and PDF as for a missing one.
    client = _client(stranger)
    for url in (f"/licences/{own.pk}/", f"/licences/{own.pk}/pdf/", "/licences/999999/"):
        assert client.get(url).status_code == 404
    page = _client(owner).get("/licences/")
    assert page.status_code == 200
    assert "示范餐饮有限公司" in page.content.decode() and own.licence_type.name in page.content.decode()


def test_staff_of_the_issuing_department_see_the_licence_and_others_do_not() -> None:
    licence = issue_food_licence(make_citizen())
    assert selectors.get_licence(make_staff(Role.REVIEWER, "market"), licence.pk) == licence
    with pytest.raises(services.LicenceError):
        selectors.get_licence(make_staff(Role.REVIEWER, "police"), licence.pk)
    assert _client(make_staff(Role.REVIEWER, "police")).get(f"/licences/desk/{licence.pk}/").status_code == 404


def test_a_material_is_taken_from_the_wallet_with_confirmation_and_counted_per_case() -> None:
    citizen = make_citizen("郑五")
    licence = issue_food_licence(citizen)
    application = _change_application(citizen)
    spec = _licence_material(application)

    offers = services.offers(citizen, application.pk, [_need(spec)])
    assert offers[spec.key].choices == ((str(licence.pk), offers[spec.key].choices[0][1]),)
    assert offers[spec.key].taken == ""

    client = _client(citizen)
    page = client.get(f"/applications/{application.pk}/").content.decode()
    assert f"从我的证照调取：{spec.name}" in page
    # Without the confirmation box ticked, nothing is taken.
    client.post(f"/applications/{application.pk}/from-wallet/", {"material_key": spec.key, "choice": licence.pk})
    assert not WalletMaterial.objects.exists()
    response = client.post(
        f"/applications/{application.pk}/from-wallet/",
        {"material_key": spec.key, "choice": licence.pk, "confirm": "yes"},
    )
    assert response.status_code == 302
    row = WalletMaterial.objects.get()
    assert row.licence == licence and row.material_key == spec.key and row.confirmed_by == citizen
    assert "已从我的证照调取" in client.get(f"/applications/{application.pk}/").content.decode()

    (case,) = cases_services.submit_application(application, actor=citizen)
    run_worker()
    run_worker()
    saving = MaterialSaving.objects.get()
    assert saving.case_id == case.pk and saving.licence == licence and saving.material_name == spec.name
    assert selectors.materials_saved_count(case.number) == 1
    assert {e.kind for e in selectors.history(licence)} >= {LicenceEventKind.USED}
    # The 六减 record is written once however often the event is handled.
    services.record_savings(case.pk)
    assert MaterialSaving.objects.count() == 1


def _need(spec: definitions.MaterialSpec) -> Any:
    from yiwang.core.material_sources import MaterialNeed

    return MaterialNeed(spec.key, spec.name, spec.from_source, spec.item_codes)


def test_someone_elses_or_a_revoked_licence_cannot_serve_as_a_material() -> None:
    citizen, other = make_citizen("王六"), make_citizen("冯七")
    others_licence = issue_food_licence(other)
    application = _change_application(citizen)
    spec = _licence_material(application)
    with pytest.raises(services.LicenceError) as refused:
        services.take_material(
            actor=citizen, application_id=application.pk, material_key=spec.key, licence_id=others_licence.pk
        )
    assert refused.value.code == "not_found"
    own = issue_food_licence(citizen)
    services.revoke_licence(own, actor=make_staff(Role.APPROVER, "market"), reason="吊销")
    with pytest.raises(services.LicenceError) as refused:
        services.take_material(actor=citizen, application_id=application.pk, material_key=spec.key, licence_id=own.pk)
    assert refused.value.code == "licence_not_usable"
    # Nor can another citizen take a material into this application, or one it does not ask for.
    with pytest.raises(services.LicenceError) as refused:
        services.take_material(
            actor=other, application_id=application.pk, material_key=spec.key, licence_id=others_licence.pk
        )
    assert refused.value.code == "not_found"
    fresh = issue_food_licence(citizen)
    with pytest.raises(services.LicenceError) as refused:
        services.take_material(actor=citizen, application_id=application.pk, material_key="m-nope", licence_id=fresh.pk)
    assert refused.value.code == "unknown_material"
    assert not WalletMaterial.objects.exists()


def test_a_submitted_application_takes_no_more_materials() -> None:
    citizen = make_citizen()
    licence = issue_food_licence(citizen)
    application = _change_application(citizen)
    spec = _licence_material(application)
    cases_services.submit_application(application, actor=citizen)
    with pytest.raises(services.LicenceError) as refused:
        services.take_material(
            actor=citizen, application_id=application.pk, material_key=spec.key, licence_id=licence.pk
        )
    assert refused.value.code == "not_a_draft"


def test_the_holder_is_reminded_once_before_expiry() -> None:
    citizen = make_citizen()
    licence = issue_food_licence(citizen)
    far = services.remind_expiry(licence.pk)
    assert far == 0  # five years away: no reminder yet
    Licence.objects.filter(pk=licence.pk).update(valid_until=calendar.today_local() + dt.timedelta(days=10))
    assert services.remind_expiry(licence.pk) == 1
    services.remind_expiry(licence.pk)  # the delayed job delivered twice
    assert Notification.objects.filter(template="licence-expiry").count() == 1
    run_worker()
    messages = InAppMessage.objects.filter(user=citizen, subject="证照即将到期")
    assert messages.count() == 1 and licence.identifier in messages.get().body
    entry = selectors.wallet_entries(citizen)[0]
    assert entry.expires_soon


def test_a_person_without_licences_sees_an_empty_wallet_and_anonymous_users_must_log_in() -> None:
    citizen = make_citizen()
    page = _client(citizen).get("/licences/")
    assert "您还没有电子证照" in page.content.decode()
    assert Client().get("/licences/").status_code == 302


def test_the_main_navigation_leads_a_signed_in_person_to_the_wallet() -> None:
    anonymous = Client().get("/").content.decode()
    assert 'href="/licences/"' not in anonymous
    page = _client(make_citizen("郑三")).get("/licences/").content.decode()
    nav = page[page.index('class="main-nav"') :]
    nav = nav[: nav.index("</nav>")]
    assert '<a href="/licences/" aria-current="page">我的证照</a>' in nav
