"""Every change to the knowledge base goes through this module.

Pages, the admin, the import command, the demo seed and other apps (the assistant records the questions it
could not answer) call these functions, so the draft → review → publish rules, four-eyes publishing and the
audit records hold from every door. Like the catalogue (ADR 0003), a version is copied, never edited once
published; every published version is kept as history.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import embeddings, outbox
from yiwang.core.audit import audit_target, record_event
from yiwang.core.problems import ServiceError
from yiwang.core.text import normalise
from yiwang.directory import selectors as directory_selectors

from . import policy, vectors
from .constants import (
    ANSWER_MAX_LENGTH,
    MAX_ITEM_CODES,
    MAX_QUESTIONS,
    OPEN_STATUSES,
    QUESTION_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    EntryKind,
    QuestionStatus,
    VersionStatus,
)
from .models import Entry, EntryVersion, UnansweredQuestion, VersionVector

PUBLISHED_TOPIC = "knowledge.version_published"


class KnowledgeError(ServiceError):
    """A knowledge-base rule was broken; ``code`` is stable, the message is for people (Chinese)."""

    statuses = {
        **dict.fromkeys(("open_version_exists", "not_draft", "not_in_review", "not_published"), 409),
        "four_eyes": 403,
        "forbidden": 403,
    }
    # An entry or question the caller may not see answers like a missing one.
    concealed = frozenset({"entry_not_found", "question_not_found"})


@dataclass(frozen=True)
class EntryContent:
    """What a version says: the fields a draft is created or edited with."""

    kind: str
    questions: Sequence[str]
    answer: str
    source_text: str = ""
    source_url: str = ""
    item_codes: Sequence[str] = ()
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


# --- checking what a version says ----------------------------------------------------------------------


def _clean_questions(questions: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in questions:
        text = " ".join(str(raw).split())
        if not text:
            continue
        if len(text) > QUESTION_MAX_LENGTH:
            raise KnowledgeError(
                "question_too_long",
                _("每个问法不超过%(n)s个字") % {"n": QUESTION_MAX_LENGTH},
                field="questions",
            )
        key = normalise(text)
        if key not in seen:
            seen.add(key)
            cleaned.append(text)
    if not cleaned:
        raise KnowledgeError("questions_required", _("请至少填写一个问法"), field="questions")
    if len(cleaned) > MAX_QUESTIONS:
        raise KnowledgeError("too_many_questions", _("问法不超过%(n)s个") % {"n": MAX_QUESTIONS}, field="questions")
    return cleaned


def _clean_url(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise KnowledgeError("bad_source_url", _("依据链接应为以 http:// 或 https:// 开头的网址"), field="source_url")
    return url


def _clean_item_codes(codes: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(code.strip() for code in codes if code and code.strip()))
    if len(wanted) > MAX_ITEM_CODES:
        raise KnowledgeError("too_many_items", _("关联事项不超过%(n)s个") % {"n": MAX_ITEM_CODES}, field="item_codes")
    if not wanted:
        return []
    published = set(catalog_selectors.published_items().filter(code__in=wanted).values_list("code", flat=True))
    unknown = [code for code in wanted if code not in published]
    if unknown:
        raise KnowledgeError(
            "unknown_items",
            _("以下事项编码不存在或未发布：%(codes)s") % {"codes": "、".join(unknown)},
            field="item_codes",
        )
    return wanted


def _clean(content: EntryContent) -> dict[str, Any]:
    if content.kind not in EntryKind.values:
        raise KnowledgeError("bad_kind", _("请选择条目类型"), field="kind")
    answer = content.answer.strip()
    if not answer:
        raise KnowledgeError("answer_required", _("请填写答复内容"), field="answer")
    if len(answer) > ANSWER_MAX_LENGTH:
        raise KnowledgeError("answer_too_long", _("答复不超过%(n)s个字") % {"n": ANSWER_MAX_LENGTH}, field="answer")
    source_text = " ".join(content.source_text.split())
    if len(source_text) > SOURCE_MAX_LENGTH:
        raise KnowledgeError(
            "source_too_long", _("依据不超过%(n)s个字") % {"n": SOURCE_MAX_LENGTH}, field="source_text"
        )
    if content.valid_from and content.valid_until and content.valid_until < content.valid_from:
        raise KnowledgeError("bad_validity", _("失效日期不能早于生效日期"), field="valid_until")
    return {
        "kind": content.kind,
        "questions": _clean_questions(content.questions),
        "answer": answer,
        "source_text": source_text,
        "source_url": _clean_url(content.source_url),
        "item_codes": _clean_item_codes(content.item_codes),
        "valid_from": content.valid_from,
        "valid_until": content.valid_until,
    }


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _audit(event: str, version: EntryVersion, *, actor: Any, **detail: Any) -> None:
    record_event(
        f"knowledge.{event}",
        actor=actor,
        target=audit_target(version.entry),
        detail={"version": version.version, "status": version.status, **detail},
    )


def _deny(actor: Any, version: EntryVersion, action: str, reason: str) -> None:
    # Recorded outside the refused change's transaction (the caller has not opened one yet).
    record_event(
        "permission.denied",
        actor=actor,
        target=audit_target(version.entry),
        detail={"action": f"knowledge.{action}", "reason": reason},
    )


def _locked(version: EntryVersion | int) -> EntryVersion:
    pk = version if isinstance(version, int) else version.pk
    return EntryVersion.objects.select_for_update().select_related("entry__department").get(pk=pk)


def _require(allowed: bool, actor: Any, version: EntryVersion, action: str) -> None:
    if not allowed:
        _deny(actor, version, action, "role")
        raise KnowledgeError("forbidden", _("您没有权限对该知识条目执行此操作"))


# --- drafting -------------------------------------------------------------------------------------------


def create_entry(
    *,
    actor: Any,
    department_code: str,
    content: EntryContent,
    change_note: str = "",
    from_question: int | None = None,
    external_key: str = "",
) -> EntryVersion:
    """Start a new entry of ``department_code`` with a first draft version; ``from_question`` names an
    unanswered question it answers (its group leaves the list as drafted); ``external_key`` names an entry
    from a file or the demo seed, so that loading it again finds it."""
    department = directory_selectors.department_by_code(department_code)
    if department is None:
        raise KnowledgeError("unknown_department", _("请选择所属部门"), field="department")
    if actor is not None and not policy.may_draft_for(actor, department.code):
        raise KnowledgeError("forbidden", _("您不能为该部门起草知识条目"), field="department")
    fields = _clean(content)
    with transaction.atomic():
        entry = Entry.objects.create(department=department, created_by=_user(actor), external_key=external_key[:100])
        version = EntryVersion.objects.create(
            entry=entry, created_by=_user(actor), updated_by=_user(actor), change_note=change_note[:200], **fields
        )
        if from_question is not None:
            _mark_drafted(from_question, entry, actor=actor)
        _audit("draft_created", version, actor=actor, department=department.code)
    return version


def update_draft(
    version: EntryVersion | int, *, actor: Any, content: EntryContent, change_note: str = ""
) -> EntryVersion:
    """Change what a draft says (only a draft: a version under review or published is fixed)."""
    fields = _clean(content)
    with transaction.atomic():
        version = _locked(version)
        if actor is not None and not policy.may_edit(actor, version.entry):
            raise KnowledgeError("entry_not_found", _("知识条目不存在"))
        if version.status != VersionStatus.DRAFT:
            raise KnowledgeError("not_draft", _("只有草稿可以修改"))
        for name, value in fields.items():
            setattr(version, name, value)
        version.change_note = change_note[:200] or version.change_note
        version.updated_by = _user(actor)
        version.save()
        _audit("draft_updated", version, actor=actor)
    return version


def start_new_version(entry: Entry | int, *, actor: Any, change_note: str = "") -> EntryVersion:
    """Copy the latest public version into a new draft with the next number; one open draft per entry."""
    entry_id = entry if isinstance(entry, int) else entry.pk
    with transaction.atomic():
        entry_row = Entry.objects.select_for_update().select_related("department").get(pk=entry_id)
        if actor is not None and not policy.may_edit(actor, entry_row):
            raise KnowledgeError("entry_not_found", _("知识条目不存在"))
        versions = EntryVersion.objects.filter(entry=entry_row)
        if versions.filter(status__in=OPEN_STATUSES).exists():
            raise KnowledgeError("open_version_exists", _("该知识条目已有未发布的草稿，请先处理该草稿"))
        latest = versions.order_by("-version").first()
        if latest is None:  # an entry always has a version; nothing to copy otherwise
            raise KnowledgeError("entry_not_found", _("知识条目不存在"))
        draft = EntryVersion.objects.create(
            entry=entry_row,
            version=latest.version + 1,
            kind=latest.kind,
            questions=list(latest.questions),
            answer=latest.answer,
            source_text=latest.source_text,
            source_url=latest.source_url,
            item_codes=list(latest.item_codes),
            valid_from=latest.valid_from,
            valid_until=latest.valid_until,
            change_note=change_note[:200],
            created_by=_user(actor),
            updated_by=_user(actor),
        )
        _audit("draft_created", draft, actor=actor, copied_from=latest.version)
    return draft


def submit_for_review(version: EntryVersion | int, *, actor: Any) -> EntryVersion:
    """Send a draft to the department's review."""
    with transaction.atomic():
        version = _locked(version)
        if actor is not None and not policy.may_edit(actor, version.entry):
            raise KnowledgeError("entry_not_found", _("知识条目不存在"))
        if version.status != VersionStatus.DRAFT:
            raise KnowledgeError("not_draft", _("只有草稿可以提交审核"))
        version.status = VersionStatus.IN_REVIEW
        version.submitted_by = _user(actor)
        version.submitted_at = timezone.now()
        version.return_reason = ""
        version.save(update_fields=["status", "submitted_by", "submitted_at", "return_reason", "updated_at"])
        _audit("submitted", version, actor=actor)
    return version


# --- review and publishing ------------------------------------------------------------------------------


def _hands_of(version: EntryVersion) -> set[int]:
    """Everyone who wrote or sent this version: none of them may publish it."""
    return {pk for pk in (version.created_by_id, version.updated_by_id, version.submitted_by_id) if pk is not None}


def return_to_draft(version: EntryVersion | int, *, actor: Any, reason: str) -> EntryVersion:
    """Send a version under review back to its drafters with the reviewer's reason."""
    reason = " ".join(reason.split())
    if not reason:
        raise KnowledgeError("reason_required", _("退回修改需要说明理由"), field="reason")
    version_id = version if isinstance(version, int) else version.pk
    current = EntryVersion.objects.select_related("entry__department").get(pk=version_id)
    if actor is not None and not policy.may_publish(actor, current.entry):
        _require(False, actor, current, "return")
    with transaction.atomic():
        version = _locked(version_id)
        if version.status != VersionStatus.IN_REVIEW:
            raise KnowledgeError("not_in_review", _("只有待审核的知识条目可以退回"))
        version.status = VersionStatus.DRAFT
        version.return_reason = reason[:500]
        version.save(update_fields=["status", "return_reason", "updated_at"])
        _audit("returned", version, actor=actor, reason=reason[:200])
    return version


def publish_version(version: EntryVersion | int, *, actor: Any, skip_review: bool = False) -> EntryVersion:
    """Publish a version under review; the version it replaces stays as superseded history.

    Whoever drafted, last edited or submitted the version cannot publish it (four-eyes), and the publisher
    needs the owning department's administrator role (or the platform administrator's). ``skip_review`` is
    for trusted bulk sources only (the import of official replies, the demo seed), run by a platform
    administrator or the system.
    """
    version_id = version if isinstance(version, int) else version.pk
    current = EntryVersion.objects.select_related("entry__department").get(pk=version_id)
    if actor is not None:
        allowed = policy.is_platform_admin(actor) if skip_review else policy.may_publish(actor, current.entry)
        _require(allowed, actor, current, "publish")
        if not skip_review and actor.pk in _hands_of(current):
            _deny(actor, current, "publish", "four_eyes")
            raise KnowledgeError("four_eyes", _("起草、修改或提交该版本的人不能发布它，请由本部门另一位管理员发布"))
    with transaction.atomic():
        version = _locked(version_id)
        allowed_states = {VersionStatus.IN_REVIEW} | ({VersionStatus.DRAFT} if skip_review else set())
        if version.status not in allowed_states:
            raise KnowledgeError("not_in_review", _("知识条目须经提交审核后才能发布"))
        EntryVersion.objects.filter(entry=version.entry, status=VersionStatus.PUBLISHED).exclude(pk=version.pk).update(
            status=VersionStatus.SUPERSEDED, updated_at=timezone.now()
        )
        version.status = VersionStatus.PUBLISHED
        version.published_by = _user(actor)
        version.published_at = timezone.now()
        version.save(update_fields=["status", "published_by", "published_at", "updated_at"])
        # The vectors are computed after commit by the worker (a second or two under load); until then the
        # search computes them in memory, so a published entry is found at once.
        outbox.publish(PUBLISHED_TOPIC, {"version_id": version.pk})
        _audit("published", version, actor=actor, skip_review=skip_review)
    return version


def withdraw_entry(entry: Entry | int, *, actor: Any, reason: str) -> EntryVersion:
    """Take an entry off the public (停用); its history stays."""
    reason = " ".join(reason.split())
    if not reason:
        raise KnowledgeError("reason_required", _("停用知识条目需要说明理由"), field="reason")
    entry_id = entry if isinstance(entry, int) else entry.pk
    current = (
        EntryVersion.objects.select_related("entry__department")
        .filter(entry_id=entry_id, status=VersionStatus.PUBLISHED)
        .first()
    )
    if current is None:
        raise KnowledgeError("not_published", _("只有已发布的知识条目可以停用"))
    if actor is not None and not policy.may_publish(actor, current.entry):
        _require(False, actor, current, "withdraw")
    with transaction.atomic():
        version = _locked(current)
        if version.status != VersionStatus.PUBLISHED:
            raise KnowledgeError("not_published", _("只有已发布的知识条目可以停用"))
        version.status = VersionStatus.WITHDRAWN
        version.change_note = f"停用：{reason}"[:200]
        version.save(update_fields=["status", "change_note", "updated_at"])
        _audit("withdrawn", version, actor=actor, reason=reason[:200])
    return version


# --- vectors --------------------------------------------------------------------------------------------


def store_vectors(version_id: int) -> bool:
    """Compute and keep the vectors of one version (idempotent: False when they are already there)."""
    version = EntryVersion.objects.filter(pk=version_id).first()
    if version is None:
        return False
    existing = VersionVector.objects.filter(version_id=version_id).first()
    if existing is not None and existing.model_name == embeddings.MODEL_NAME:
        return False
    matrix = vectors.compute(list(version.questions), version.answer)
    VersionVector.objects.update_or_create(
        version_id=version_id,
        defaults={"model_name": embeddings.MODEL_NAME, "rows": matrix.shape[0], "data": vectors.to_bytes(matrix)},
    )
    return True


def store_missing_vectors(*, batch: int = 32, say: Any = None) -> int:
    """Embed every published version that has no stored vectors yet, ``batch`` at a time; returns how many.

    For bulk loads (the import of official replies): one model call per batch instead of one per version.
    """
    done = 0
    while True:
        rows = list(
            EntryVersion.objects.filter(status=VersionStatus.PUBLISHED)
            .exclude(vector__model_name=embeddings.MODEL_NAME)
            .order_by("pk")[:batch]
        )
        if not rows:
            return done
        asked = embeddings.embed_queries([q for row in rows for q in row.questions])
        answered = embeddings.embed_passages([vectors.passage_text(list(row.questions), row.answer) for row in rows])
        start = 0
        for position, row in enumerate(rows):
            count = len(row.questions)
            matrix = np.vstack([asked[start : start + count], answered[position : position + 1]])
            start += count
            VersionVector.objects.update_or_create(
                version_id=row.pk,
                defaults={
                    "model_name": embeddings.MODEL_NAME,
                    "rows": matrix.shape[0],
                    "data": vectors.to_bytes(matrix),
                },
            )
        done += len(rows)
        if say is not None:
            say(done)


# --- importing official replies ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OfficialReply:
    """One official reply to a citizen's message, as an import reads it."""

    number: str
    title: str
    answer: str
    replied_on: dt.date | None


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    version_ids: list[int] = field(default_factory=list)


def _reply_fields(reply: OfficialReply) -> dict[str, Any]:
    when = f"，{reply.replied_on.isoformat()}" if reply.replied_on else ""
    return {
        "kind": EntryKind.OFFICIAL_REPLY,
        "questions": [" ".join(mask_personal_data(reply.title).split())[:QUESTION_MAX_LENGTH]],
        "answer": mask_personal_data(reply.answer.strip()),
        "source_text": f"12345留言答复（留言编号{reply.number}{when}）"[:SOURCE_MAX_LENGTH],
        "source_url": "",
        "item_codes": [],
        "valid_from": reply.replied_on,
        "valid_until": None,
    }


def _import_one(reply: OfficialReply, department: Any, actor: Any, report: ImportReport) -> None:
    fields = _reply_fields(reply)
    key = f"replies:{reply.number}"
    entry = Entry.objects.filter(external_key=key).first()
    now = timezone.now()
    if entry is None:
        entry = Entry.objects.create(department=department, external_key=key, created_by=_user(actor))
        number = 1
        report.created += 1
    else:
        latest = EntryVersion.objects.filter(entry=entry).order_by("-version").first()
        if latest is not None and all(getattr(latest, name) == value for name, value in fields.items()):
            report.unchanged += 1
            return
        if EntryVersion.objects.filter(entry=entry, status__in=OPEN_STATUSES).exists():
            report.skipped += 1  # a department is editing it: its draft wins over the file
            return
        EntryVersion.objects.filter(entry=entry, status=VersionStatus.PUBLISHED).update(
            status=VersionStatus.SUPERSEDED, updated_at=now
        )
        number = (latest.version if latest else 0) + 1
        report.updated += 1
    version = EntryVersion.objects.create(
        entry=entry,
        version=number,
        status=VersionStatus.PUBLISHED,
        created_by=_user(actor),
        updated_by=_user(actor),
        published_by=_user(actor),
        published_at=now,
        change_note="导入官方答复",
        **fields,
    )
    report.version_ids.append(version.pk)


def import_official_replies(
    replies: Iterable[OfficialReply], *, department_code: str, actor: Any, source_name: str
) -> ImportReport:
    """Publish official replies as 官方答复 entries of one department, without review (a trusted bulk source,
    run by a platform administrator). Idempotent: a reply already imported unchanged is left alone, a changed
    one gets a new version. One audit record for the whole import."""
    if actor is None or not policy.is_platform_admin(actor):
        raise KnowledgeError("forbidden", _("只有平台管理员可以导入官方答复"))
    department = directory_selectors.department_by_code(department_code)
    if department is None:
        raise KnowledgeError("unknown_department", _("部门不存在：%(code)s") % {"code": department_code})
    report = ImportReport()
    with transaction.atomic():
        for reply in replies:
            if not reply.number or not reply.title.strip() or not reply.answer.strip():
                report.skipped += 1
                continue
            if len(reply.answer) > ANSWER_MAX_LENGTH:
                report.skipped += 1
                continue
            _import_one(reply, department, actor, report)
        record_event(
            "knowledge.imported",
            actor=actor,
            target=f"knowledge.import:{source_name[:100]}",
            detail={
                "department": department.code,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
            },
        )
    return report


# --- unanswered questions -------------------------------------------------------------------------------

# Personal numbers a question may carry. Digits are made half-width first, so full-width ones are caught.
_ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])")
_LANDLINE_RE = re.compile(r"(?<![0-9])0[0-9]{2,3}-?[0-9]{7,8}(?![0-9])")
# Bank cards and other long numbers: nothing a question about a service needs.
_LONG_NUMBER_RE = re.compile(r"[0-9](?:[- ]?[0-9]){10,}")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
MASK = "＊＊＊"
_GROUPING_DROP_RE = re.compile(r"[^\w\u3400-\u9fff*]+")


# Full-width digits and signs read as ASCII before matching (the rest of the text keeps its punctuation).
_HALF_WIDTH_DIGITS = str.maketrans(
    {chr(0xFF10 + i): str(i) for i in range(10)} | {"＋": "+", "－": "-", "Ｘ": "X", "ｘ": "x"}
)


def mask_personal_data(text: str) -> str:
    """``text`` with ID numbers, mobile and landline numbers, other long numbers and e-mail addresses
    replaced by ＊＊＊."""
    text = text.translate(_HALF_WIDTH_DIGITS)
    for pattern in (_EMAIL_RE, _ID_NUMBER_RE, _MOBILE_RE, _LANDLINE_RE, _LONG_NUMBER_RE):
        text = pattern.sub(MASK, text)
    return text


def grouping_key(text: str) -> str:
    """The key under which repeats of one question are grouped: normalised, punctuation and spaces dropped."""
    return _GROUPING_DROP_RE.sub("", normalise(text))[:500]


def record_unanswered_question(text: str, *, channel: str, conversation_reference: str = "") -> None:
    """Keep a question nobody could answer, for staff to turn into an entry; personal numbers are masked
    before it is stored, and nothing about who asked is kept."""
    masked = " ".join(mask_personal_data(text).split())[:500]
    key = grouping_key(masked)
    if not key:
        return
    channel = re.sub(r"[^a-z0-9_-]", "", channel.strip().lower())[:20] or "web"
    reference = mask_personal_data(conversation_reference.strip())[:100]
    UnansweredQuestion.objects.create(text=masked, normalised=key, channel=channel, conversation_reference=reference)


def _open_group(question_id: int) -> tuple[UnansweredQuestion, list[int]]:
    question = UnansweredQuestion.objects.filter(pk=question_id).first()
    if question is None:
        raise KnowledgeError("question_not_found", _("问题不存在"))
    ids = list(
        UnansweredQuestion.objects.filter(normalised=question.normalised, status=QuestionStatus.OPEN).values_list(
            "pk", flat=True
        )
    )
    if not ids:
        raise KnowledgeError("question_handled", _("该问题已处理"), status=409)
    return question, ids


def _mark_drafted(question_id: int, entry: Entry, *, actor: Any) -> None:
    question, ids = _open_group(question_id)
    UnansweredQuestion.objects.filter(pk__in=ids).update(
        status=QuestionStatus.DRAFTED, entry=entry, handled_by=_user(actor), handled_at=timezone.now()
    )
    record_event(
        "knowledge.question_drafted",
        actor=actor,
        target=audit_target(question),
        detail={"entry": entry.pk, "questions": len(ids)},
    )


def dismiss_question(question_id: int, *, actor: Any) -> int:
    """Dismiss a question and its open repeats (not worth an entry); returns how many were dismissed."""
    if actor is not None and not policy.may_dismiss_questions(actor):
        raise KnowledgeError("forbidden", _("您没有权限忽略未解答问题"))
    with transaction.atomic():
        question, ids = _open_group(question_id)
        UnansweredQuestion.objects.filter(pk__in=ids).update(
            status=QuestionStatus.DISMISSED, handled_by=_user(actor), handled_at=timezone.now()
        )
        record_event(
            "knowledge.question_dismissed", actor=actor, target=audit_target(question), detail={"questions": len(ids)}
        )
    return len(ids)
