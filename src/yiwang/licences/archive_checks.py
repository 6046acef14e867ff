"""Start-up check of the e-archive log (run by ``yiwang serve``): a partial write or a damaged log is said at once.

Both are warnings, not errors: the rest of the platform keeps serving. An
uncommitted tail is cut by the next append; a damaged log makes every
append refuse (the outbox keeps the events, with the error, for an
administrator) until it is restored, and ``yiwang archive verify`` names
what is lost.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning, register
from django.db import DatabaseError

from yiwang.core.checks import SERVING
from yiwang.licences.archive_store import LogDamaged
from yiwang.licences.services.archive import open_committed_log


@register(SERVING, deploy=True)
def archive_log_intact(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        files = open_committed_log()
    except DatabaseError:
        return []  # not migrated yet: nothing archived to check
    try:
        tail = files.check_lengths()
    except LogDamaged as damaged:
        return [
            Warning(
                f"The e-archive log is damaged ({damaged}); appends will refuse until it is restored.",
                hint="Run `yiwang archive verify` to see which entries are affected.",
                id="licences.W001",
            )
        ]
    finally:
        files.close()
    if not tail.clean:
        return [
            Warning(
                f"The e-archive log has an uncommitted tail (bytes per level: {tail.extra_bytes}), "
                "left by an append that crashed before its transaction committed; the next append cuts it.",
                id="licences.W002",
            )
        ]
    return []
