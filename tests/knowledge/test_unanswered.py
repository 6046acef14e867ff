"""Questions nobody could answer: stored without personal numbers, grouped, drafted from or dismissed."""

from __future__ import annotations

from typing import Any

import pytest

from yiwang.core.models import AuditEvent
from yiwang.knowledge import selectors, services
from yiwang.knowledge.constants import QuestionStatus
from yiwang.knowledge.models import UnansweredQuestion

from .conftest import content

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("asked", "secret"),
    [
        ("我的身份证号11010519491231002X，怎么查社保", "11010519491231002X"),
        ("身份证110105194912310021丢了", "110105194912310021"),
        ("老身份证号码110105491231002还能用吗", "110105491231002"),
        ("电话13812345678没人接", "13812345678"),
        ("打我电话138-1234-5678", "138-1234-5678"),
        ("我的手机是+86 138 1234 5678", "138 1234 5678"),
        ("手机１３８１２３４５６７８收不到验证码", "１３８１２３４５６７８"),
        ("座机0771-12345678怎么登记", "12345678"),
        ("银行卡6222021234567890123绑定失败", "6222021234567890123"),
        ("发到zhang.san@example.com行吗", "zhang.san@example.com"),
    ],
)
def test_personal_numbers_are_masked_before_storing(asked: str, secret: str) -> None:
    services.record_unanswered_question(asked, channel="assistant", conversation_reference="conv-1")
    stored = UnansweredQuestion.objects.get()
    assert secret not in stored.text and secret not in stored.normalised
    assert "＊＊＊" in stored.text
    # The rest of the question stays as asked (the punctuation too).
    assert stored.text[:2] == asked[:2]


def test_nothing_about_who_asked_is_kept() -> None:
    services.record_unanswered_question(
        "公租房怎么申请", channel="Assistant ", conversation_reference="会话13812345678"
    )
    stored = UnansweredQuestion.objects.get()
    assert stored.channel == "assistant" and "13812345678" not in stored.conversation_reference
    names = {field.name for field in UnansweredQuestion._meta.get_fields()}
    assert not names & {"user", "person", "ip", "phone", "caller"}
    services.record_unanswered_question("  ，。  ", channel="web")  # nothing to keep
    assert UnansweredQuestion.objects.count() == 1


def test_repeats_are_grouped_by_normalised_text() -> None:
    for text, channel in [
        ("公租房怎么申请？", "assistant"),
        ("公租房怎么申请", "web"),
        ("公租房怎麼申請!", "hotline"),
        ("老年证在哪办", "assistant"),
    ]:
        services.record_unanswered_question(text, channel=channel)
    groups = selectors.unanswered_groups()
    assert [(group.count, group.channels) for group in groups] == [
        (3, ("assistant", "hotline", "web")),
        (1, ("assistant",)),
    ]
    assert groups[0].text == "公租房怎麼申請!"  # the newest wording
    assert groups[0].last_asked >= groups[1].last_asked or groups[0].count > groups[1].count


def test_a_draft_from_a_question_takes_its_group_off_the_list(police_writer: Any) -> None:
    services.record_unanswered_question("户口迁移要多久", channel="assistant")
    services.record_unanswered_question("户口迁移要多久？", channel="web")
    (group,) = selectors.unanswered_groups()
    version = services.create_entry(
        actor=police_writer,
        department_code="police",
        content=content(questions=[group.text], answer="一般5个工作日。"),
        from_question=group.question_id,
    )
    assert selectors.unanswered_groups() == []
    handled = UnansweredQuestion.objects.all()
    assert {q.status for q in handled} == {QuestionStatus.DRAFTED} and {q.entry_id for q in handled} == {
        version.entry_id
    }
    assert AuditEvent.objects.filter(event="knowledge.question_drafted").exists()
    # A question already handled cannot be drafted from again.
    with pytest.raises(services.KnowledgeError) as refused:
        services.create_entry(
            actor=police_writer, department_code="police", content=content(), from_question=group.question_id
        )
    assert refused.value.code == "question_handled"


def test_dismissing_needs_the_role_and_is_audited(police_writer: Any, operator: Any, police_admin: Any) -> None:
    services.record_unanswered_question("你们几点下班", channel="web")
    services.record_unanswered_question("你们几点下班", channel="web")
    (group,) = selectors.unanswered_groups()
    with pytest.raises(services.KnowledgeError) as refused:
        services.dismiss_question(group.question_id, actor=police_writer)
    assert refused.value.code == "forbidden"
    assert services.dismiss_question(group.question_id, actor=operator) == 2
    assert selectors.unanswered_groups() == []
    assert AuditEvent.objects.filter(event="knowledge.question_dismissed").get().detail == {"questions": 2}
    with pytest.raises(services.KnowledgeError) as again:
        services.dismiss_question(group.question_id, actor=police_admin)
    assert again.value.code == "question_handled"
    with pytest.raises(services.KnowledgeError) as missing:
        services.dismiss_question(999999, actor=operator)
    assert missing.value.status == 404
