"""The shared counter primitive and codes (core.numbering), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction

from yiwang.cases.models import CaseNumberSequence
from yiwang.core import numbering
from yiwang.hotline.models import WorkOrderSequence

DAY = dt.date(2031, 3, 4)


@pytest.mark.django_db
def test_the_first_value_creates_the_row_and_later_ones_count_up() -> None:
    assert not WorkOrderSequence.objects.filter(day=DAY).exists()
    assert [numbering.next_value(WorkOrderSequence, {"day": DAY}) for _ in range(3)] == [1, 2, 3]
    assert WorkOrderSequence.objects.get(day=DAY).last == 3
    # Another key has its own count.
    assert numbering.next_value(WorkOrderSequence, {"day": DAY + dt.timedelta(days=1)}) == 1


@pytest.mark.django_db
def test_a_key_of_several_fields_and_a_foreign_key_by_instance_or_id() -> None:
    # Departments of the seed catalogue, whichever app holds their model.
    departments = CaseNumberSequence._meta.get_field("department").related_model
    first, second = departments._default_manager.order_by("pk")[:2]  # type: ignore[union-attr]
    assert numbering.next_value(CaseNumberSequence, {"department": first, "day": DAY}) == 1
    assert numbering.next_value(CaseNumberSequence, {"department_id": first.pk, "day": DAY}) == 2
    assert numbering.next_value(CaseNumberSequence, {"department": second, "day": DAY}) == 1
    assert CaseNumberSequence.objects.get(department=first, day=DAY).last == 2


@pytest.mark.django_db
def test_an_existing_row_is_counted_on_from() -> None:
    WorkOrderSequence.objects.create(day=DAY, last=41)
    assert numbering.next_value(WorkOrderSequence, {"day": DAY}) == 42


@pytest.mark.django_db
def test_a_value_rolled_back_with_its_transaction_is_given_again() -> None:
    numbering.next_value(WorkOrderSequence, {"day": DAY})
    with pytest.raises(RuntimeError), transaction.atomic():
        assert numbering.next_value(WorkOrderSequence, {"day": DAY}) == 2
        raise RuntimeError("the submission failed")
    assert numbering.next_value(WorkOrderSequence, {"day": DAY}) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL")
def test_concurrent_increments_never_repeat_a_value() -> None:
    workers, each = 8, 10
    start = threading.Barrier(workers)
    seen: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            start.wait()
            for _n in range(each):
                with transaction.atomic():
                    value = numbering.next_value(WorkOrderSequence, {"day": DAY})
                with lock:
                    seen.append(value)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    # All start together, so several race to create the first row of the day too.
    assert sorted(seen) == list(range(1, workers * each + 1))
    assert WorkOrderSequence.objects.get(day=DAY).last == workers * each


def test_verification_codes_use_the_unambiguous_alphabet() -> None:
    codes = {numbering.verification_code() for _ in range(200)}
    assert len(codes) > 190  # random, not constant
    for code in codes:
        assert len(code) == 6
        assert set(code) <= set(numbering.CODE_ALPHABET)
        assert not set(code) & set("01OI")
    assert len(numbering.verification_code(8)) == 8


def test_random_digits_keep_leading_zeros() -> None:
    values = [numbering.random_digits(4) for _ in range(300)]
    assert all(len(value) == 4 and value.isdigit() for value in values)
    assert any(value.startswith("0") for value in values)
