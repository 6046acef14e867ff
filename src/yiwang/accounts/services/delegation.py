"""Acting for someone else: delegations between people, and a counter clerk serving a person present."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import policy
from yiwang.accounts.constants import (
    Relationship,
    Role,
)
from yiwang.accounts.models import (
    Delegation,
    User,
)
from yiwang.accounts.services.assurance import record_counter_registration
from yiwang.accounts.services.errors import IdentityError
from yiwang.accounts.services.people import clean_document, create_person, find_person, require_person
from yiwang.core.audit import record_event

# Which services a delegation may cover: the catalogue (a higher app) provides them when Django starts.
# The argument is the audience, "person" (a personal delegation) or "organisation" (an organisation's agent).
_delegable_items: Callable[[str], list[tuple[str, str]]] | None = None


def register_delegable_items(provider: Callable[[str], list[tuple[str, str]]]) -> None:
    """Let the catalogue say which services a grantor may pick for an audience, as (item code, label)."""
    global _delegable_items
    _delegable_items = provider


def delegable_items(audience: str = "person") -> list[tuple[str, str]]:
    """The services a grantor picks from, as (item code, label).

    ``audience`` is "person" for a personal delegation and "organisation" for an
    organisation's agent, who acts on the services offered to legal persons.
    """
    return _delegable_items(audience) if _delegable_items is not None else []


def grant_delegation(
    *,
    actor: User,
    agent_document_type: str,
    agent_document_number: str,
    relationship: str,
    valid_until: dt.datetime,
    scope: list[str] | None = None,
) -> Delegation:
    """A citizen authorises a relative or community worker (identified by ID) to act for them."""
    principal = require_person(actor)
    if relationship not in Relationship.values:
        raise IdentityError("invalid_relationship", _("关系无效"), field="relationship")
    if valid_until <= timezone.now() or valid_until > timezone.now() + dt.timedelta(days=3 * 366):
        raise IdentityError("invalid_expiry", _("有效期应在今天之后、三年以内"), field="valid_until")
    number = clean_document(agent_document_type, agent_document_number)
    agent = find_person(agent_document_type, number)
    if agent is None:
        raise IdentityError("agent_unknown", _("被授权人尚未在本平台登记，请其先注册或到窗口登记"), field="agent")
    if agent.pk == principal.pk:
        raise IdentityError("self_delegation", _("不能授权给自己"), field="agent")
    with transaction.atomic():
        delegation = Delegation.objects.create(
            principal=principal,
            agent_person=agent,
            relationship=relationship,
            scope=scope or [],
            valid_until=valid_until,
            created_by=actor,
        )
        record_event(
            "delegation.granted",
            actor=actor,
            on_behalf_of_person_id=principal.pk,
            target=f"accounts.Delegation:{delegation.pk}",
        )
    return delegation


def revoke_delegation(*, actor: User, delegation: Delegation) -> None:
    """The principal (or the agent, giving it up) ends a delegation at once."""
    person = actor.person
    if person is None or person.pk not in (delegation.principal_id, delegation.agent_person_id):
        record_event("permission.denied", actor=actor, target=f"accounts.Delegation:{delegation.pk}")
        raise IdentityError("not_found", _("授权不存在"))
    Delegation.objects.filter(pk=delegation.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record_event(
        "delegation.revoked",
        actor=actor,
        on_behalf_of_person_id=delegation.principal_id,
        target=f"accounts.Delegation:{delegation.pk}",
    )


@dataclass(frozen=True)
class ActingFor:
    """Who an action is really for: recorded with every action as on-behalf-of."""

    person_id: int
    person_label: str
    basis: str  # "delegation:<id>" or "counter:<how identity was checked>"


def act_for_by_delegation(
    *, actor: User, delegation: Delegation, item_code: str | None = None, item_codes: Sequence[str] | None = None
) -> ActingFor:
    """An agent starts acting for the principal of an active delegation that covers the item (or, for a
    一件事 bundle, every one of ``item_codes``)."""
    active = Delegation.objects.active().filter(pk=delegation.pk).first()
    person = actor.person
    allowed = active is not None and (
        (person is not None and active.agent_person_id == person.pk) or active.agent_user_id == actor.pk
    )
    covered = active is not None and (active.covers(item_code) if item_codes is None else active.covers_all(item_codes))
    if not allowed or active is None or not covered:
        record_event("permission.denied", actor=actor, target=f"accounts.Delegation:{delegation.pk}")
        raise IdentityError("not_found", _("授权不存在或已失效"))
    principal = active.principal
    record_event(
        "assist.started",
        actor=actor,
        on_behalf_of_person_id=principal.pk,
        on_behalf_of_label=f"{principal.name[:1]}*",
        detail={"basis": f"delegation:{active.pk}"},
    )
    return ActingFor(principal.pk, f"{principal.name[:1]}*", f"delegation:{active.pk}")


COUNTER_IDENTITY_CHECKS = frozenset({"id_card_reader", "document_inspected", "face_match"})


def _check_counter_clerk(actor: User, identity_checked_by: str, action: str) -> None:
    if not policy.has_any_role(actor, {Role.COUNTER_CLERK}):
        record_event("permission.denied", actor=actor, detail={"action": action})
        raise IdentityError("forbidden", _("只有窗口受理人员可以代为办理"))
    if identity_checked_by not in COUNTER_IDENTITY_CHECKS:
        raise IdentityError("identity_check_required", _("请先核验办事人身份证件"), field="identity_checked_by")


def _start_counter_assist(
    actor: User, person_id: int, name: str, identity_checked_by: str, ip: str | None
) -> ActingFor:
    label = f"{name[:1]}*"
    record_event(
        "assist.started",
        actor=actor,
        on_behalf_of_person_id=person_id,
        on_behalf_of_label=label,
        ip=ip,
        detail={"basis": f"counter:{identity_checked_by}"},
    )
    return ActingFor(person_id, label, f"counter:{identity_checked_by}")


def act_for_at_counter(
    *, actor: User, document_type: str, document_number: str, identity_checked_by: str, ip: str | None = None
) -> ActingFor:
    """A counter clerk serves a person who is present, after checking their identity document."""
    _check_counter_clerk(actor, identity_checked_by, "counter_assist")
    number = clean_document(document_type, document_number)
    person = find_person(document_type, number)
    if person is None:
        raise IdentityError("person_unknown", _("未找到该办事人，请先为其登记"), field="document_number")
    return _start_counter_assist(actor, person.pk, person.name, identity_checked_by, ip)


def register_at_counter(
    *,
    actor: User,
    name: str,
    document_type: str,
    document_number: str,
    identity_checked_by: str,
    mobile: str = "",
    ip: str | None = None,
) -> ActingFor:
    """A counter clerk registers a walk-in who has no record yet, after checking their document, and serves them.

    No account is made: the person can claim one online later with the mobile
    recorded here (see :func:`register_citizen`). The clerk saw the original
    document, so the record starts at level 3 with that check as its evidence
    (ADR 0030; level 4 also needs an identity e-licence); the mobile is only
    typed in, so it stays unverified until an SMS code proves it.
    """
    _check_counter_clerk(actor, identity_checked_by, "counter_register")
    with transaction.atomic():
        person = create_person(
            name=name,
            document_type=document_type,
            document_number=document_number,
            mobile=mobile,
            mobile_verified=False,
        )
        record_counter_registration(person, actor=actor, number=clean_document(document_type, document_number), ip=ip)
        record_event(
            "person.registered_at_counter",
            actor=actor,
            target=f"accounts.Person:{person.pk}",
            on_behalf_of_person_id=person.pk,
            on_behalf_of_label=f"{person.name[:1]}*",
            ip=ip,
            detail={"identity_checked_by": identity_checked_by, "mobile_recorded": bool(mobile)},
        )
    return _start_counter_assist(actor, person.pk, person.name, identity_checked_by, ip)
