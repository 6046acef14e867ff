"""The admin's draft → review → publish flow and its permissions."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from yiwang.accounts.models import RoleAssignment
from yiwang.catalog.constants import ItemStatus
from yiwang.catalog.models import ServiceItem
from yiwang.directory.models import Department

from .factories import make_item

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_search_index")]


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user("editor-x", password="editor-long-password", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="catalog", codename__in=["view_serviceitem", "change_serviceitem"]
        )
    )
    # Editors work on their own department's items (the test items belong to 市场监管局).
    RoleAssignment.objects.create(user=user, role="department_admin", department=Department.objects.get(code="market"))
    return user


@pytest.fixture
def reviewer(django_user_model):
    return django_user_model.objects.create_superuser("reviewer-x", password="reviewer-long-password")


def run_action(client: Client, action: str, item: ServiceItem):
    return client.post("/admin/catalog/serviceitem/", {"action": action, "_selected_action": [item.pk]}, follow=True)


def test_editor_submits_but_cannot_publish(client: Client, editor) -> None:
    item = make_item(publish=False)
    client.force_login(editor)
    run_action(client, "submit_for_review", item)
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_REVIEW
    response = run_action(client, "publish", item)
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_REVIEW
    assert response.status_code == 200


def test_reviewer_publishes_and_history_is_kept(client: Client, editor, reviewer) -> None:
    item = make_item()
    client.force_login(reviewer)
    run_action(client, "start_new_version", item)
    draft = ServiceItem.objects.get(code=item.code, version=2)
    # Four-eyes (issue 12 item 7): the editor submits, another person publishes.
    editor_client = Client()
    editor_client.force_login(editor)
    run_action(editor_client, "submit_for_review", draft)
    run_action(client, "publish", draft)
    draft.refresh_from_db()
    item.refresh_from_db()
    assert draft.status == ItemStatus.PUBLISHED and draft.reviewed_by == reviewer
    assert item.status == ItemStatus.SUPERSEDED


def test_published_version_is_read_only(client: Client, reviewer) -> None:
    item = make_item(name="只读测试事项")
    client.force_login(reviewer)
    page = client.get(f"/admin/catalog/serviceitem/{item.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    client.post(f"/admin/catalog/serviceitem/{item.pk}/change/", {"name": "被篡改"})
    item.refresh_from_db()
    assert item.name == "只读测试事项"
    assert client.post(f"/admin/catalog/serviceitem/{item.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ServiceItem.objects.filter(pk=item.pk).exists()


def test_publishing_twice_is_refused_with_a_message(client: Client, reviewer) -> None:
    item = make_item()
    client.force_login(reviewer)
    response = run_action(client, "publish", item)
    assert "审核后才能发布" in response.content.decode()


def test_editors_see_only_their_department(client: Client, editor) -> None:
    own = make_item(name="本部门事项甲")
    other = make_item(name="他部门事项乙", department="police")
    client.force_login(editor)
    listing = client.get("/admin/catalog/serviceitem/", {"q": "部门事项"}).content.decode()
    assert own.name in listing and other.name not in listing
    assert client.get(f"/admin/catalog/serviceitem/{other.pk}/change/").status_code in (302, 404)


def test_the_submitter_cannot_publish_their_own_version(client: Client, reviewer, django_user_model) -> None:
    item = make_item()
    client.force_login(reviewer)
    run_action(client, "start_new_version", item)
    draft = ServiceItem.objects.get(code=item.code, version=2)
    run_action(client, "submit_for_review", draft)
    response = run_action(client, "publish", draft)
    draft.refresh_from_db()
    assert draft.status == ItemStatus.IN_REVIEW
    assert "另一位审核人员" in response.content.decode()
    second = django_user_model.objects.create_superuser("reviewer-y", password="reviewer-long-password")
    other = Client()
    other.force_login(second)
    run_action(other, "publish", draft)
    draft.refresh_from_db()
    assert draft.status == ItemStatus.PUBLISHED and draft.reviewed_by == second and draft.submitted_by == reviewer


def test_the_review_page_shows_what_the_version_changes(client: Client, reviewer) -> None:
    from yiwang.catalog import services

    item = make_item(name="差异测试事项")
    draft = services.start_new_version(item, actor=None)
    ServiceItem.objects.filter(pk=draft.pk).update(name="差异测试事项（修订）", promised_days=3)
    draft.materials.create(name="营业执照副本", copies=1)
    services.submit_for_review(draft, actor=None)
    client.force_login(reviewer)
    page = client.get(f"/admin/catalog/serviceitem/{draft.pk}/change/").content.decode()
    assert "与已发布版本相比的修改" in page
    assert "差异测试事项（修订）" in page and "<del>差异测试事项</del>" in page
    assert "<ins>3</ins>" in page and "营业执照副本" in page
