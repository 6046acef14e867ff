"""Concurrent first appends to an empty audit log, in a loop: the chain must never fork or refuse.

Each round starts from what a flush leaves (no records and no chain head
row), lets several threads append at once and then checks that the
sequences are 1..n without gaps and that ``verify_chain`` passes. The first
append of a round is where the chain head row gets created, which is where
the race of issue 12 item 23 lived. SQLite by default (a file, so threads
share it); set ``DATABASE_URL`` for PostgreSQL. ``python
bench/bench_audit_race.py 50`` runs 50 rounds instead of 200.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time

from _setup import bench, django_with_seed

ROUNDS = 200
THREADS = 4
APPENDS_PER_THREAD = 3


def _reset_log() -> None:
    """Empty the log and delete its head row, as Django's test flush does."""
    from django.db import connection

    migration = importlib.import_module("yiwang.core.migrations.0001_initial")
    with connection.cursor() as cursor:
        for statement in migration.DROP_APPEND_ONLY_SQL[connection.vendor]:
            cursor.execute(statement)
        cursor.execute("DELETE FROM core_auditevent")
        cursor.execute("DELETE FROM core_auditchainhead")
        for statement in migration.APPEND_ONLY_SQL[connection.vendor]:
            cursor.execute(statement)


def _round() -> list[str]:
    """One round of concurrent appends; return what went wrong (empty when the chain held)."""
    from django.db import connections

    from yiwang.core.audit import Events, record_event, verify_chain
    from yiwang.core.models import AuditEvent

    _reset_log()
    barrier = threading.Barrier(THREADS)
    errors: list[str] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(APPENDS_PER_THREAD):
                record_event(Events.PII_READ, target=f"accounts.Person:{n}", detail={"i": i})
        except Exception as exc:  # reported below, with the round
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = THREADS * APPENDS_PER_THREAD
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    if not errors and sequences != list(range(1, total + 1)):
        errors.append(f"sequences {sequences} are not 1..{total}")
    result = verify_chain()
    if not result.ok:
        errors.append(f"verify_chain: {result.reason} at {result.first_bad_sequence}: {result.detail}")
    return errors


def main(rounds: int) -> int:
    django_with_seed(seed=False)
    from django.db import connection

    vendor = connection.vendor
    failed = 0
    started = time.perf_counter()
    for number in range(1, rounds + 1):
        errors = _round()
        if errors:
            failed += 1
            print(f"round {number}: {'; '.join(errors)}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    _reset_log()
    bench(f"audit_race_{vendor}_rounds", rounds, "rounds")
    bench(f"audit_race_{vendor}_failed_rounds", failed, "rounds")
    bench(f"audit_race_{vendor}_append", elapsed * 1000 / (rounds * THREADS * APPENDS_PER_THREAD), "ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS))
