"""Run inside an instance of its own (``python -m tests.core.backup_support seed|probe``): the backup tests'
source instance is seeded with the demo city, and each instance is described the same way for comparing."""

from __future__ import annotations

import hashlib
import json
import sys

import django


def seed() -> None:
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)
    from yiwang.demo.services import load_demo

    load_demo(accounts=True)


def probe() -> dict[str, object]:
    """The instance's cases, a material's bytes, the applicant's decrypted identity and the record counts."""
    from django.core.files.storage import storages

    from yiwang.cases.models import ApplicationFile, Case
    from yiwang.core import crypto
    from yiwang.core.models import AuditEvent
    from yiwang.licences.models import ArchiveEntry

    material = ApplicationFile.objects.order_by("id").first()
    assert material is not None, "the demo city has uploaded materials"
    with storages["materials"].open(material.storage_name, "rb") as handle:
        material_bytes = handle.read()
    case = Case.objects.filter(application=material.application).order_by("id").first()
    assert case is not None
    return {
        "cases": sorted(Case.objects.values_list("number", "state")),
        "case": [case.number, case.state, case.item_code],
        "material": [material.storage_name, material.sha256, hashlib.sha256(material_bytes).hexdigest()],
        "applicant_id": crypto.decrypt(case.applicant_person.document_number_encrypted),
        "audit_events": AuditEvent.objects.count(),
        "archive_entries": sorted(ArchiveEntry.objects.values_list("leaf_index", "ref")),
    }


if __name__ == "__main__":
    django.setup()
    if sys.argv[1] == "seed":
        seed()
    else:
        print(json.dumps(probe(), ensure_ascii=False))
