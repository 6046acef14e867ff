"""Licence issuance throughput: issue + seal + PDF, as one licence leaves the platform.

* ``licences.issue_per_s``: ``issue_licence`` (identifier from the type's counter, the licence row,
  ``seal_document`` over the claims, the signed QR payload, the history event, the expiry jobs in the
  outbox) followed by rendering its sealed PDF (reportlab, QR image, seal image, the attached seal
  record), one thread, on a fresh SQLite database with a file key store.
* ``licences.issue_only_per_s`` and ``licences.pdf_per_s``: the two halves measured apart.
* ``..._per_cpu_s``: the same per second of this process's CPU time, which other work on a shared machine
  disturbs far less than the wall-clock figures.
* ``licences.issue_per_s_procs``: issue + seal + PDF in one process per core, as the worker pool issues them,
  all writing the one database (SQLite in WAL mode here, writers taking turns; PostgreSQL when
  ``DATABASE_URL`` points at one).
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable

from _setup import bench, django_with_seed

MIN_SECONDS = 3.0


def main() -> None:
    os.environ.setdefault("YIWANG_VAR_DIR", tempfile.mkdtemp(prefix="yiwang-bench-"))
    os.environ["YIWANG_KEY_STORE_KEY"] = base64.b64encode(os.urandom(16)).decode()
    django_with_seed(seed=False)
    from django.db import transaction

    from yiwang.accounts import services as accounts_services
    from yiwang.core.identifiers import DocumentType, make_credit_code, make_resident_id
    from yiwang.directory import selectors as directory_selectors
    from yiwang.directory.services import create_department_if_missing
    from yiwang.licences.services import define_licence_type, documents, issue_licence, seals

    create_department_if_missing(
        code="market",
        division_code="990100",
        division_name="示范市",
        division_level="city",
        name="示范市市场监管局",
        credit_code=make_credit_code("11", "990100", "MB0001X1"),
    )
    department = directory_selectors.department_by_code("market")
    assert department is not None
    seals.create_seal("market")
    licence_type = define_licence_type(
        actor=None,
        department=department,
        number=1,
        name="食品经营许可证",
        holder_kind="person",
        fields=[
            {"key": "operator", "label": "经营者名称", "type": "text", "required": True},
            {"key": "premises", "label": "经营场所", "type": "text", "required": True},
            {"key": "scope", "label": "经营项目", "type": "text"},
        ],
        validity_years=5,
    )
    person = accounts_services.create_person(
        name="张三",
        document_type=DocumentType.RESIDENT_ID,
        document_number=make_resident_id("990102", "19900101", "123"),
        mobile="",
        assurance_level=1,
        assurance_method="self_declared",
    )
    data = {"operator": "张三小吃店", "premises": "示范市幸福路8号", "scope": "热食类食品制售"}

    def issue() -> object:
        with transaction.atomic():
            return issue_licence(actor=None, licence_type=licence_type, person_id=person.pk, data=data)

    documents.licence_pdf(issue())  # warm-up: fonts, key store, imports

    def rate(step: object) -> tuple[float, float]:
        count, started, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - started < MIN_SECONDS:
            step()  # type: ignore[operator]
            count += 1
        return count / (time.perf_counter() - started), count / (time.process_time() - cpu)

    licence = issue()
    workers, procs_rate = rate_in_processes(lambda: documents.licence_pdf(issue()))
    bench("licences.issue_per_s_procs", procs_rate, f"licences/s ({workers} processes)")
    for name, step, unit in (
        ("issue", lambda: documents.licence_pdf(issue()), "licences"),
        ("issue_only", issue, "licences"),
        ("pdf", lambda: documents.licence_pdf(licence), "pdfs"),
    ):
        wall, cpu = rate(step)
        bench(f"licences.{name}_per_s", wall, f"{unit}/s")
        bench(f"licences.{name}_per_cpu_s", cpu, f"{unit}/CPU s")


def _count_for(step: Callable[[], object], until: float, counts: multiprocessing.SimpleQueue[int]) -> None:
    count = 0
    while time.time() < until:
        step()
        count += 1
    counts.put(count)


def rate_in_processes(step: Callable[[], object]) -> tuple[int, float]:
    """``step`` run in one forked process per core for MIN_SECONDS; (processes, steps per second in all)."""
    from django.db import connections

    connections.close_all()  # each child opens its own connection; none may share this one
    workers = os.cpu_count() or 1
    context = multiprocessing.get_context("fork")
    counts: multiprocessing.SimpleQueue[int] = context.SimpleQueue()
    started = time.time()
    until = started + MIN_SECONDS
    children = [context.Process(target=_count_for, args=(step, until, counts)) for _ in range(workers)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    elapsed = time.time() - started
    if any(child.exitcode != 0 for child in children):
        raise SystemExit("a bench process failed")
    return workers, sum(counts.get() for _ in children) / elapsed


if __name__ == "__main__":
    main()
