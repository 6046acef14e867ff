"""Helpers for tests that touch the audit log at the SQL level (as a DBA would).

The SQL comes from the migration that installs the append-only triggers, so
the tests drop and restore exactly what production has.
"""

from __future__ import annotations

import importlib

from django.db import connection

_migration = importlib.import_module("yiwang.core.migrations.0001_initial")


def drop_append_only_triggers() -> None:
    """Remove the triggers (what someone with full database access can do)."""
    with connection.cursor() as cursor:
        for statement in _migration.DROP_APPEND_ONLY_SQL[connection.vendor]:
            cursor.execute(statement)


def install_append_only_triggers() -> None:
    with connection.cursor() as cursor:
        for statement in _migration.APPEND_ONLY_SQL[connection.vendor]:
            cursor.execute(statement)


def execute(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def purge_audit_log() -> None:
    """Empty the audit log and its head, then restore the triggers.

    For tests with ``transaction=True``: Django's flush after such a test
    empties every table with DELETE on SQLite, which the triggers refuse
    while audit records exist.
    """
    drop_append_only_triggers()
    try:
        execute("DELETE FROM core_auditevent")
        execute("DELETE FROM core_auditchainhead")
    finally:
        install_append_only_triggers()
