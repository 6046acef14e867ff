"""Issue 12 item 13: delegation works online -- the delegate chooses 为谁办理 when applying, and the grantor
picks the services from a list instead of typing item codes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.factories import full_number, make_citizen
from yiwang.accounts import services as account_services
from yiwang.accounts.constants import Relationship
from yiwang.accounts.models import Delegation, OrganisationAgent
from yiwang.cases.models import Application
from yiwang.core.identifiers import DocumentType, make_credit_code

from .conftest import item_code

pytestmark = pytest.mark.django_db

ITEM = "户籍证明开具"  # applied for online by a person


def _delegate(grantor: Any, agent: Any, scope: list[str]) -> Delegation:
    return account_services.grant_delegation(
        actor=grantor,
        agent_document_type=DocumentType.RESIDENT_ID,
        agent_document_number=full_number(agent.person),
        relationship=Relationship.CHILD,
        valid_until=timezone.now() + dt.timedelta(days=30),
        scope=scope,
    )


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_delegate_applies_for_the_grantor(citizen: Any, other_citizen: Any) -> None:
    code = item_code(ITEM)
    delegation = _delegate(citizen, other_citizen, [code])
    delegate = _signed_in(other_citizen)

    page = delegate.get(f"/apply/item/{code}/").content.decode()
    assert "为谁办理" in page and f'value="delegation:{delegation.pk}"' in page and citizen.person.name in page

    response = delegate.post(f"/apply/item/{code}/", {"applicant": f"delegation:{delegation.pk}"})
    assert response.status_code == 302
    application = Application.objects.get()
    assert application.applicant_person_id == citizen.person.pk
    assert application.created_by_id == other_citizen.pk and application.agent_id == other_citizen.pk


def test_the_guides_button_asks_for_whom_when_the_user_holds_a_delegation(citizen: Any, other_citizen: Any) -> None:
    code = item_code(ITEM)
    _delegate(citizen, other_citizen, [code])
    # Without a delegation, 在线办理 on the guide opens the draft at once ...
    assert "/applications/" in _signed_in(citizen).post(f"/apply/item/{code}/")["Location"]
    # ... with one, it first asks 为谁办理.
    response = _signed_in(other_citizen).post(f"/apply/item/{code}/")
    assert response.status_code == 302 and response["Location"] == f"/apply/item/{code}/"
    assert Application.objects.count() == 1


def test_a_delegation_for_another_item_is_not_offered_nor_accepted(citizen: Any, other_citizen: Any) -> None:
    code = item_code(ITEM)
    delegation = _delegate(citizen, other_citizen, ["SOME-OTHER-ITEM"])
    delegate = _signed_in(other_citizen)
    assert f"delegation:{delegation.pk}" not in delegate.get(f"/apply/item/{code}/").content.decode()
    refused = delegate.post(f"/apply/item/{code}/", {"applicant": f"delegation:{delegation.pk}"})
    assert refused.status_code == 403
    assert not Application.objects.exists()


def test_nobody_applies_through_someone_elses_delegation(citizen: Any, other_citizen: Any) -> None:
    code = item_code(ITEM)
    delegation = _delegate(citizen, other_citizen, [code])
    stranger = _signed_in(make_citizen("孙三"))
    response = stranger.post(f"/apply/item/{code}/", {"applicant": f"delegation:{delegation.pk}"})
    assert response.status_code == 404
    # The grantor cannot use their own delegation as if they were the delegate either.
    own = _signed_in(citizen).post(f"/apply/item/{code}/", {"applicant": f"delegation:{delegation.pk}"})
    assert own.status_code == 403
    assert not Application.objects.exists()


def test_the_grantor_picks_services_from_a_list(citizen: Any, other_citizen: Any) -> None:
    code = item_code(ITEM)
    grantor = _signed_in(citizen)
    page = grantor.get("/accounts/delegations/new/").content.decode()
    assert 'type="checkbox"' in page and f'value="{code}"' in page and ITEM in page

    response = grantor.post(
        "/accounts/delegations/new/",
        {
            "agent_document_type": DocumentType.RESIDENT_ID,
            "agent_document_number": full_number(other_citizen.person),
            "relationship": Relationship.CHILD,
            "valid_until": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            "scope": [code],
        },
    )
    assert response.status_code == 302
    assert Delegation.objects.get().scope == [code]

    typed = grantor.post(
        "/accounts/delegations/new/",
        {
            "agent_document_type": DocumentType.RESIDENT_ID,
            "agent_document_number": full_number(other_citizen.person),
            "relationship": Relationship.CHILD,
            "valid_until": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            "scope": ["NOT-A-SERVICE"],
        },
    )
    assert typed.status_code == 200 and "scope" in typed.context["form"].errors


def test_the_organisation_picks_its_agent_s_services_from_a_list(citizen: Any, other_citizen: Any) -> None:
    """The organisation's agent acts on the services offered to legal persons, picked like a delegation's."""
    organisation = account_services.register_organisation(
        actor=citizen, name="示范市赵记餐饮有限公司", credit_code=make_credit_code("91", "990100", "MA01B2C4")
    )
    for_organisations = item_code("企业变更登记")
    for_both = item_code("食品经营许可")
    person_only = item_code(ITEM)
    url = f"/accounts/organisations/{organisation.pk}/"
    boss = _signed_in(citizen)
    page = boss.get(url).content.decode()
    assert 'type="checkbox"' in page
    assert f'value="{for_organisations}"' in page and f'value="{for_both}"' in page
    assert f'value="{person_only}"' not in page

    def add(scope: list[str]) -> Any:
        return boss.post(
            url,
            {
                "agent_document_type": DocumentType.RESIDENT_ID,
                "agent_document_number": full_number(other_citizen.person),
                "valid_until": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
                "scope": scope,
            },
        )

    refused = add([person_only])
    assert refused.status_code == 200 and "scope" in refused.context["form"].errors
    assert not OrganisationAgent.objects.exists()
    assert add([for_organisations, for_both]).status_code == 302
    assert OrganisationAgent.objects.get().scope == [for_organisations, for_both]
    # Someone who does not represent the organisation does not see its page.
    assert _signed_in(make_citizen("孙三")).get(url).status_code == 404


RETIREMENT_BUNDLE = "retirement"  # a person's 一件事 a grown-up child often applies for on a parent's behalf
RETIREMENT_ITEMS = ("职工基本养老保险待遇申领", "住房公积金提取")


def test_the_delegate_applies_for_a_whole_bundle(citizen: Any, other_citizen: Any) -> None:
    delegation = _delegate(citizen, other_citizen, [item_code(name) for name in RETIREMENT_ITEMS])
    delegate = _signed_in(other_citizen)
    url = f"/apply/bundle/{RETIREMENT_BUNDLE}/"

    page = delegate.get(url).content.decode()
    assert "为谁办理" in page and f'value="delegation:{delegation.pk}"' in page
    # The bundle's 在线办理 button asks for whom first, as a single item's does.
    assert delegate.post(url)["Location"] == url
    response = delegate.post(url, {"applicant": f"delegation:{delegation.pk}"})
    assert response.status_code == 302
    application = Application.objects.get()
    assert application.bundle_code == RETIREMENT_BUNDLE
    assert application.applicant_person_id == citizen.person.pk and application.agent_id == other_citizen.pk


def test_a_delegation_of_part_of_a_bundle_does_not_cover_the_bundle(citizen: Any, other_citizen: Any) -> None:
    delegation = _delegate(citizen, other_citizen, [item_code(RETIREMENT_ITEMS[0])])
    delegate = _signed_in(other_citizen)
    url = f"/apply/bundle/{RETIREMENT_BUNDLE}/"
    assert f"delegation:{delegation.pk}" not in delegate.get(url).content.decode()
    refused = delegate.post(url, {"applicant": f"delegation:{delegation.pk}"})
    assert refused.status_code == 403
    assert not Application.objects.exists()
