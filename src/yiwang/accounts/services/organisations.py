"""Organisations (法人): registration by their legal representative, and their agents (经办人)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import policy
from yiwang.accounts.constants import (
    AssuranceLevel,
)
from yiwang.accounts.models import (
    Organisation,
    OrganisationAgent,
    User,
)
from yiwang.accounts.services.errors import IdentityError
from yiwang.accounts.services.people import clean_document, find_person, require_person
from yiwang.core.audit import record_event
from yiwang.core.identifiers import (
    credit_code_problem,
)


def register_organisation(*, actor: User, name: str, credit_code: str) -> Organisation:
    """A citizen with a verified mobile registers an organisation they legally represent."""
    person = require_person(actor)
    if person.assurance_level < AssuranceLevel.MOBILE_VERIFIED:
        raise IdentityError("assurance_too_low", _("法定代表人须完成二级及以上实名认证"))
    code = (credit_code or "").strip().upper()
    problem = credit_code_problem(code)
    if problem:
        raise IdentityError("invalid_credit_code", problem, field="credit_code")
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 200:
        raise IdentityError("invalid_name", _("名称应为2至200个字符"), field="name")
    if Organisation.objects.filter(credit_code=code).exists():
        raise IdentityError("organisation_exists", _("该统一社会信用代码已注册"), field="credit_code")
    with transaction.atomic():
        organisation = Organisation.objects.create(
            name=name, credit_code=code, legal_representative=person, registered_by=actor
        )
        record_event("organisation.registered", actor=actor, target=f"accounts.Organisation:{organisation.pk}")
    return organisation


def add_organisation_agent(
    *,
    actor: User,
    organisation: Organisation,
    agent_document_type: str,
    agent_document_number: str,
    valid_until: dt.datetime,
    scope: list[str] | None = None,
) -> OrganisationAgent:
    """The legal representative authorises a 经办人 for the organisation."""
    if not policy.can_manage_organisation(actor, organisation):
        record_event("permission.denied", actor=actor, target=f"accounts.Organisation:{organisation.pk}")
        raise IdentityError("not_found", _("法人不存在"))
    if valid_until <= timezone.now() or valid_until > timezone.now() + dt.timedelta(days=3 * 366):
        raise IdentityError("invalid_expiry", _("有效期应在今天之后、三年以内"), field="valid_until")
    number = clean_document(agent_document_type, agent_document_number)
    agent = find_person(agent_document_type, number)
    if agent is None:
        raise IdentityError("agent_unknown", _("经办人尚未在本平台登记"), field="agent")
    with transaction.atomic():
        record = OrganisationAgent.objects.create(
            organisation=organisation, person=agent, scope=scope or [], valid_until=valid_until, granted_by=actor
        )
        record_event("organisation.agent_added", actor=actor, target=f"accounts.OrganisationAgent:{record.pk}")
    return record


def revoke_organisation_agent(*, actor: User, agent: OrganisationAgent) -> None:
    if not policy.can_manage_organisation(actor, agent.organisation):
        record_event("permission.denied", actor=actor, target=f"accounts.OrganisationAgent:{agent.pk}")
        raise IdentityError("not_found", _("经办人授权不存在"))
    OrganisationAgent.objects.filter(pk=agent.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record_event("organisation.agent_revoked", actor=actor, target=f"accounts.OrganisationAgent:{agent.pk}")
