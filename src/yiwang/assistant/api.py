"""智能客服 API under /api/v1/assistant/: ask a question, read a conversation (for polling).

Anyone may ask, signed in or not. A conversation is bound to the account that started it, or, for an
anonymous visitor, to the session (the answer sets its cookie); the ``conversation`` parameter of
someone else's conversation answers 404, like a missing one. Empty and over-long questions are 422
problems; the text of every answer comes from the catalogue's guides or the knowledge base, with the
item, bundle or entry it comes from first in ``sources``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from yiwang.assistant import selectors, services
from yiwang.assistant.models import Conversation, Turn
from yiwang.assistant.session import remember, session_references
from yiwang.core.problems import problems

router = Router(tags=["智能客服 assistant"])

Reference = Annotated[str, Field(max_length=32, pattern=r"^[-_A-Za-z0-9]*$")]


class SourceOut(Schema):
    type: Literal["item", "bundle", "knowledge"]
    name: str
    url: str
    code: str


class ChoiceOut(Schema):
    type: str
    code: str
    name: str


class AnswerParams(Schema):
    # Checked by the service (problem code empty_question / question_too_long), not here.
    q: str = ""
    conversation: Reference = ""
    # A choice offered by a clarifying question (its code), instead of typing it.
    choice: Annotated[str, Field(max_length=80)] = ""
    channel: Literal["web", "mobile", "kiosk", "api"] = "api"
    # Consent to keep the conversation (signed-in people only), asked with the first question.
    keep: bool = False


class AnswerOut(Schema):
    conversation: str
    status: str
    kind: Literal["answer", "clarify", "decline", "waiting"]
    answered: bool
    aspect: Literal["materials", "fees", "time", "place", "conditions", "online"] | None
    text: str
    sources: list[SourceOut]
    choices: list[ChoiceOut]


class TurnOut(Schema):
    id: int
    sender: str
    text: str
    answered: bool | None
    aspect: str | None
    sources: list[SourceOut]
    choices: list[ChoiceOut]


class ConversationOut(Schema):
    conversation: str
    status: str
    kept: bool
    work_order_number: str
    turns: list[TurnOut]


class TurnParams(Schema):
    after: Annotated[int, Field(ge=0)] = 0


def turn_out(turn: Turn) -> TurnOut:
    return TurnOut(
        id=turn.pk,
        sender=turn.sender,
        text=turn.text,
        answered=turn.answered,
        aspect=turn.aspect or None,
        sources=[SourceOut(**source) for source in turn.sources],
        choices=[ChoiceOut(**choice) for choice in turn.choices],
    )


def _conversation(request: HttpRequest, params: AnswerParams) -> Conversation:
    if params.conversation:
        return selectors.own_conversation(request.user, params.conversation, session_references(request))
    conversation = services.start_conversation(user=request.user, channel=params.channel, keep=params.keep)
    remember(request, conversation)
    return conversation


@router.get(
    "/answer",
    response={200: AnswerOut, **problems(404, 409, 422)},
    auth=None,
    url_name="assistant_answer",
    summary="智能客服：回答一个问题（可带会话编号追问）",
)
def answer(request: HttpRequest, params: Query[AnswerParams]) -> AnswerOut:
    """Answer ``q`` from the catalogue and the knowledge base; ask which item was meant, or decline."""
    question = services.clean_question(params.q)
    conversation = _conversation(request, params)
    exchange = services.ask(conversation, question, choice=params.choice)
    result = exchange.result
    if result is None:  # handed to staff: the question waits for them
        return AnswerOut(
            conversation=conversation.reference,
            status=conversation.status,
            kind="waiting",
            answered=False,
            aspect=None,
            text="",
            sources=[],
            choices=[],
        )
    return AnswerOut(
        conversation=conversation.reference,
        status=conversation.status,
        kind=result.kind,  # type: ignore[arg-type]
        answered=result.answered,
        aspect=result.aspect,  # type: ignore[arg-type]
        text=result.text,
        sources=[SourceOut.model_validate(source.as_dict()) for source in result.sources],
        choices=[ChoiceOut(**choice) for choice in result.choices],
    )


@router.get(
    "/conversations/{reference}",
    response={200: ConversationOut, **problems(404, 422)},
    auth=None,
    url_name="assistant_conversation",
    summary="智能客服：读取本人的会话（可只取某条之后的记录，用于轮询人工回复）",
)
def conversation(request: HttpRequest, reference: Reference, params: Query[TurnParams]) -> ConversationOut:
    """One's own conversation, its turns after ``after`` (a turn id)."""
    found = selectors.own_conversation(request.user, reference, session_references(request))
    return ConversationOut(
        conversation=found.reference,
        status=found.status,
        kept=found.kept,
        work_order_number=found.work_order_number,
        turns=[turn_out(turn) for turn in selectors.turns(found, after=params.after)],
    )
