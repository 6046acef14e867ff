"""A case's process stages and its clock (internal): tasks per stage, pauses, and deadlines that move with them."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import definitions
from yiwang.cases.constants import TaskStatus
from yiwang.cases.models import Case, CaseTask, ClockPause
from yiwang.cases.services.errors import CaseError
from yiwang.catalog import selectors as catalog_selectors
from yiwang.core import calendar
from yiwang.directory import selectors as directory_selectors


@functools.lru_cache(maxsize=4096)
def _stages_of(item_id: int, updated_at: str, process_definition: str) -> tuple[definitions.Stage, ...]:
    # A published item version never changes (ADR 0003), so its stages can be kept per process;
    # its last change and definition text are part of the key all the same.
    return definitions.process_for(catalog_selectors.item_version(item_id))


def process_stages(case: Case) -> tuple[definitions.Stage, ...]:
    item = case.item
    return _stages_of(item.pk, item.updated_at.isoformat(), json.dumps(item.process_definition, sort_keys=True))


def stage_of(case: Case, key: str) -> definitions.Stage:
    return next(s for s in process_stages(case) if s.key == key)


def stage_after(case: Case, key: str) -> definitions.Stage | None:
    stages = process_stages(case)
    index = next(i for i, s in enumerate(stages) if s.key == key)
    return stages[index + 1] if index + 1 < len(stages) else None


def open_stage(case: Case, stage: definitions.Stage, *, start: dt.date) -> list[CaseTask]:
    """Open one task per department of the stage (several departments: parallel branches)."""
    if stage.departments:
        found = directory_selectors.departments_by_code(stage.departments)
        missing = [code for code in stage.departments if code not in found]
        if missing:
            raise CaseError(
                "bad_process", _("办理流程引用了不存在的部门：%(codes)s") % {"codes": _("、").join(missing)}
            )
        departments = [found[code] for code in stage.departments]
    else:
        departments = [case.department]
    due = calendar.add_working_days(start, stage.days).date if stage.days is not None else None
    case.current_stage = stage.key
    return [
        CaseTask.objects.create(
            case=case,
            stage=stage.key,
            kind=stage.kind,
            name=stage.name,
            department=department,
            role=stage.role,
            due=due,
        )
        for department in departments
    ]


def finish_tasks(case: Case, stage_key: str, *, actor: Any, opinion: str = "") -> None:
    CaseTask.objects.filter(case=case, stage=stage_key, status=TaskStatus.OPEN).update(
        status=TaskStatus.DONE, completed_at=timezone.now(), completed_by=actor, opinion=opinion
    )


def cancel_tasks(case: Case) -> None:
    CaseTask.objects.filter(case=case, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED, completed_at=timezone.now()
    )


def advance(case: Case, *, actor: Any, opinion: str = "") -> definitions.Stage | None:
    """Finish the current stage and open the next one; returns the new stage."""
    finish_tasks(case, case.current_stage, actor=actor, opinion=opinion)
    stage = stage_after(case, case.current_stage)
    if stage is not None:
        open_stage(case, stage, start=calendar.today_local())
    return stage


def pause_clock(case: Case, reason: str) -> None:
    if case.accepted_at is None or case.paused_since is not None:
        return
    now = timezone.now()
    case.paused_since = now
    ClockPause.objects.create(case=case, reason=reason, started_at=now)


def resume_clock(case: Case) -> int:
    """Restart the clock; every deadline moves by the working days it stood still."""
    if case.paused_since is None:
        return 0
    now = timezone.now()
    start = timezone.localdate(case.paused_since)
    days = calendar.working_days_between(start, timezone.localdate(now))
    ClockPause.objects.filter(case=case, ended_at__isnull=True).update(ended_at=now, working_days=days)
    case.paused_since = None
    if days:
        move_deadlines(case, days)
    return days


def move_deadlines(case: Case, days: int) -> None:
    provisional = False
    if case.statutory_due:
        moved = calendar.add_working_days(case.statutory_due, days)
        case.statutory_due, provisional = moved.date, moved.provisional
    if case.promised_due:
        moved = calendar.add_working_days(case.promised_due, days)
        case.promised_due, provisional = moved.date, provisional or moved.provisional
    case.due_provisional = provisional
    for task in CaseTask.objects.filter(case=case, status=TaskStatus.OPEN, due__isnull=False):
        task.due = calendar.add_working_days(task.due, days).date if task.due else None
        task.save(update_fields=["due"])


def start_clock(case: Case, today: dt.date) -> None:
    item = case.item
    provisional = False
    if item.statutory_days is not None:
        due = calendar.add_working_days(today, item.statutory_days)
        case.statutory_due, provisional = due.date, due.provisional
    promised_days = item.promised_days if item.promised_days is not None else item.statutory_days
    if promised_days is not None:
        due = calendar.add_working_days(today, promised_days)
        case.promised_due, provisional = due.date, provisional or due.provisional
    case.due_provisional = provisional
