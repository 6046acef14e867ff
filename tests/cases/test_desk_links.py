"""The workbench links to the other staff desks (12345 hotline, 好差评) the signed-in user may use, and no others.

Which desks a user may use is the hotline's and 好差评's policies' to say;
these tests pin what a counter clerk, an approver, a supervisor and a citizen
are offered. The main navigation's 好差评 link is checked here too.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.accounts.factories import make_citizen, make_staff
from yiwang.accounts.constants import Role

pytestmark = pytest.mark.django_db

DESKS = (
    "hotline:desk",
    "hotline:supervision",
    "feedback:counter",
    "feedback:phone",
    "feedback:department",
    "exchange:desk",
)
SUPERVISION = "feedback:supervision"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def desk_links(page: str) -> set[str]:
    """The addresses listed under 其他工作台 (empty when the page has no such list)."""
    match = re.search(r'<nav class="panel" aria-labelledby="other-desks-title">(.*?)</nav>', page, re.S)
    return set(re.findall(r'href="([^"]+)"', match.group(1))) if match else set()


def workbench_links(user: Any) -> set[str]:
    response = client_for(user).get(reverse("workbench:home"))
    assert response.status_code == 200
    return desk_links(html.unescape(response.content.decode()))


def test_a_counter_clerk_is_offered_the_counter_rating_desk_but_not_supervision() -> None:
    links = workbench_links(make_staff(Role.COUNTER_CLERK, "market"))
    # The licence desk (电子证照管理) too: clerks look up the licences their department issued; and the data
    # exchange desk (数据共享交换), where they ask other departments' data services instead of the applicant; and
    # 窗口实名核验, where they record an in-person identity check (real-name level 3).
    assert links == {
        reverse("feedback:counter"),
        reverse("wallet:staff_home"),
        reverse("exchange:desk"),
        reverse("accounts:identity_check"),
    }
    assert reverse(SUPERVISION) not in links


def test_a_supervisor_is_offered_ratings_supervision_and_the_hotline_desks() -> None:
    links = workbench_links(make_staff(Role.SUPERVISOR))
    assert links == {
        reverse(SUPERVISION),
        reverse("hotline:desk"),
        reverse("hotline:supervision"),
        reverse("wallet:staff_home"),
        reverse("exchange:desk"),  # supervisors see every department's exchanges
    }
    # Counter rating codes are the clerks' alone.
    assert reverse("feedback:counter") not in links


def test_an_approver_is_offered_the_department_ratings_desk_and_the_hotline_desk() -> None:
    # Approvers answer for their department's bad ratings (appeal), handle work orders dispatched to it and
    # write its knowledge-base answers.
    links = workbench_links(make_staff(Role.APPROVER, "market"))
    assert links == {
        reverse("feedback:department"),
        reverse("hotline:desk"),
        reverse("knowledge:desk"),
        reverse("wallet:staff_home"),
        reverse("exchange:desk"),
    }


def test_staff_without_a_case_role_reach_their_desks_from_an_empty_workbench() -> None:
    operator = make_staff(Role.HOTLINE_OPERATOR)
    # The city's help line: work orders, ratings by phone, the assistant's live chats and the knowledge base.
    assert workbench_links(operator) == {
        reverse("hotline:desk"),
        reverse("feedback:phone"),
        reverse("assistant:desk"),
        reverse("knowledge:desk"),
    }
    head = make_staff(Role.DEPARTMENT_ADMIN, "market")
    assert reverse("feedback:department") in workbench_links(head)
    page = client_for(head).get(reverse("workbench:home"))
    assert page.status_code == 200 and not page.context["rows"]


def test_every_desk_offered_opens_for_the_user_it_is_offered_to() -> None:
    for user in (
        make_staff(Role.COUNTER_CLERK, "market"),
        make_staff(Role.SUPERVISOR),
        make_staff(Role.APPROVER, "market"),
    ):
        client = client_for(user)
        for url in workbench_links(user):
            assert client.get(url).status_code == 200, url


def test_a_citizen_has_no_workbench_and_no_desk_links() -> None:
    response = client_for(make_citizen("孙三")).get(reverse("workbench:home"))
    assert response.status_code == 403
    page = html.unescape(response.content.decode())
    assert desk_links(page) == set()
    for name in (*DESKS, SUPERVISION):
        assert f'href="{reverse(name)}"' not in page


def nav_link(page: str, url: str) -> str:
    match = re.search(rf'<a href="{re.escape(url)}"[^>]*>', page)
    assert match, f"no link to {url} in the page"
    return match.group(0)


@pytest.mark.parametrize(
    ("name", "args"), [("feedback:results", []), ("feedback:department_results", ["market"]), ("feedback:comments", [])]
)
def test_the_main_navigation_marks_the_ratings_link_on_the_public_results(
    client: Client, name: str, args: list[str]
) -> None:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    assert 'aria-current="page"' in nav_link(response.content.decode(), reverse("feedback:results"))


def test_the_ratings_link_is_not_current_on_other_pages(client: Client) -> None:
    page = client.get(reverse("hotline:home")).content.decode()
    assert "aria-current" not in nav_link(page, reverse("feedback:results"))


def test_the_desk_links_and_the_ratings_link_read_in_english() -> None:
    # The new strings are in the compiled English catalogue, not left in Chinese.
    client = client_for(make_staff(Role.SUPERVISOR))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = html.unescape(client.get(reverse("workbench:home")).content.decode())
    assert '<html lang="en">' in page
    assert "Other desks" in page and "Ratings supervision: suspect ratings and appeals" in page
    assert f'href="{reverse("feedback:results")}">Service ratings</a>' in page
    assert "其他工作台" not in page and ">好差评<" not in page
