"""Login throughput and the cost of permission filtering.

auth.login_per_s: full password logins through the login page (Django test
client in-process: form parsing, lockout bookkeeping, Argon2id verification,
session creation, audit record), one after another on one core.

policy.filter_1000_ms: a department administrator's scoped list of 1,000
department-owned records (service items spread over every department), the
same `scope_by_department` filter the workbench lists will use, median of
repeated runs including the database query.
"""

from __future__ import annotations

import statistics
import sys
import time

from _setup import bench, django_with_seed

PASSWORD = "Bench-Password-2026"  # noqa: S105  (a throw-away benchmark database)


def login_throughput() -> None:
    from django.test import Client

    from yiwang.accounts import services
    from yiwang.accounts.models import Person, User
    from yiwang.core.identifiers import DocumentType, make_resident_id

    users = []
    for i in range(20):
        person = services.create_person(
            name="压测用户" + "甲乙丙丁戊己庚辛壬癸"[i % 10],
            document_type=DocumentType.RESIDENT_ID,
            document_number=make_resident_id("990102", "19800101", f"{i:03d}"),
        )
        user = User(username=f"bench-{i}", person=person)
        user.set_password(PASSWORD)
        user.save()
        users.append(user)
    assert all(u.password.startswith("argon2") for u in users)
    client = Client()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 5 or count < 20:
        user = users[count % len(users)]
        response = client.post("/accounts/login/", {"identifier": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.content[:200]
        client.post("/accounts/logout/")
        count += 1
    elapsed = time.perf_counter() - started
    print(
        f"{count} logins in {elapsed:.2f} s ({Person.objects.count()} people, {User.objects.count()} users)",
        file=sys.stderr,
    )
    bench("auth.login_per_s", count / elapsed, "logins/s")


def policy_filter() -> None:
    from yiwang.accounts import policy
    from yiwang.accounts.constants import Role
    from yiwang.accounts.models import RoleAssignment, User
    from yiwang.catalog.models import ServiceItem
    from yiwang.directory.models import Department

    items = list(ServiceItem.objects.all())
    copies = []
    serial = 0
    while len(items) + len(copies) < 9000:
        for item in items:
            serial += 1
            item_copy = ServiceItem(**{f.attname: getattr(item, f.attname) for f in ServiceItem._meta.concrete_fields})
            item_copy.pk = None
            item_copy.code = f"{item.code}-B{serial}"
            copies.append(item_copy)
    ServiceItem.objects.bulk_create(copies, batch_size=1000)
    admin = User.objects.create(username="bench-admin")
    # The 公安局 administrator: 公安局 and 交管局 below it own about an eighth of the items.
    RoleAssignment.objects.create(
        user=admin, role=Role.DEPARTMENT_ADMIN, department=Department.objects.get(code="police")
    )
    timings = []
    for _ in range(30):
        user = User.objects.get(pk=admin.pk)  # a fresh request: no cached roles
        started = time.perf_counter()
        rows = list(policy.scope_by_department(ServiceItem.objects.all(), user)[:1000])
        timings.append((time.perf_counter() - started) * 1000)
        assert len(rows) == 1000, len(rows)
    print(f"scoped list of {len(rows)} out of {ServiceItem.objects.count()} records", file=sys.stderr)
    bench("policy.filter_1000_ms", statistics.median(timings), "ms")


def main() -> None:
    django_with_seed()
    login_throughput()
    policy_filter()


if __name__ == "__main__":
    main()
