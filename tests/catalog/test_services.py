"""Versioning and the draft → review → publish flow."""

import pytest
from django.http import Http404

from yiwang.catalog import selectors, services
from yiwang.catalog.constants import ItemStatus
from yiwang.catalog.models import Bundle, BundleItem, ServiceItem
from yiwang.catalog.search.engine import catalog_search

from .factories import make_item

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_search_index")]


def test_new_version_copies_everything_and_keeps_history() -> None:
    v1 = make_item(name="测试版本事项", keywords=["版本测试"], fees=[{"name": "工本费", "amount": "10"}])
    v2 = services.start_new_version(v1, actor=None, change_note="调整承诺时限")
    assert v2.version == 2 and v2.status == ItemStatus.DRAFT
    assert [m.name for m in v2.materials.all()] == [m.name for m in v1.materials.all()]
    assert v2.steps.count() == v1.steps.count() and v2.fees.count() == 1
    v2.promised_days = 3
    v2.save()
    services.submit_for_review(v2, actor=None)
    published = services.publish_item(v2, actor=None)
    v1.refresh_from_db()
    assert v1.status == ItemStatus.SUPERSEDED
    assert published.status == ItemStatus.PUBLISHED and published.effective_date is not None
    assert selectors.get_item(v1.code).version == 2
    assert selectors.get_item(v1.code, version=1).promised_days == 5
    assert [v.version for v in selectors.item_history(v1.code)] == [2, 1]


def test_publish_requires_review_and_materials() -> None:
    draft = make_item(publish=False)
    with pytest.raises(services.CatalogError) as excinfo:
        services.publish_item(draft, actor=None)
    assert excinfo.value.code == "not_reviewable"
    empty = make_item(publish=False, materials=[])
    services.submit_for_review(empty, actor=None)
    with pytest.raises(services.CatalogError) as excinfo:
        services.publish_item(empty, actor=None)
    assert excinfo.value.code == "no_materials"
    assert ServiceItem.objects.get(pk=empty.pk).status == ItemStatus.IN_REVIEW


def test_only_one_open_draft_per_item() -> None:
    item = make_item()
    services.start_new_version(item, actor=None)
    with pytest.raises(services.CatalogError) as excinfo:
        services.start_new_version(item, actor=None)
    assert excinfo.value.code == "draft_exists"


def test_return_to_draft_needs_a_reason() -> None:
    item = make_item(publish=False)
    services.submit_for_review(item, actor=None)
    with pytest.raises(services.CatalogError):
        services.return_to_draft(item, actor=None, reason="  ")
    returned = services.return_to_draft(item, actor=None, reason="材料清单不完整")
    assert returned.status == ItemStatus.DRAFT and "材料清单不完整" in returned.change_note


def test_published_change_reaches_search_without_restart() -> None:
    item = make_item(name="测试事项甲", keywords=["独角兽孵化补贴"])
    hits, _ = selectors.search("独角兽孵化补贴")
    assert hits and hits[0].doc.code == item.code
    draft = services.start_new_version(item, actor=None)
    draft.name = "测试事项乙"
    draft.keywords = ["瞪羚企业奖励"]
    draft.save()
    services.submit_for_review(draft, actor=None)
    # Still the published version until the new one is published.
    assert selectors.search("瞪羚企业奖励")[0] == [] or selectors.search("瞪羚企业奖励")[0][0].doc.code != item.code
    services.publish_item(draft, actor=None)
    hits, _ = selectors.search("瞪羚企业奖励")
    assert hits[0].doc.code == item.code and hits[0].doc.name == "测试事项乙"
    assert all(h.doc.code != item.code for h in selectors.search("独角兽孵化补贴")[0])


def test_withdrawn_item_leaves_search_and_guide() -> None:
    item = make_item(keywords=["蓝鲸计划专项"])
    catalog_search.current()
    services.withdraw_item(item, actor=None, reason="政策到期")
    assert all(h.doc.code != item.code for h in selectors.search("蓝鲸计划专项")[0])
    with pytest.raises(Exception, match="不存在"):
        selectors.get_item(item.code)
    assert selectors.item_history(item.code)[0].status == ItemStatus.WITHDRAWN


def test_bundle_needs_published_members() -> None:
    published = make_item()
    draft = make_item(publish=False)
    bundle = Bundle.objects.create(code="test-bundle", name="测试一件事", audience="both")
    BundleItem.objects.create(bundle=bundle, item_code=published.code, order=0)
    BundleItem.objects.create(bundle=bundle, item_code=draft.code, order=1)
    with pytest.raises(services.CatalogError) as excinfo:
        services.publish_bundle(bundle, actor=None)
    assert excinfo.value.code == "bundle_members_unpublished" and draft.code in excinfo.value.detail


def test_bundle_combines_materials_once() -> None:
    view = selectors.get_bundle("open-restaurant")
    keys = [selectors.material_key(c.material) for c in view.materials]
    assert len(keys) == len(set(keys))
    shared = [c for c in view.materials if len(c.item_names) > 1]
    assert shared, "members share at least one document (e.g. the applicant's ID card)"
    assert {d.code for d in view.departments} >= {"market", "urban_management", "fire"}


def test_published_item_is_kept_per_version_and_follows_a_new_version(
    django_assert_num_queries: pytest.FixtureRequest,
) -> None:
    v1 = make_item(name="缓存版本事项")
    first = selectors.published_item(v1.code)
    with django_assert_num_queries(1):  # type: ignore[operator]
        again = selectors.published_item(v1.code)
        assert again is first and [m.name for m in again.materials.all()]  # parts came with the cached item
    v2 = services.start_new_version(v1, actor=None, change_note="新版本")
    v2.promised_days = 2
    v2.save()
    services.submit_for_review(v2, actor=None)
    services.publish_item(v2, actor=None)
    current = selectors.published_item(v1.code)
    assert current.version == 2 and current.promised_days == 2
    services.withdraw_item(current, actor=None, reason="停止办理")
    with pytest.raises(Http404):
        selectors.published_item(v1.code)


def test_publishing_needs_a_second_person(django_user_model) -> None:
    """Issue 12 item 7: four-eyes — whoever submitted a version may not publish it."""
    editor = django_user_model.objects.create_user("four-eyes-editor", password="editor-long-password")
    publisher = django_user_model.objects.create_user("four-eyes-publisher", password="publisher-long-password")
    item = make_item()
    draft = services.start_new_version(item, actor=editor)
    services.submit_for_review(draft, actor=editor)
    with pytest.raises(services.CatalogError) as refused:
        services.publish_item(draft, actor=editor)
    assert refused.value.code == "four_eyes" and refused.value.status == 403
    draft.refresh_from_db()
    assert draft.status == ItemStatus.IN_REVIEW
    published = services.publish_item(draft, actor=publisher)
    assert published.status == ItemStatus.PUBLISHED and published.reviewed_by == publisher


def test_version_changes_list_what_differs_from_the_published_version() -> None:
    item = make_item()
    assert selectors.version_changes(item) == []
    draft = services.start_new_version(item, actor=None)
    assert selectors.version_changes(draft) == []
    ServiceItem.objects.filter(pk=draft.pk).update(promised_days=2)
    draft.refresh_from_db()
    draft.materials.all().delete()
    changes = {(c.label, c.before, c.after) for c in selectors.version_changes(draft)}
    assert ("承诺办结时限（工作日）", "5", "2") in changes
    assert ("申请材料", "", "") not in changes
    assert any(
        label == "申请材料" and "申请书" in before and "原件" in before and not after
        for label, before, after in changes
    )
