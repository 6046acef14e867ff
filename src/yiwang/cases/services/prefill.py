"""免填: filling in an application's fields for the applicant from what the platform already knows.

When a draft is opened its fields are filled from two places (ADR 0032):

- the profile: the verified name and mobile of the person applying, and, for
  an application made for an organisation, the organisation's registered name,
  credit code and legal representative;
- the applicant's earlier applications: the answer last submitted to a field
  of the same meaning (same key and type) by the same account for the same
  applicant (the same person alone, or the same organisation).

Only the applicant's own data, or their organisation's, is ever put in: a
draft filled in by someone else (a delegate, a counter clerk) is not
prefilled, so nobody sees another person's details in a form. What was put in
is remembered with a keyed hash of the value, so that the page can say "预填"
while the value stands and the submission can count the fields the applicant
did not have to type (六减：减填).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from yiwang.accounts import selectors as accounts_selectors
from yiwang.cases import definitions
from yiwang.cases.constants import ApplicationState
from yiwang.cases.models import Application, Case, FieldSaving
from yiwang.core import crypto

PROFILE = "profile"
EARLIER = "earlier"
SOURCES = (PROFILE, EARLIER)
# How many earlier applications are read for answers (the latest first).
EARLIER_APPLICATIONS_READ = 20
# Fields whose answer belongs to one application only, never carried over.
NOT_CARRIED_OVER = frozenset({"description"})
_DIGEST_PURPOSE = "application_prefill"


@dataclass(frozen=True)
class Prefill:
    """The values to put into a new draft and where each came from."""

    values: dict[str, str]
    sources: dict[str, str]

    def marks(self) -> dict[str, dict[str, str]]:
        """What the draft keeps about each prefilled field: its source and the digest of the value put in."""
        return {key: {"source": self.sources[key], "digest": digest(value)} for key, value in self.values.items()}


def digest(value: str) -> str:
    return crypto.blind_index(str(value).strip(), _DIGEST_PURPOSE)


def fills_for_self(application: Application) -> bool:
    """Whether the account filling in the draft is the applicant (alone or for an organisation it represents)."""
    if application.agent_id is not None:
        return False
    person_id = getattr(application.created_by, "person_id", None)
    return person_id is not None and person_id == application.applicant_person_id


def profile_values(application: Application) -> dict[str, str]:
    """The applicant's own verified details, and their organisation's when applying for one, by field key."""
    name, mobile = accounts_selectors.person_contact(application.applicant_person_id)
    if application.applicant_organisation_id is None:
        values = {"applicant_kind": "person", "applicant_name": name, "contact_mobile": mobile}
    else:
        organisation = accounts_selectors.get_organisation(application.applicant_organisation_id)
        values = {
            "applicant_kind": "organisation",
            "organisation_name": organisation.name,
            "credit_code": organisation.credit_code,
            "legal_representative": organisation.legal_representative.name,
            # The contact is the person applying for the organisation: the account's own details.
            "contact_name": name,
            "contact_mobile": mobile,
        }
    return {key: value for key, value in values.items() if value}


def earlier_values(application: Application, fields: Iterable[definitions.FormField]) -> dict[str, str]:
    """The latest valid answer to each field in the same applicant's earlier submitted applications."""
    wanted = {f.key: f for f in fields if f.key not in NOT_CARRIED_OVER}
    earlier = (
        Application.objects.filter(
            created_by_id=application.created_by_id,
            applicant_person_id=application.applicant_person_id,
            applicant_organisation_id=application.applicant_organisation_id,
            agent__isnull=True,
            state=ApplicationState.SUBMITTED,
        )
        .exclude(pk=application.pk)
        .order_by("-submitted_at", "-id")
        .values_list("form_data", flat=True)[:EARLIER_APPLICATIONS_READ]
    )
    found: dict[str, str] = {}
    for data in earlier:
        for key, raw in (data or {}).items():
            form_field = wanted.get(str(key))
            if form_field is None or key in found:
                continue
            value, problem = definitions.clean_value(form_field, raw)
            if value and problem is None:
                found[str(key)] = str(value)
    return found


def prefill_for(application: Application, definition: definitions.ApplicationDefinition) -> Prefill:
    """What to put into ``application``'s fields: the profile first, then earlier answers; nothing if not for self."""
    if not fills_for_self(application):
        return Prefill({}, {})
    by_key = {f.key: f for f in definition.fields}
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key, raw in profile_values(application).items():
        form_field = by_key.get(key)
        if form_field is None:
            continue
        value, problem = definitions.clean_value(form_field, raw)
        if value and problem is None:
            values[key], sources[key] = str(value), PROFILE
    for key, value in earlier_values(application, definition.fields).items():
        if key not in values:
            values[key], sources[key] = value, EARLIER
    return Prefill(values, sources)


def kept_prefills(application: Application) -> dict[str, str]:
    """The prefilled fields whose value still stands as it was put in: {key: source}."""
    kept = {}
    data = application.form_data or {}
    for key, mark in (application.prefilled or {}).items():
        if not isinstance(mark, Mapping) or mark.get("source") not in SOURCES:
            continue
        value = data.get(key)
        if value not in (None, "") and digest(str(value)) == mark.get("digest"):
            kept[str(key)] = str(mark["source"])
    return kept


def record_field_savings(
    application: Application, cases: Iterable[Case], item_definitions: Mapping[str, definitions.ApplicationDefinition]
) -> int:
    """六减: per case, its item's fields that apply and were prefilled and kept (bundles: each member's own fields).

    Returns the number of rows made; idempotent (one row per case and field).
    """
    kept = kept_prefills(application)
    if not kept:
        return 0
    context = {**(application.form_data or {}), **(application.situation_answers or {})}
    rows = []
    for case in cases:
        definition = item_definitions.get(case.item_code)
        if definition is None:
            continue
        for form_field in definitions.applicable(definition, context).fields:
            if form_field.key in kept:
                rows.append(
                    FieldSaving(
                        case=case, item_code=case.item_code, field_key=form_field.key, source=kept[form_field.key]
                    )
                )
    FieldSaving.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
