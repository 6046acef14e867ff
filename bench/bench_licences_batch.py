"""Licences issued from case decisions through the outbox, one event per transaction and in groups.

Each outbox event stands for a case whose certificate stage (制证) completed. Its handler does what the
licences' ``case.event`` handler does for such a case: ``issuance.issue_for_case`` (the holder and field values
from the case's application data, the identifier from the type's counter, the seal over the claims with the
department's SM2 key, the signed QR payload, the history event, the audit record, the expiry jobs), then
renders each licence's sealed PDF (seal image, QR code, attached seal record), as ``licences.issue_per_s``
does. What it leaves out: reading the case row (the bench's cases are stand-ins carrying the same fields) and
the sealed decision document the real handler makes beside the licence.

* ``licences.issue_outbox_per_s``: one event per transaction (``yiwang worker``'s default).
* ``licences.issue_grouped_per_s``: ``GROUP`` events per transaction, each in a savepoint
  (``process_batch(per_transaction=GROUP)``); ``..._procs``: one worker process per core, both claiming from the
  one outbox (SQLite in WAL mode, or PostgreSQL when ``DATABASE_URL`` points at one).
* ``..._per_cpu_s``: per second of this process's CPU time (less disturbed by other work on a shared machine).
"""

from __future__ import annotations

import base64
import datetime as dt
import multiprocessing
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from _setup import bench, django_with_seed

MIN_SECONDS = 3.0
GROUP = 20
TOPIC = "bench.certificate_issued"
ITEM = "bench-food-licence"


@dataclass
class Application:
    form_data: dict[str, Any]


@dataclass
class StandInCase:
    """The fields of a case that issuance reads (``cases.selectors.case_by_id`` gives the real one)."""

    pk: int
    number: str
    department: Any
    applicant_person_id: int
    applicant_organisation_id: int | None = None
    item_code: str = ITEM
    decided_at: dt.datetime | None = None
    application: Application = field(
        default_factory=lambda: Application({"applicant_name": "张三小吃店", "address": "示范市幸福路8号"})
    )


def setup() -> tuple[Any, int]:
    from yiwang.accounts import services as accounts_services
    from yiwang.core.identifiers import DocumentType, make_credit_code, make_resident_id
    from yiwang.directory import selectors as directory_selectors
    from yiwang.directory.services import create_department_if_missing
    from yiwang.licences.services import define_licence_type, seals

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
    define_licence_type(
        actor=None,
        department=department,
        number=1,
        name="食品经营许可证",
        holder_kind="applicant",
        fields=[
            {"key": "operator", "label": "经营者名称", "type": "text", "required": True, "source": "applicant_name"},
            {"key": "premises", "label": "经营场所", "type": "text", "required": True, "source": "address"},
            {"key": "scope", "label": "经营项目", "type": "text"},
        ],
        validity_years=5,
        item_codes=[ITEM],
    )
    person = accounts_services.create_person(
        name="张三",
        document_type=DocumentType.RESIDENT_ID,
        document_number=make_resident_id("990102", "19900101", "123"),
        mobile="",
        assurance_level=1,
        assurance_method="self_declared",
    )
    return department, person.pk


def register_handler(department: Any, person_id: int) -> None:
    from yiwang.core import outbox
    from yiwang.licences.services import documents, issuance

    @outbox.handles(TOPIC)
    def issue_and_render(event: Any) -> None:
        case_id = int(event.payload["case_id"])
        case = StandInCase(
            pk=case_id, number=f"BENCH{case_id:010d}", department=department, applicant_person_id=person_id
        )
        for licence in issuance.issue_for_case(case=case, event_id=event.pk):
            documents.licence_pdf(licence)


_next_case = [0]


def publish(count: int) -> None:
    from django.db import transaction

    from yiwang.core import outbox

    for start in range(0, count, 500):
        with transaction.atomic():
            for _ in range(min(500, count - start)):
                _next_case[0] += 1
                outbox.publish(TOPIC, {"case_id": _next_case[0]})


def handle_all(worker: str, per_transaction: int) -> None:
    from yiwang.core import outbox

    while outbox.process_batch(worker, limit=100, per_transaction=per_transaction):
        pass


def rate(count: int, per_transaction: int) -> tuple[float, float]:
    """(licences per wall second, per CPU second) issuing and rendering ``count`` events published beforehand."""
    from yiwang.licences.models import Licence

    publish(count)
    before = Licence.objects.count()
    started, cpu_started = time.perf_counter(), time.process_time()
    handle_all("bench", per_transaction)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    licences = Licence.objects.count() - before
    assert licences == count, (licences, count)  # one licence per event: none lost, none doubled
    return licences / wall, licences / cpu


def _worker(per_transaction: int) -> None:
    from django.db import connections

    connections.close_all()
    handle_all(f"bench-{os.getpid()}", per_transaction)


def rate_in_processes(count: int, per_transaction: int) -> tuple[int, float]:
    """Licences per second, ``count`` events published beforehand, drained by one forked worker per core."""
    from django.db import connections

    from yiwang.licences.models import Licence

    publish(count)
    before = Licence.objects.count()
    connections.close_all()
    workers = os.cpu_count() or 1
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    children = [context.Process(target=_worker, args=(per_transaction,)) for _ in range(workers)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    elapsed = time.perf_counter() - started
    if any(child.exitcode != 0 for child in children):
        raise SystemExit("a bench process failed")
    licences = Licence.objects.count() - before
    assert licences == count, (licences, count)
    return workers, licences / elapsed


def main() -> None:
    os.environ.setdefault("YIWANG_VAR_DIR", tempfile.mkdtemp(prefix="yiwang-bench-"))
    os.environ["YIWANG_KEY_STORE_KEY"] = base64.b64encode(os.urandom(16)).decode()
    django_with_seed(seed=False)
    department, person_id = setup()
    register_handler(department, person_id)
    rate(GROUP, GROUP)  # warm-up: fonts, key store, templates, imports
    # Enough events for about MIN_SECONDS of handling at the rate a first short run shows.
    first, _cpu = rate(5 * GROUP, GROUP)
    count = max(GROUP * 10, int(first * MIN_SECONDS) // GROUP * GROUP)

    workers, procs = rate_in_processes(count * 2, GROUP)
    bench("licences.issue_grouped_per_s_procs", procs, f"licences/s ({workers} processes, {GROUP} per transaction)")
    for name, per_transaction in (("issue_grouped", GROUP), ("issue_outbox", 1)):
        wall, cpu = rate(count, per_transaction)
        bench(f"licences.{name}_per_s", wall, "licences/s")
        bench(f"licences.{name}_per_cpu_s", cpu, "licences/CPU s")


if __name__ == "__main__":
    main()
