"""Licences issued by a worker handling several case events per transaction (outbox groups).

Nothing is lost or doubled: each 制证 issues its licence once, a licence that
fails leaves the others of its group issued, and the failed one is issued
when its event is retried. The department's seal is looked up once a group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.accounts.factories import make_citizen
from tests.licences.helpers import decided_food_case, food_type, use_tmp_materials
from yiwang.core import notifications, outbox
from yiwang.core.models import OutboxEvent
from yiwang.licences import services
from yiwang.licences.constants import LicenceEventKind
from yiwang.licences.models import Licence, LicenceEvent
from yiwang.licences.services import issuance, seals

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _materials(settings: Any, tmp_path: Path) -> None:
    use_tmp_materials(settings, tmp_path)


def _run_grouped(per_transaction: int = 100) -> None:
    while outbox.process_batch("grouped", limit=100, per_transaction=per_transaction) or notifications.deliver_batch(
        "grouped"
    ):
        pass


def _certificate_events() -> Any:
    return OutboxEvent.objects.filter(topic="case.event", payload__action="issue_certificate")


def test_a_group_issues_each_cases_licence_once_and_a_failure_loses_none_of_the_others(
    market_seal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    food_type()
    cases = [decided_food_case(make_citizen(name)) for name in ("甲一", "乙二", "丙三")]
    broken = cases[1].number
    real_create = issuance._create

    def failing_create(*args: Any, **kwargs: Any) -> Licence:
        licence = real_create(*args, **kwargs)  # written, then the failure: its savepoint must undo the row
        if kwargs.get("case_number") == broken:
            raise RuntimeError("the key store went away")
        return licence

    lookups: list[str] = []
    real_active_seal = seals.active_seal

    def counting_active_seal(department_code: str, at: Any = None) -> Any:
        lookups.append(department_code)
        return real_active_seal(department_code, at)

    monkeypatch.setattr(issuance, "_create", failing_create)
    monkeypatch.setattr(seals, "active_seal", counting_active_seal)
    _run_grouped()

    issued = {licence.case_number: licence for licence in Licence.objects.all()}
    assert set(issued) == {cases[0].number, cases[2].number}
    for licence in issued.values():
        assert licence.signature and services.seal_intact(licence)
    # Both licences of the group were sealed with one lookup of the department's seal.
    assert lookups.count("market") == 1
    failed = _certificate_events().get(payload__case_id=cases[1].pk)
    assert failed.processed_at is None and failed.attempts == 1 and "the key store went away" in failed.last_error
    assert _certificate_events().exclude(pk=failed.pk).filter(processed_at__isnull=True).count() == 0

    # Fixed and retried: the missing licence is issued, the others are not issued again.
    monkeypatch.setattr(issuance, "_create", real_create)
    outbox.retry_events([failed.pk])
    _run_grouped()
    assert Licence.objects.filter(case_number=broken).count() == 1
    assert Licence.objects.count() == 3

    # Every 制证 event handled again (a worker killed before marking its group done): still one each.
    _certificate_events().update(processed_at=None, attempts=0)
    _run_grouped(per_transaction=2)
    assert Licence.objects.count() == 3
    assert LicenceEvent.objects.filter(kind=LicenceEventKind.ISSUED).count() == 3


def test_a_seal_revoked_between_groups_is_not_used_by_the_next(market_seal: Any) -> None:
    food_type()
    first = decided_food_case(make_citizen("丁四"))
    _run_grouped()
    (sealed,) = Licence.objects.filter(case_number=first.number)
    assert sealed.signer_key_id == market_seal.current_key.key_id

    seals.revoke_key(market_seal.current_key, "密钥泄露")
    second = decided_food_case(make_citizen("戊五"))
    _run_grouped()
    (unsealed,) = Licence.objects.filter(case_number=second.number)
    # No seal that can sign: issued all the same, unsigned (never lost for want of a seal), not with the old key.
    assert unsealed.signer_key_id == "" and unsealed.signature == ""
