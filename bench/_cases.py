"""Shared pieces of the case-handling benchmarks: throw-away PostgreSQL databases, people, prepared drafts.

Drafts are filled the way an applicant fills them (every question answered,
every applicable field filled, one small PDF per material to upload): one
per citizen through the service layer, and as many bulk copies of those as
a benchmark needs (see :meth:`Filler.copies`).
"""

from __future__ import annotations

import io
import math
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from _setup import REPO

# The same server the Makefile's PostgreSQL tests use; PG_URL overrides it there and here.
PG_URL = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
FOOD_LICENCE = ("食品经营许可", "market")

if str(REPO) not in sys.path:
    # tests.accounts.factories makes citizens and staff for tests and benchmarks alike.
    sys.path.insert(0, str(REPO))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.95 for p95): a value that was actually measured."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def postgresql_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as error:  # any failure to connect means: skip, with the reason printed
        print(f"PostgreSQL at {PG_URL} is not reachable: {error}", file=sys.stderr)
        return False
    return True


@contextmanager
def throwaway_postgresql(name: str) -> Iterator[str]:
    """Create database ``name`` on the PG_URL server, yield its URL, drop it afterwards (whatever happened)."""
    import psycopg

    if not name.startswith("yiwang_bench_") or not name.replace("_", "").isalnum():
        raise ValueError(f"refusing to manage database {name!r}: benchmarks only own yiwang_bench_* databases")
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(PG_URL)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ensure_materials_storage() -> None:
    """Where the settings name no storage for materials, keep them in this run's throw-away directory."""
    from django.conf import settings

    if "materials" in settings.STORAGES:
        return
    directory = os.environ["YIWANG_VAR_DIR"]
    from django.test.utils import override_settings

    storages: dict[str, Any] = dict(settings.STORAGES)
    storages["materials"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.path.join(directory, "materials")},
    }
    # override_settings tells Django's storage registry about the change; it stays on for the whole run.
    override_settings(STORAGES=storages).enable()


def food_licence_code() -> str:
    from yiwang.catalog.models import ServiceItem

    name, department = FOOD_LICENCE
    code = (
        ServiceItem.objects.published()
        .filter(name=name, department__code=department)
        .values_list("code", flat=True)
        .first()
    )
    if code is None:
        raise SystemExit(f"seed item {name} of {department} is missing")
    return code


def citizens(count: int) -> list[Any]:
    from tests.accounts.factories import make_citizen

    names = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
    return [make_citizen(names[i % len(names)] + "压测") for i in range(count)]


def market_staff() -> tuple[Any, Any, Any]:
    """A counter clerk, a reviewer and an approver of 市场监督管理局."""
    from tests.accounts.factories import make_staff

    from yiwang.accounts.constants import Role

    department = FOOD_LICENCE[1]
    return (
        make_staff(Role.COUNTER_CLERK, department),
        make_staff(Role.REVIEWER, department),
        make_staff(Role.APPROVER, department),
    )


def small_pdf() -> bytes:
    """A one-page, script-free PDF of a few hundred bytes, as the upload checks accept."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": "yiwang-bench"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class Filler:
    """Fills drafts of one item: the answers, fields and materials are worked out once and reused.

    "No" to every yes/no question and the first option of the others; every
    applicable field gets a valid value of its type; one PDF per required
    material that is not taken from a data source.
    """

    def __init__(self, item_code: str, sample_user: Any) -> None:
        from yiwang.cases import definitions, services
        from yiwang.core.identifiers import make_credit_code

        ensure_materials_storage()
        self.item_code = item_code
        probe = services.start_application(
            actor=sample_user, applicant=services.applicant_for(sample_user), item_code=item_code
        )
        # The definition the applicant's page is built from: the same questions, fields and materials.
        definition = services.application_definition(probe)
        services.abandon_application(probe, actor=sample_user)
        self.answers = {
            q.key: definitions.NO if definitions.NO in dict(q.options) else q.options[0][0]
            for q in definition.questions
        }
        applies = definitions.applicable(definition, self.answers)
        samples = {
            "phone": "13800138000",
            "email": "applicant@example.cn",
            "date": "2026-12-01",
            "integer": "3",
            "decimal": "12.50",
            "credit_code": make_credit_code("91", "990102", "MA123456"),
        }
        self.form_data = {
            f.key: f.choices[0][0] if f.type == "choice" else samples.get(f.type, f"{f.label}示例")
            for f in applies.fields
        }
        if "applicant_kind" in self.form_data:
            self.form_data["applicant_kind"] = "person"
        self.materials = [m.key for m in applies.materials if m.required and not m.from_source]
        self.pdf = small_pdf()

    def draft(self, user: Any) -> Any:
        """A complete draft of ``user``'s own, ready to submit, made entirely through the service layer."""
        from yiwang.cases import services

        application = services.start_application(
            actor=user, applicant=services.applicant_for(user), item_code=self.item_code
        )
        services.save_draft(application, actor=user, answers=self.answers, form_data=self.form_data)
        for key in self.materials:
            stream = io.BytesIO(self.pdf)
            services.attach_file(application, actor=user, material_key=key, name=f"{key}.pdf", stream=stream)
        application.refresh_from_db()  # save_draft wrote through a locked copy of its own
        return application

    def copies(self, users: Sequence[Any], count: int) -> list[Any]:
        """``count`` complete drafts, dealt round ``users``: copies of one made through the service layer.

        Filling 10,000 drafts one by one through the services (upload checks,
        PDF inspection, audit records) takes about as long as handling them, so
        one draft per user is filled for real and the rest copied in bulk:
        the same answers and form data, and each material file stored again
        under a name of its own with its checked type, size and digest.
        """
        from django.core.files.base import ContentFile
        from django.db import transaction

        from yiwang.cases.models import Application, ApplicationFile
        from yiwang.core import uploads

        templates = {user.pk: self.draft(user) for user in users[: min(len(users), count)]}
        storage = uploads.materials_storage()
        made = list(templates.values())
        files = {pk: list(app.files.filter(superseded_at__isnull=True)) for pk, app in templates.items()}
        batch = 500
        for start in range(len(made), count, batch):
            with transaction.atomic():
                apps = []
                for i in range(start, min(start + batch, count)):
                    template = templates[users[i % len(users)].pk]
                    apps.append(
                        Application(
                            created_by_id=template.created_by_id,
                            applicant_person_id=template.applicant_person_id,
                            channel=template.channel,
                            item_code=template.item_code,
                            situation_answers=template.situation_answers,
                            form_data=template.form_data,
                        )
                    )
                apps = Application.objects.bulk_create(apps)
                rows = []
                for app in apps:
                    for original in files[app.created_by_id]:
                        name = original.storage_name.rsplit("/", 1)[0] + f"/{uuid.uuid4().hex}.pdf"
                        storage.save(name, ContentFile(self.pdf))
                        rows.append(
                            ApplicationFile(
                                application=app,
                                material_key=original.material_key,
                                original_name=original.original_name,
                                storage_name=name,
                                content_type=original.content_type,
                                size=original.size,
                                sha256=original.sha256,
                                scan_status=original.scan_status,
                                uploaded_by_id=original.uploaded_by_id,
                            )
                        )
                ApplicationFile.objects.bulk_create(rows)
            made.extend(apps)
        return made
