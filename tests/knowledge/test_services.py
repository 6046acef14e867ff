"""Versions of knowledge-base entries: draft → review → publish, four-eyes, history, withdrawal, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.accounts.factories import make_staff
from yiwang.accounts.constants import Role
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core.models import AuditEvent, OutboxEvent
from yiwang.knowledge import selectors, services
from yiwang.knowledge.constants import VersionStatus
from yiwang.knowledge.models import EntryVersion

from .conftest import content, published

pytestmark = pytest.mark.django_db


def audit_events(entry_id: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(target=f"knowledge.Entry:{entry_id}")
        .order_by("sequence")
        .values_list("event", flat=True)
    )


def test_a_draft_is_submitted_and_published_by_another_administrator(police_writer: Any, police_admin: Any) -> None:
    draft = services.create_entry(actor=police_writer, department_code="police", content=content())
    assert draft.status == VersionStatus.DRAFT and draft.version == 1
    assert selectors.search_entries("身份证丢了怎么补办") == []  # a draft is not served
    submitted = services.submit_for_review(draft, actor=police_writer)
    assert submitted.status == VersionStatus.IN_REVIEW and submitted.submitted_by == police_writer
    version = services.publish_version(draft, actor=police_admin)
    assert version.status == VersionStatus.PUBLISHED and version.published_by == police_admin
    assert selectors.public_entry(version.entry_id).pk == version.pk
    assert audit_events(version.entry_id) == [
        "knowledge.draft_created",
        "knowledge.submitted",
        "knowledge.published",
    ]
    # The vectors are left to the worker, after commit.
    assert OutboxEvent.objects.filter(topic=services.PUBLISHED_TOPIC, payload={"version_id": version.pk}).exists()


def test_the_author_cannot_publish_their_own_version(police_admin: Any) -> None:
    draft = services.create_entry(actor=police_admin, department_code="police", content=content())
    services.submit_for_review(draft, actor=police_admin)
    with pytest.raises(services.KnowledgeError) as refused:
        services.publish_version(draft, actor=police_admin)
    assert refused.value.code == "four_eyes" and refused.value.status == 403
    draft.refresh_from_db()
    assert draft.status == VersionStatus.IN_REVIEW
    denial = AuditEvent.objects.filter(event="permission.denied", target=f"knowledge.Entry:{draft.entry_id}").get()
    assert denial.detail["reason"] == "four_eyes"


def test_whoever_last_edited_the_draft_cannot_publish_it(police_writer: Any, police_admin: Any) -> None:
    draft = services.create_entry(actor=police_writer, department_code="police", content=content())
    services.update_draft(draft, actor=police_admin, content=content(answer="改过的答复。"))
    services.submit_for_review(draft, actor=police_writer)
    with pytest.raises(services.KnowledgeError) as refused:
        services.publish_version(draft, actor=police_admin)
    assert refused.value.code == "four_eyes"
    # Another administrator of the department may.
    assert services.publish_version(draft, actor=make_staff(Role.DEPARTMENT_ADMIN, "police")).status == "published"


@pytest.mark.parametrize("publisher", ["market_admin", "police_reviewer", "operator"])
def test_only_the_departments_administrators_publish(police_writer: Any, publisher: str, request: Any) -> None:
    actor = {
        "market_admin": lambda: request.getfixturevalue("market_admin"),
        "police_reviewer": lambda: make_staff(Role.REVIEWER, "police"),
        "operator": lambda: request.getfixturevalue("operator"),
    }[publisher]()
    draft = services.create_entry(actor=police_writer, department_code="police", content=content())
    services.submit_for_review(draft, actor=police_writer)
    with pytest.raises(services.KnowledgeError) as refused:
        services.publish_version(draft, actor=actor)
    assert refused.value.code == "forbidden" and refused.value.status == 403
    with pytest.raises(services.KnowledgeError):
        services.return_to_draft(draft, actor=actor, reason="不对")
    assert EntryVersion.objects.get(pk=draft.pk).status == VersionStatus.IN_REVIEW


def test_a_platform_administrator_publishes_for_any_department(police_writer: Any) -> None:
    admin = make_staff(Role.PLATFORM_ADMIN)
    draft = services.create_entry(actor=police_writer, department_code="police", content=content())
    services.submit_for_review(draft, actor=police_writer)
    assert services.publish_version(draft, actor=admin).status == VersionStatus.PUBLISHED


def test_staff_draft_only_for_their_department_but_operators_for_any(
    police_writer: Any, operator: Any, citizen: Any, market_admin: Any
) -> None:
    with pytest.raises(services.KnowledgeError) as refused:
        services.create_entry(actor=police_writer, department_code="market", content=content())
    assert refused.value.code == "forbidden"
    with pytest.raises(services.KnowledgeError):
        services.create_entry(actor=citizen, department_code="police", content=content())
    with pytest.raises(services.KnowledgeError):
        services.create_entry(
            actor=make_staff(Role.COUNTER_CLERK, "police"), department_code="police", content=content()
        )
    draft = services.create_entry(actor=operator, department_code="market", content=content())
    services.submit_for_review(draft, actor=operator)
    # The operator's draft is published by the owning department, not by the hotline.
    assert services.publish_version(draft, actor=market_admin).status == VersionStatus.PUBLISHED


def test_a_return_needs_a_reason_and_sends_the_version_back(police_writer: Any, police_admin: Any) -> None:
    draft = services.create_entry(actor=police_writer, department_code="police", content=content())
    services.submit_for_review(draft, actor=police_writer)
    with pytest.raises(services.KnowledgeError) as refused:
        services.return_to_draft(draft, actor=police_admin, reason="  ")
    assert refused.value.code == "reason_required"
    returned = services.return_to_draft(draft, actor=police_admin, reason="工本费金额请核实")
    assert returned.status == VersionStatus.DRAFT and returned.return_reason == "工本费金额请核实"
    with pytest.raises(services.KnowledgeError) as not_in_review:
        services.publish_version(draft, actor=police_admin)
    assert not_in_review.value.code == "not_in_review" and not_in_review.value.status == 409
    services.update_draft(draft, actor=police_writer, content=content(answer="补领工本费20元，可邮寄。"))
    services.submit_for_review(draft, actor=police_writer)
    assert EntryVersion.objects.get(pk=draft.pk).return_reason == ""
    assert "knowledge.returned" in audit_events(draft.entry_id)


def test_each_published_version_is_kept_and_the_diff_shows_the_change(police_writer: Any, police_admin: Any) -> None:
    first = published(police_writer, police_admin)
    with pytest.raises(services.KnowledgeError) as published_is_fixed:
        services.update_draft(first, actor=police_writer, content=content(answer="直接改已发布的"))
    assert published_is_fixed.value.code == "not_draft"
    second = services.start_new_version(first.entry_id, actor=police_writer, change_note="工本费调整")
    assert second.version == 2 and second.questions == first.questions and second.status == VersionStatus.DRAFT
    with pytest.raises(services.KnowledgeError) as one_open:
        services.start_new_version(first.entry_id, actor=police_writer)
    assert one_open.value.code == "open_version_exists"
    # While the new version is drafted, the public still gets the first.
    assert selectors.public_entry(first.entry_id).version == 1
    changed = content(answer="携带户口簿到派出所申请补领，工本费40元。", questions=["身份证丢了怎么补办"])
    services.update_draft(second, actor=police_writer, content=changed)
    services.submit_for_review(second, actor=police_writer)
    services.publish_version(second, actor=police_admin)
    versions = {v.version: v.status for v in EntryVersion.objects.filter(entry_id=first.entry_id)}
    assert versions == {1: VersionStatus.SUPERSEDED, 2: VersionStatus.PUBLISHED}
    assert selectors.public_entry(first.entry_id).version == 2
    second.refresh_from_db()
    first.refresh_from_db()
    changes = {change.label: change for change in selectors.version_diff(first, second)}
    assert set(changes) == {"问法", "答复"}
    assert "20元" in changes["答复"].before and "40元" in changes["答复"].after
    # Question forms are compared line by line: the dropped phrasing is marked as removed.
    assert ("-", "居民身份证遗失如何补领") in changes["问法"].lines
    assert selectors.previous_public_version(second).pk == first.pk


def test_withdrawing_takes_an_entry_off_the_public(police_writer: Any, police_admin: Any) -> None:
    version = published(police_writer, police_admin)
    with pytest.raises(services.KnowledgeError):
        services.withdraw_entry(version.entry_id, actor=police_admin, reason="")
    with pytest.raises(services.KnowledgeError) as refused:
        services.withdraw_entry(version.entry_id, actor=police_writer, reason="政策已变")
    assert refused.value.code == "forbidden"
    services.withdraw_entry(version.entry_id, actor=police_admin, reason="政策已变")
    assert selectors.search_entries("身份证丢了怎么补办") == []
    assert selectors.published_entry(version.entry_id) is None
    assert "knowledge.withdrawn" in audit_events(version.entry_id)


def test_item_codes_must_be_published_items(police_writer: Any) -> None:
    item = catalog_selectors.published_items(department="police").first()
    assert item is not None
    version = services.create_entry(
        actor=police_writer, department_code="police", content=content(item_codes=[item.code, item.code])
    )
    assert version.item_codes == [item.code]
    with pytest.raises(services.KnowledgeError) as refused:
        services.create_entry(
            actor=police_writer, department_code="police", content=content(item_codes=[item.code, "NO-SUCH-ITEM"])
        )
    assert refused.value.code == "unknown_items" and refused.value.field == "item_codes"
    assert "NO-SUCH-ITEM" in refused.value.message


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"questions": ["", "  "]}, "questions_required"),
        ({"questions": ["问" * 201]}, "question_too_long"),
        ({"answer": "  "}, "answer_required"),
        ({"kind": "gossip"}, "bad_kind"),
        ({"source_url": "javascript:alert(1)"}, "bad_source_url"),
        ({"valid_from": dt.date(2027, 1, 2), "valid_until": dt.date(2027, 1, 1)}, "bad_validity"),
    ],
)
def test_bad_content_is_refused(police_writer: Any, changes: dict[str, Any], code: str) -> None:
    with pytest.raises(services.KnowledgeError) as refused:
        services.create_entry(actor=police_writer, department_code="police", content=content(**changes))
    assert refused.value.code == code and refused.value.status == 400
    assert not EntryVersion.objects.exists()


def test_repeated_phrasings_are_kept_once(police_writer: Any) -> None:
    version = services.create_entry(
        actor=police_writer,
        department_code="police",
        content=content(questions=["身份证丢了怎么补办", "身份証丟了怎麼補辦", " 身份证丢了怎么补办 "]),
    )
    assert version.questions == ["身份证丢了怎么补办"]
