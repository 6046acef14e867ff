"""A reviewer's workbench over a million cases on PostgreSQL.

Data: 1,000,000 cases (YIWANG_BENCH_WORKBENCH_CASES overrides) with their
applications and tasks, generated in bulk by INSERT … SELECT over
generate_series in a throw-away database ``yiwang_bench_<pid>`` on PG_URL
(default postgresql://postgres@127.0.0.1:5432/test; skipped with a message
when no server answers), then ANALYZEd. Each case is for a random published
seed item, so every department has cases in proportion to its items. 89 %
are closed, 7 % ended otherwise (rejected, withdrawn, refused), 4 % are
open: waiting for acceptance (counter clerk), in review (reviewer), waiting
for correction or suspended (review task still open), at the decision
(approver), at issuing or delivery (counter clerk). A case has a task for
every stage it reached: those behind it done, the current one open (or, for
a case that ended early, cancelled); open tasks fall due between 30 days ago
and 30 days ahead, evenly. The load runs in one transaction with foreign-key
checks off and the secondary indexes dropped and rebuilt from their own
definitions afterwards; its time is printed to standard error.

cases.workbench_1m_p95_ms: 95th percentile over 200 requests of ``GET
/api/v1/cases/workbench`` (first page, 20 rows with their case fields, and
the total count) by a reviewer of 市场监督管理局, through Django's test client
in-process: session, middleware, role look-up, both queries, serialisation.
Which open tasks a reviewer sees is the selector's business (at the time of
writing: the department's review and acceptance tasks).

cases.workbench_1m_query_p95_ms: 95th percentile over 200 runs of the first
page's query alone (``selectors.workbench(reviewer)[:20]`` evaluated, with
the rows' case fields read).

The plans of both queries (EXPLAIN ANALYZE) go to standard error, with
whether the partial indexes ``cases_task_open_by_due`` and
``cases_case_open_by_due`` were used.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from _cases import percentile, postgresql_reachable, throwaway_postgresql
from _setup import bench, django_with_seed

REQUESTS = 200
TABLES = ("cases_application", "cases_case", "cases_casetask")
APPLICANTS = 200

# Share of all cases (cumulative bounds) for each final state; the rest are open.
FINAL = [(0.89, "closed", "approved"), (0.92, "rejected", "rejected"), (0.94, "withdrawn", "withdrawn")]
REFUSED_UNTIL = 0.96
# Open cases by state and current stage (cumulative bounds of a second draw): (bound, state, stage number).
OPEN = [
    (0.25, "submitted", 1),
    (0.60, "in_review", 2),
    (0.68, "correction_requested", 2),
    (0.72, "suspended", 2),
    (0.87, "in_review", 3),
    (0.95, "issuing", 4),
    (1.01, "ready_for_collection", 5),
]


def _case_sql(count: int) -> list[tuple[str, dict[str, Any]]]:
    """The statements that make ``count`` cases with their applications and tasks (one transaction)."""
    from yiwang.accounts.constants import Role
    from yiwang.cases.constants import StepKind
    from yiwang.cases.definitions import STAGE_ORDER

    final = " ".join(f"WHEN p.r_state < {bound} THEN '{state}'" for bound, state, _ in FINAL)
    outcome = " ".join(f"WHEN p.r_state < {bound} THEN '{o}'" for bound, _, o in FINAL)
    open_state = " ".join(f"WHEN p.r_stage < {bound} THEN '{state}'" for bound, state, _ in OPEN)
    open_stage = " ".join(f"WHEN p.r_stage < {bound} THEN {stage}" for bound, _, stage in OPEN)
    roles = {
        StepKind.ACCEPTANCE: Role.COUNTER_CLERK,
        StepKind.REVIEW: Role.REVIEWER,
        StepKind.DECISION: Role.APPROVER,
        StepKind.CERTIFICATE: Role.COUNTER_CLERK,
        StepKind.DELIVERY: Role.COUNTER_CLERK,
    }
    names = {"acceptance": "受理", "review": "审查", "decision": "决定", "certificate": "制证", "delivery": "送达"}
    stage_rows = ", ".join(
        f"({n}, '{kind}', '{names[str(kind)]}', '{roles[kind]}')" for n, kind in enumerate(STAGE_ORDER, start=1)
    )
    return [
        ("SELECT setseed(0.2026)", {}),
        (
            "CREATE TEMP TABLE bench_items AS SELECT (row_number() OVER (ORDER BY i.id) - 1)::int AS n, i.id, i.code, "
            "i.name, i.department_id, upper(d.code) AS dept FROM catalog_serviceitem i "
            "JOIN catalog_department d ON d.id = i.department_id WHERE i.status = 'published'",
            {},
        ),
        (
            "CREATE TEMP TABLE bench_people AS SELECT (row_number() OVER (ORDER BY p.id) - 1)::int AS n, p.id, "
            "p.name, u.id AS user_id FROM accounts_person p JOIN accounts_user u ON u.person_id = p.id",
            {},
        ),
        (
            "CREATE TEMP TABLE bench_stages (n int, kind text, name text, role text); "
            f"INSERT INTO bench_stages VALUES {stage_rows}",
            {},
        ),
        # One row per case with every random choice, so the three tables agree with each other.
        (
            "CREATE TEMP TABLE bench_plan AS SELECT g, r_state, r_stage, "
            "floor(random() * (SELECT count(*) FROM bench_items))::int AS item_n, "
            "floor(random() * (SELECT count(*) FROM bench_people))::int AS person_n, "
            "(floor(random() * 61) - 30)::int AS due_offset, "
            "CASE WHEN r_state < %(refused_until)s THEN now() - random() * interval '1095 days' - interval '60 days' "
            "ELSE now() - random() * interval '60 days' END AS submitted_at, "
            "(ARRAY['online', 'mobile', 'counter', 'kiosk'])[1 + floor(random() * 4)::int] AS channel "
            "FROM (SELECT g, random() AS r_state, random() AS r_stage FROM generate_series(1, %(count)s) g) s",
            {"count": count, "refused_until": REFUSED_UNTIL},
        ),
        (
            f"""ALTER TABLE bench_plan ADD COLUMN state text, ADD COLUMN outcome text, ADD COLUMN stage int;
            UPDATE bench_plan p SET
              state = CASE {final} WHEN p.r_state < {REFUSED_UNTIL} THEN 'refused' ELSE CASE {open_state} END END,
              outcome = CASE {outcome} WHEN p.r_state < {REFUSED_UNTIL} THEN 'refused' ELSE '' END,
              stage = CASE WHEN p.r_state < {FINAL[0][0]} THEN 5 WHEN p.r_state < {FINAL[1][0]} THEN 1
                           WHEN p.r_state < {FINAL[2][0]} THEN 2 WHEN p.r_state < {REFUSED_UNTIL} THEN 3
                           ELSE CASE {open_stage} END END""",
            {},
        ),
        (
            "INSERT INTO cases_application (id, state, created_by_id, applicant_person_id, assisted_basis, channel, "
            "item_code, bundle_code, situation_answers, form_data, created_at, updated_at, submitted_at) "
            "SELECT p.g, 'submitted', pe.user_id, pe.id, '', p.channel, i.code, '', '{}', '{}', "
            "p.submitted_at - interval '1 hour', p.submitted_at, p.submitted_at "
            "FROM bench_plan p JOIN bench_items i ON i.n = p.item_n JOIN bench_people pe ON pe.n = p.person_n",
            {},
        ),
        (
            "INSERT INTO cases_case (id, number, application_id, item_id, item_code, item_name, department_id, state, "
            "outcome, current_stage, channel, applicant_person_id, applicant_name, assisted_basis, verification_code, "
            "requires_payment, submitted_at, accepted_at, decided_at, closed_at, statutory_due, promised_due, "
            "due_provisional, correction_due, paused_since, return_state, version, updated_at) "
            "SELECT p.g, i.dept || '-' || to_char(p.submitted_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-' "
            "|| lpad(p.g::text, 7, '0'), p.g, i.id, i.code, i.name, i.department_id, p.state, p.outcome, s.kind, "
            "p.channel, pe.id, pe.name, '', upper(substr(md5(p.g::text), 1, 6)), false, p.submitted_at, "
            "CASE WHEN p.stage > 1 THEN p.submitted_at + interval '1 day' END, "
            "CASE WHEN p.stage > 3 OR p.state = 'refused' THEN p.submitted_at + interval '10 days' END, "
            "CASE WHEN p.stage = 5 AND p.outcome <> '' OR p.state IN ('rejected', 'withdrawn', 'refused') "
            "THEN p.submitted_at + interval '15 days' END, "
            "CASE WHEN p.outcome = '' THEN current_date + p.due_offset + 5 "
            "ELSE (p.submitted_at + interval '20 days')::date END, "
            "CASE WHEN p.outcome = '' THEN current_date + p.due_offset "
            "ELSE (p.submitted_at + interval '15 days')::date END, "
            "false, CASE WHEN p.state = 'correction_requested' THEN current_date + 10 END, "
            "CASE WHEN p.state IN ('correction_requested', 'suspended') THEN now() - interval '2 days' END, "
            "CASE WHEN p.state IN ('correction_requested', 'suspended') THEN 'in_review' ELSE '' END, "
            "p.stage + 1, p.submitted_at + interval '15 days' "
            "FROM bench_plan p JOIN bench_items i ON i.n = p.item_n JOIN bench_people pe ON pe.n = p.person_n "
            "JOIN bench_stages s ON s.n = p.stage",
            {},
        ),
        # Every stage a case reached has its task: done before the current one; the current one open while the
        # case is open, done when it closed normally, cancelled when it ended early.
        (
            "INSERT INTO cases_casetask (case_id, stage, kind, name, department_id, role, status, due, started_at, "
            "completed_at, opinion) "
            "SELECT p.g, s.kind, s.kind, s.name, i.department_id, s.role, "
            "CASE WHEN s.n < p.stage OR p.state IN ('closed', 'rejected', 'refused') THEN 'done' "
            "WHEN p.outcome = '' THEN 'open' ELSE 'cancelled' END, "
            "CASE WHEN p.outcome = '' AND s.n = p.stage THEN current_date + p.due_offset "
            "ELSE (p.submitted_at + s.n * interval '3 days')::date END, "
            "p.submitted_at + (s.n - 1) * interval '3 days', "
            "CASE WHEN p.outcome = '' AND s.n = p.stage THEN NULL "
            "ELSE p.submitted_at + s.n * interval '3 days' END, '' "
            "FROM bench_plan p JOIN bench_items i ON i.n = p.item_n JOIN bench_stages s ON s.n <= p.stage",
            {},
        ),
        (
            "SELECT setval(pg_get_serial_sequence('cases_application', 'id'), %(count)s); "
            "SELECT setval(pg_get_serial_sequence('cases_case', 'id'), %(count)s)",
            {"count": count},
        ),
    ]


def generate(count: int) -> None:
    from django.db import connection, transaction
    from tests.accounts.factories import make_person

    from yiwang.accounts.models import User

    for n in range(APPLICANTS):
        person = make_person(name="赵钱孙李周吴郑王冯陈"[n % 10] + "某" + "甲乙丙丁戊己庚辛壬癸"[n // 10 % 10])
        user = User(username=f"wb-{n}", person=person)
        user.set_unusable_password()
        user.save()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # Bulk-load practice: rows are consistent by construction, so foreign keys are not checked row by row,
        # and the secondary indexes are dropped and rebuilt from their own definitions after the load.
        cursor.execute("SET LOCAL session_replication_role = replica; SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [list(TABLES)],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for sql, params in _case_sql(count):
            t0 = time.perf_counter()
            cursor.execute(sql, params or None)
            print(f"  {time.perf_counter() - t0:6.1f} s  {sql.split('(')[0][:70]}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        for _name, definition in indexes:
            cursor.execute(definition)
        print(
            f"  {time.perf_counter() - t0:6.1f} s  rebuilt {len(indexes)} indexes: {', '.join(n for n, _ in indexes)}",
            file=sys.stderr,
            flush=True,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT (SELECT count(*) FROM cases_case), (SELECT count(*) FROM cases_casetask), "
            "(SELECT count(*) FROM cases_casetask WHERE status = 'open'), "
            "(SELECT count(*) FROM cases_casetask t JOIN catalog_department d ON d.id = t.department_id "
            "WHERE t.status = 'open' AND d.code = 'market')"
        )
        cases, tasks, open_tasks, market = cursor.fetchone()
    print(
        f"generated {cases} cases, {tasks} tasks ({open_tasks} open, {market} of them 市场监督管理局's) "
        f"in {time.perf_counter() - started:.1f} s, ANALYZE included",
        file=sys.stderr,
        flush=True,
    )


def explain() -> None:
    from django.db import connection

    from yiwang.accounts.models import User
    from yiwang.cases import selectors
    from yiwang.cases.constants import OPEN_CASE_STATES
    from yiwang.cases.models import Case

    reviewer = User.objects.get(username="bench-reviewer")
    page = selectors.workbench(reviewer)[:20].explain(analyze=True, buffers=True)
    # QuerySet.explain() cannot explain count(): catch the statement count() sends and explain that.
    sent: list[tuple[str, Any]] = []

    def catch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    tasks = selectors.workbench(reviewer)
    with connection.execute_wrapper(catch):
        tasks.count()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sent[-1][0], sent[-1][1])
        count = "\n".join(row[0] for row in cursor.fetchall())
    print(f"EXPLAIN ANALYZE of the first page:\n{page}\n\nEXPLAIN ANALYZE of the count:\n{count}", file=sys.stderr)
    # The case index serves a department's open cases by deadline (not the workbench, which lists tasks).
    open_cases = (
        Case.objects.filter(department__code="market", state__in=sorted(OPEN_CASE_STATES))
        .order_by("promised_due", "id")[:20]
        .explain(analyze=True)
    )
    print(f"\nEXPLAIN ANALYZE of the department's open cases by deadline:\n{open_cases}\n", file=sys.stderr)
    for index in ("cases_task_open_by_due", "cases_case_open_by_due"):
        used = index in page + count + open_cases
        print(f"{index}: {'used' if used else 'NOT used'}", file=sys.stderr)


def measure() -> None:
    from django.test import Client

    from yiwang.accounts.models import User
    from yiwang.cases import selectors

    reviewer = User.objects.get(username="bench-reviewer")
    client = Client()
    client.force_login(reviewer)
    for _ in range(5):  # warm the process (imports, prepared plans)
        client.get("/api/v1/cases/workbench")
    timings = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        response = client.get("/api/v1/cases/workbench")
        body = response.content
        timings.append(time.perf_counter() - t0)
        assert response.status_code == 200, body[:300]
    page = json.loads(body)
    assert len(page["items"]) == 20, page
    dues = [row["due"] for row in page["items"]]
    assert dues == sorted(dues), dues
    print(
        f"API: {page['count']} open tasks on this reviewer's workbench; first due {dues[0]}; "
        f"median {1000 * percentile(timings, 0.5):.1f} ms",
        file=sys.stderr,
    )
    bench("cases.workbench_1m_p95_ms", 1000 * percentile(timings, 0.95), "ms")

    query_timings, count_timings = [], []
    for _ in range(REQUESTS):
        tasks = selectors.workbench(reviewer)
        t0 = time.perf_counter()
        rows = [(t.pk, t.case.number, t.case.item_name, t.case.applicant_name, t.case.state, t.due) for t in tasks[:20]]
        query_timings.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tasks.count()
        count_timings.append(time.perf_counter() - t0)
    assert len(rows) == 20
    print(
        f"query: median {1000 * percentile(query_timings, 0.5):.2f} ms; count: median "
        f"{1000 * percentile(count_timings, 0.5):.2f} ms, p95 {1000 * percentile(count_timings, 0.95):.2f} ms",
        file=sys.stderr,
    )
    bench("cases.workbench_1m_query_p95_ms", 1000 * percentile(query_timings, 0.95), "ms")


def main() -> int:
    if not postgresql_reachable():
        print("SKIPPED: cases.workbench_1m: no PostgreSQL server answers at PG_URL", flush=True)
        return 0
    count = int(os.environ.get("YIWANG_BENCH_WORKBENCH_CASES", "1000000"))
    with throwaway_postgresql(f"yiwang_bench_{os.getpid()}") as url:
        os.environ["DATABASE_URL"] = url
        os.environ["DEBUG"] = "false"
        django_with_seed()

        from django.db import connections
        from tests.accounts.factories import make_staff

        from yiwang.accounts.constants import Role

        make_staff(Role.REVIEWER, "market", username="bench-reviewer")
        try:
            generate(count)
            explain()
            measure()
        finally:
            connections.close_all()  # the database is dropped next
    return 0


if __name__ == "__main__":
    sys.exit(main())
