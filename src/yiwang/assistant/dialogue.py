"""One turn of the dialogue: from a question and the conversation's context to a reply. Reads only.

The reply is one of three kinds:

* **answer** -- the item (or bundle) is recognised with enough confidence:
  the asked aspect of its guide, quoted, with the guide as first source;
* **clarify** -- two or three items fit about equally: they are offered as
  choices, and the next turn (a choice, its number or its name) answers;
* **decline** -- nothing fits well enough (``answered`` false): the
  conversation can be handed to staff or turned into a 12345 work order.

Follow-ups ("那要多少钱？") keep the item of the last answer: a question
that names an aspect but nothing else is about the item talked about.

Confidence is ``dense + COVERAGE_WEIGHT × coverage`` of the best candidate
(see :mod:`yiwang.assistant.recognise`), compared with ``ANSWER_THRESHOLD``;
both were calibrated on the dev half of bench/assistant_questions.tsv
(docs/adr/0014-assistant.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _

from yiwang.assistant import answers, aspects, recognise
from yiwang.assistant.answers import Source
from yiwang.assistant.constants import MAX_CHOICES
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import text as core_text
from yiwang.knowledge import constants as knowledge_constants
from yiwang.knowledge import selectors as knowledge_selectors

# Calibrated on the dev questions (ADR 0014): the midpoint of the widest gap between the confidence of the
# lowest right answer and of the highest off-topic question.
COVERAGE_WEIGHT = 0.08
ANSWER_THRESHOLD = 0.949
# A question that names no item but fits several items wholly (all its words are theirs) is ambiguous
# ("身份证"): those within this confidence of the best are offered as a choice.
CLARIFY_CONFIDENCE_GAP = 0.02
# A question with at most this many characters left besides aspect words and fillers is a follow-up.
FOLLOW_UP_CONTENT = 1

_CHOICE_NUMBER = re.compile(r"^(?:第)?([1-3一二三])(?:个|项|种)?$")
_NUMBERS = {"1": 0, "2": 1, "3": 2, "一": 0, "二": 1, "三": 2}


@dataclass
class Reply:
    kind: str  # answer, clarify, decline
    text: str
    aspect: str | None = None
    sources: list[Source] = field(default_factory=list)
    choices: list[dict[str, str]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.0
    # Declined only because the question names no item ("要带什么材料？" to begin with): not a gap to record.
    needs_subject: bool = False

    @property
    def answered(self) -> bool:
        return self.kind == "answer"


def confidence(candidate: recognise.Candidate) -> float:
    return candidate.dense + COVERAGE_WEIGHT * candidate.coverage


def _subject(candidate: recognise.Candidate | dict[str, str]) -> dict[str, str]:
    if isinstance(candidate, dict):
        return {"type": candidate["type"], "code": candidate["code"], "name": candidate["name"]}
    return {"type": candidate.type, "code": candidate.code, "name": candidate.name}


def _answer(subject: dict[str, str], aspect: str | None, conf: float = 1.0) -> Reply:
    try:
        if subject["type"] == "bundle":
            found, source = answers.bundle_answer(subject["code"], aspect)
        else:
            found, source = answers.item_answer(subject["code"], aspect)
    except Http404:
        return _decline(_("您问的事项已不再办理或暂未发布。"), {})
    context = {"subject": subject, "aspect": aspect}
    if found is None:
        text = _("“%(name)s”的办事指南暂未列明这一项，我不能替您猜测。") % {"name": source.name}
        return Reply("decline", text, aspect, [source], context=context, confidence=conf)
    text = found + "\n" + _("（摘自《%(name)s》办事指南）") % {"name": source.name}
    return Reply("answer", text, aspect, [source], context=context, confidence=conf)


def _decline(reason: str, context: dict[str, Any], aspect: str | None = None) -> Reply:
    text = reason + "\n" + _("您可以转人工客服继续咨询，或把问题提交为12345工单。")
    return Reply("decline", text, aspect, context=context)


def _clarify(options: list[recognise.Candidate], aspect: str | None, conf: float) -> Reply:
    choices = [_subject(c) for c in options]
    names = "；".join(f"{n}. {c['name']}" for n, c in enumerate(choices, start=1))
    text = _("您问的可能是以下哪一项？%(names)s。请选择或回复序号。") % {"names": names}
    sources = [Source(c.type, c.name, c.url, c.code) for c in options]
    context = {"choices": choices, "aspect": aspect}
    return Reply("clarify", text, aspect, sources, choices, context, conf)


def _picked(question: str, choices: list[dict[str, str]]) -> dict[str, str] | None:
    """The choice a reply to a clarifying question names: its code, its number or its name."""
    plain = re.sub(r"[\s。.，,！!？?]", "", core_text.normalise(question))
    for choice in choices:
        if plain in (choice["code"].lower(), core_text.normalise(choice["name"])):
            return choice
    number = _CHOICE_NUMBER.match(plain)
    if number and _NUMBERS[number.group(1)] < len(choices):
        return choices[_NUMBERS[number.group(1)]]
    content = recognise.content_of(plain)
    scored = sorted(((recognise.coverage(content, c["name"]), i) for i, c in enumerate(choices)), reverse=True)
    if content and scored[0][0] >= 0.6 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return choices[scored[0][1]]
    return None


def _follow_up(question: str, content: str, context: dict[str, Any]) -> bool:
    return bool(context.get("subject")) and len(content) <= FOLLOW_UP_CONTENT


def respond(question: str, context: dict[str, Any] | None = None, *, choice: str = "") -> Reply:
    """The reply to ``question`` in a conversation whose state is ``context`` (the last reply's ``context``)."""
    context = context or {}
    pending = context.get("choices") or []
    if pending:
        picked = _picked(choice or question, pending)
        if picked is not None:
            asked = aspects.by_cues(question) if not choice else None
            return _answer(_subject(picked), asked or context.get("aspect"))
    recognition = recognise.recognise(question)
    aspect = aspects.recognise(question, recognition.vector)
    if _follow_up(question, recognition.content, context):
        return _answer(context["subject"], aspect or context.get("aspect"))
    if not recognition.content and aspect is not None:
        text = _("请告诉我您要办理的事项，例如：“办身份证要带啥？”")
        return Reply("decline", text, aspect, context={"aspect": aspect}, needs_subject=True)
    best = recognition.best
    best_conf = confidence(best) if best else 0.0
    if best is None or best_conf < ANSWER_THRESHOLD:
        return _from_knowledge(question, aspect) or _decline(_("抱歉，这个问题我暂时回答不了。"), context, aspect)
    elliptic = question.rstrip("？?。 ").endswith("呢") or not context.get("subject")
    if aspect is None and context.get("aspect") and elliptic:
        # "办护照呢？" after a question about fees, or the item named after "要多少钱？": the aspect asked before.
        aspect = context["aspect"]
    close = [
        other
        for other in recognition.candidates[1:MAX_CHOICES]
        if other.coverage == 1.0
        and abs(best_conf - confidence(other)) <= CLARIFY_CONFIDENCE_GAP
        and confidence(other) >= ANSWER_THRESHOLD
    ]
    if close and best.coverage == 1.0 and not any(c.named for c in recognition.candidates[:MAX_CHOICES]):
        return _clarify([best, *close], aspect, best_conf)
    reply = _answer(_subject(best), aspect, best_conf)
    if reply.answered and aspect is None:
        _add_knowledge(reply, question, best.code)
    return reply


def _knowledge_source(hit: knowledge_selectors.EntryHit) -> Source:
    return Source("knowledge", hit.question, hit.url, str(hit.id))


def _from_knowledge(question: str, aspect: str | None) -> Reply | None:
    """An answer from the knowledge base when it holds one for this question (a reliable score)."""
    hits = knowledge_selectors.search_entries(question, limit=1)
    if not hits or hits[0].score < knowledge_constants.RELIABLE_SCORE:
        return None
    hit = hits[0]
    text = hit.answer + "\n" + _("（摘自知识库：%(question)s）") % {"question": hit.question}
    if hit.source:
        text += "\n" + _("依据：%(source)s") % {"source": hit.source}
    context: dict[str, Any] = {"aspect": aspect}
    if len(hit.item_codes) == 1:
        code = hit.item_codes[0]
        context["subject"] = {"type": "item", "code": code, "name": catalog_selectors.item_names([code]).get(code, "")}
    return Reply("answer", text, aspect, [_knowledge_source(hit)], context=context, confidence=hit.score)


def _add_knowledge(reply: Reply, question: str, item_code: str) -> None:
    """A general question about an item: the knowledge base's answer linked to it, if it has a reliable one."""
    hits = knowledge_selectors.search_entries(question, limit=3)
    for hit in hits:
        if hit.score >= knowledge_constants.RELIABLE_SCORE and item_code in hit.item_codes:
            reply.text += "\n" + _("相关解答（知识库）：%(answer)s") % {"answer": hit.answer}
            reply.sources.append(_knowledge_source(hit))
            return
