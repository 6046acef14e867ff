"""Staff pages of the knowledge base: the desk (my department's entries), drafting, review, history with
the version diff, and the unanswered questions.

Views parse, authorise and call :mod:`yiwang.knowledge.services`. Pages for a role the account does not
hold answer 403; an entry the user may not see answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yiwang.core.audit import record_event
from yiwang.core.http import client_address
from yiwang.directory import selectors as directory_selectors

from . import forms, policy, selectors, services
from .constants import CHANNEL_LABELS, VersionStatus
from .models import Entry, EntryVersion


def _deny(request: HttpRequest, page: str) -> None:
    record_event("permission.denied", actor=request.user, ip=client_address(request), detail={"page": page})
    raise PermissionDenied


def _departments_for(user: Any) -> list[tuple[str, str]]:
    scope = policy.drafting_scope(user)
    return [(code, name) for code, name in directory_selectors.department_names() if scope is None or code in scope]


def _apply_error(form: forms.EntryForm, error: services.KnowledgeError) -> bool:
    if error.field and error.field in form.fields:
        form.add_error(error.field, error.message)
        return True
    form.add_error(None, error.message)
    return True


@login_required
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    """The entries of my department tree with their status, searchable."""
    if not policy.may_use_desk(request.user):
        _deny(request, "knowledge.desk")
    filters = forms.DeskFilterForm(request.GET or None)
    query, status = "", ""
    if filters.is_valid():
        query, status = filters.cleaned_data["q"].strip(), filters.cleaned_data["status"]
    rows = selectors.staff_entries(request.user, query=query, status=status)
    return render(
        request,
        "knowledge/desk.html",
        {
            "filters": filters,
            "today": timezone.localdate(),
            "rows": rows[:200],
            "total": len(rows),
            "may_review": policy.may_review(request.user),
            "review_count": selectors.review_queue(request.user).count() if policy.may_review(request.user) else 0,
        },
    )


def _entry_form(request: HttpRequest, data: Any = None, **kwargs: Any) -> forms.EntryForm:
    department = kwargs.pop("department", None)
    return forms.EntryForm(
        data,
        departments=_departments_for(request.user),
        items=selectors.published_item_choices(department),
        **kwargs,
    )


@login_required
@require_http_methods(["GET", "POST"])
def new_entry(request: HttpRequest) -> HttpResponse:
    """A new draft entry, possibly answering an unanswered question (``?question=<id>``)."""
    if not policy.may_use_desk(request.user):
        _deny(request, "knowledge.new")
    question_id = request.GET.get("question", "")
    question = selectors.open_question(int(question_id)) if question_id.isdigit() else None
    if request.method == "POST":
        form = _entry_form(request, request.POST)
        if form.is_valid():
            try:
                version = services.create_entry(
                    actor=request.user,
                    department_code=form.cleaned_data["department"],
                    content=form.content(),
                    change_note=form.cleaned_data["change_note"],
                    from_question=question.pk if question else None,
                )
            except services.KnowledgeError as error:
                _apply_error(form, error)
            else:
                messages.success(request, _("已保存草稿"))
                return redirect("knowledge:detail", entry_id=version.entry_id)
        status = 400
    else:
        form = _entry_form(request, initial={"questions": question.text if question else ""})
        status = 200
    return render(request, "knowledge/edit.html", {"form": form, "question": question, "entry": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def edit_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    """Edit the open draft of an entry."""
    entry = selectors.staff_entry(request.user, entry_id)
    draft = selectors.open_version(entry)
    if draft is None or draft.status != VersionStatus.DRAFT or not policy.may_edit(request.user, entry):
        messages.error(request, _("该条目没有可修改的草稿"))
        return redirect("knowledge:detail", entry_id=entry.pk)
    kwargs = {"fixed_department": True, "department": entry.department.code}
    if request.method == "POST":
        form = _entry_form(request, request.POST, **kwargs)
        if form.is_valid():
            try:
                services.update_draft(
                    draft, actor=request.user, content=form.content(), change_note=form.cleaned_data["change_note"]
                )
            except services.KnowledgeError as error:
                _apply_error(form, error)
            else:
                messages.success(request, _("已保存草稿"))
                return redirect("knowledge:detail", entry_id=entry.pk)
        status = 400
    else:
        initial = {
            "kind": draft.kind,
            "questions": "\n".join(draft.questions),
            "answer": draft.answer,
            "source_text": draft.source_text,
            "source_url": draft.source_url,
            "item_codes": draft.item_codes,
            "valid_from": draft.valid_from,
            "valid_until": draft.valid_until,
            "change_note": draft.change_note,
        }
        form = _entry_form(request, initial=initial, **kwargs)
        status = 200
    return render(request, "knowledge/edit.html", {"form": form, "entry": entry, "draft": draft}, status=status)


def _pick(versions: list[EntryVersion], number: str) -> EntryVersion | None:
    return next((v for v in versions if str(v.version) == number), None)


def _render_detail(request: HttpRequest, entry: Entry, *, error: str = "", status: int = 200) -> HttpResponse:
    versions = selectors.versions_of(entry)
    shown = _pick(versions, request.GET.get("v", "")) or versions[0]
    against = _pick(versions, request.GET.get("against", ""))
    if against is None or against.pk == shown.pk:
        against = selectors.previous_public_version(shown)
    user = request.user
    may_publish = policy.may_publish(user, entry)
    return render(
        request,
        "knowledge/detail.html",
        {
            "entry": entry,
            "versions": versions,
            "shown": shown,
            "against": against,
            "changes": selectors.version_diff(against, shown),
            "items": list(selectors.item_names(shown.item_codes).items()),
            "open_version": selectors.open_version(entry),
            "may_edit": policy.may_edit(user, entry),
            "may_publish": may_publish,
            "published": next((v for v in versions if v.status == VersionStatus.PUBLISHED), None),
            "reason_form": forms.ReasonForm(),
            "error": error,
        },
        status=status,
    )


@login_required
@require_GET
def entry_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    """One entry: a version (the newest by default), what it changes against another, and the actions."""
    return _render_detail(request, selectors.staff_entry(request.user, entry_id))


ACTIONS = ("submit", "publish", "return", "new_version", "withdraw")


def _perform(action: str, entry: Entry, request: HttpRequest) -> str:
    user = request.user
    open_version = selectors.open_version(entry)
    if action == "new_version":
        services.start_new_version(entry, actor=user, change_note=request.POST.get("change_note", "")[:200])
        return _("已创建修订草稿")
    if action == "withdraw":
        services.withdraw_entry(entry, actor=user, reason=request.POST.get("reason", "")[:500])
        return _("已停用")
    if open_version is None:
        raise services.KnowledgeError("not_draft", _("该条目没有待处理的版本"), status=409)
    if action == "submit":
        services.submit_for_review(open_version, actor=user)
        return _("已提交审核")
    if action == "publish":
        services.publish_version(open_version, actor=user)
        return _("已发布")
    services.return_to_draft(open_version, actor=user, reason=request.POST.get("reason", "")[:500])
    return _("已退回修改")


@login_required
@require_POST
def act(request: HttpRequest, entry_id: int, action: str) -> HttpResponse:
    """Submit, publish, return, start a new version or withdraw."""
    entry = selectors.staff_entry(request.user, entry_id)
    if action not in ACTIONS:
        raise Http404(_("没有这个操作"))
    try:
        done = _perform(action, entry, request)
    except services.KnowledgeError as error:
        return _render_detail(request, entry, error=error.message, status=error.status)
    messages.success(request, done)
    if action in ("publish", "return") and request.POST.get("next") == "review":
        return redirect("knowledge:review")
    return redirect("knowledge:detail", entry_id=entry.pk)


@login_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    """Versions waiting for my department's review."""
    if not policy.may_review(request.user):
        _deny(request, "knowledge.review")
    queue = list(selectors.review_queue(request.user)[:200])
    rows = [(version, selectors.version_diff(selectors.previous_public_version(version), version)) for version in queue]
    return render(
        request,
        "knowledge/review.html",
        {"rows": rows, "reason_form": forms.ReasonForm(), "me": request.user.pk},
    )


@login_required
@require_GET
def unanswered(request: HttpRequest) -> HttpResponse:
    """问题未解答列表: what people asked that nothing answered, most asked first."""
    if not policy.may_handle_questions(request.user):
        _deny(request, "knowledge.unanswered")
    groups = selectors.unanswered_groups()
    return render(
        request,
        "knowledge/unanswered.html",
        {
            "groups": [(group, [CHANNEL_LABELS.get(c, c) for c in group.channels]) for group in groups],
            "may_dismiss": policy.may_dismiss_questions(request.user),
        },
    )


@login_required
@require_POST
def dismiss(request: HttpRequest, question_id: int) -> HttpResponse:
    """Dismiss an unanswered question and its repeats."""
    if not policy.may_dismiss_questions(request.user):
        _deny(request, "knowledge.dismiss")
    try:
        count = services.dismiss_question(question_id, actor=request.user)
    except services.KnowledgeError as error:
        if error.status == 404:
            raise Http404(error.message) from error
        messages.error(request, error.message)
    else:
        messages.success(request, _("已忽略 %(count)s 条提问") % {"count": count})
    return redirect("knowledge:unanswered")
