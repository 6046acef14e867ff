"""The case-records registry: what higher apps keep of a case, merged for the case pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from yiwang.core import case_records
from yiwang.core.case_records import CaseRecords, SealedCaseDocument


def _document(kind: str, sequence: int) -> SealedCaseDocument:
    return SealedCaseDocument(
        kind=kind,
        sequence=sequence,
        title=kind,
        content={},
        digest="00",
        signed=True,
        qr_payload="",
        pdf_url=f"/{kind}/{sequence}/",
    )


@pytest.fixture
def only_test_providers() -> Iterator[None]:
    saved = dict(case_records._providers)
    case_records._providers.clear()
    yield
    case_records._providers.clear()
    case_records._providers.update(saved)


def test_providers_are_merged_and_the_latest_document_of_a_kind_is_found(only_test_providers: None) -> None:
    seen: list[tuple[Any, Any]] = []

    def first(user: Any, case: Any) -> CaseRecords:
        seen.append((user, case))
        return CaseRecords(documents=(_document("correction", 1), _document("correction", 2)))

    def second(user: Any, case: Any) -> CaseRecords:
        return CaseRecords(documents=(_document("receipt", 1),), archive_url="/archive/cases/A/")

    case_records.register_case_records_provider("a", first)
    case_records.register_case_records_provider("b", second)
    case_records.register_case_records_provider("a", first)  # registering again replaces, never doubles
    records = case_records.records_for("user", "case")
    assert seen == [("user", "case")]
    assert [(d.kind, d.sequence) for d in records.documents] == [("correction", 1), ("correction", 2), ("receipt", 1)]
    assert records.archive_url == "/archive/cases/A/"
    latest = records.document("correction")
    assert latest is not None and latest.sequence == 2
    first_notice = records.document("correction", 1)
    assert first_notice is not None and first_notice.pdf_url == "/correction/1/"
    assert records.document("decision") is None and records.document("correction", 3) is None

    case_records.unregister_case_records_provider("b")
    assert case_records.records_for("user", "case").archive_url == ""


def test_without_providers_a_case_has_no_records(only_test_providers: None) -> None:
    assert case_records.records_for(None, None) == CaseRecords()
