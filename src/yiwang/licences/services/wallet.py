"""The wallet (我的证照): materials taken from it into applications, the 六减 record, expiry reminders.

A catalogue material whose source is an e-licence (``Material.source_name``
names the licence type) is offered from the applicant's wallet on the
application page through the kernel's material-source registry
(:mod:`yiwang.core.material_sources`); the applicant confirms which licence
to use, and the material is never asked for on paper again. When the
application is submitted, each of its cases records the materials it
saved (:class:`MaterialSaving`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.cases import selectors as cases_selectors
from yiwang.cases import services as cases_services
from yiwang.core import calendar, notifications
from yiwang.core.audit import record_event
from yiwang.core.material_sources import MaterialNeed, MaterialOffer
from yiwang.licences import policy, selectors
from yiwang.licences.constants import EXPIRY_REMINDER_DAYS, LicenceEventKind, LicenceStatus
from yiwang.licences.models import Licence, MaterialSaving, WalletMaterial
from yiwang.licences.services.errors import LicenceError
from yiwang.licences.services.issuance import add_event

NOTIFICATION_LANGUAGE = "zh-hans"


def _applicant_holds(application: Any, licence: Licence) -> bool:
    """The licence belongs to the application's applicant: its organisation, or the person applying alone."""
    if application.applicant_organisation_id is not None:
        return licence.holder_organisation_id == application.applicant_organisation_id
    return licence.holder_organisation_id is None and licence.holder_person_id == application.applicant_person_id


def usable_licences(user: Any, application: Any, source_name: str) -> list[Licence]:
    """The applicant's valid licences of the types a material names, that ``user`` may take from the wallet."""
    types = selectors.types_for_material(source_name)
    if not types:
        return []
    today = calendar.today_local()
    return [
        licence
        for licence in selectors.wallet(user).filter(licence_type__in=types)
        if licence.effective_status(today) == LicenceStatus.VALID and _applicant_holds(application, licence)
    ]


def offers(user: Any, application_id: int, needs: Sequence[MaterialNeed]) -> dict[str, MaterialOffer]:
    """The material-source provider: for each material naming a licence type, what the wallet holds."""
    result: dict[str, MaterialOffer] = {}
    try:
        application = cases_selectors.get_application(user, application_id)
    except Http404:
        return result
    taken = selectors.wallet_materials(application_id)
    url = reverse("wallet:take_material", args=[application_id])
    for need in needs:
        if need.key in taken:
            row = taken[need.key]
            label = f"{row.licence.licence_type.name}（{row.licence.identifier}）"
            result[need.key] = MaterialOffer(need.key, need.source_name, label, (), url)
            continue
        choices = tuple(
            (str(licence.pk), f"{licence.licence_type.name}（{licence.holder_name}，{licence.identifier}）")
            for licence in usable_licences(user, application, need.source_name)
        )
        if choices:
            result[need.key] = MaterialOffer(need.key, need.source_name, "", choices, url)
    return result


def take_material(*, actor: Any, application_id: int, material_key: str, licence_id: int) -> WalletMaterial:
    """The applicant confirms that a licence of their wallet serves as one material of a draft application."""
    try:
        application = cases_selectors.get_application(actor, application_id)
    except Http404:
        raise LicenceError("not_found", _("申请不存在")) from None
    if application.state != "draft":
        raise LicenceError("not_a_draft", _("申请已提交，不能再更改材料"))
    definition = cases_services.application_definition(application)
    spec = next((m for m in definition.materials if m.key == material_key), None)
    if spec is None or not spec.from_source:
        raise LicenceError("unknown_material", _("该事项没有可从证照库调取的这项材料"))
    licence = Licence.objects.select_related("licence_type", "department").filter(pk=licence_id).first()
    if licence is None or not policy.is_holder_side(actor, licence):
        raise LicenceError("not_found", _("电子证照不存在"))
    if licence not in usable_licences(actor, application, spec.from_source):
        raise LicenceError("licence_not_usable", _("该证照不是本项材料所需的有效证照，或不属于本申请的申请人"))
    with transaction.atomic():
        row, _created = WalletMaterial.objects.update_or_create(
            application_id=application.pk,
            material_key=material_key,
            defaults={
                "material_name": spec.name[:200],
                "item_codes": list(spec.item_codes),
                "licence": licence,
                "confirmed_by": actor,
            },
        )
        add_event(licence, LicenceEventKind.USED, actor=actor, application=application.pk, material=spec.name)
        record_event(
            "licence.used_as_material",
            actor=actor,
            target=f"licences.Licence:{licence.identifier}",
            detail={"application": application.pk, "material": material_key},
        )
    return row


def release_material(*, actor: Any, application_id: int, material_key: str) -> None:
    """Undo taking a material from the wallet while the application is still a draft."""
    try:
        application = cases_selectors.get_application(actor, application_id)
    except Http404:
        raise LicenceError("not_found", _("申请不存在")) from None
    if application.state != "draft":
        raise LicenceError("not_a_draft", _("申请已提交，不能再更改材料"))
    WalletMaterial.objects.filter(application_id=application.pk, material_key=material_key).delete()


def record_savings(case_id: int) -> int:
    """六减: record, once per case and material, each material the submitted case took from the wallet."""
    case = cases_selectors.case_by_id(case_id)
    if case is None:
        return 0
    created = 0
    for row in WalletMaterial.objects.filter(application_id=case.application_id):
        if row.item_codes and case.item_code not in row.item_codes:
            continue
        _saving, made = MaterialSaving.objects.get_or_create(
            case_id=case.pk,
            material_key=row.material_key,
            defaults={
                "case_number": case.number,
                "item_code": case.item_code,
                "material_name": row.material_name,
                "licence_id": row.licence_id,
            },
        )
        created += made
    return created


def holder_accounts(licence: Licence) -> list[int]:
    """Account ids to tell about a licence: the holder person's, or the organisation's representative's."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    person_id: int | None
    if licence.holder_organisation_id is not None:
        organisation = accounts_selectors.get_organisation(licence.holder_organisation_id)
        person_id = organisation.legal_representative_id
    else:
        person_id = licence.holder_person_id
    if person_id is None:
        return []
    return list(users.filter(person_id=person_id).values_list("pk", flat=True))


def remind_expiry(licence_id: int) -> int:
    """Tell the holder that a licence expires soon (once per licence: the dedupe key is the licence)."""
    from django.utils import translation

    licence = Licence.objects.select_related("licence_type").filter(pk=licence_id).first()
    today = calendar.today_local()
    if licence is None or licence.valid_until is None or licence.effective_status(today) != LicenceStatus.VALID:
        return 0
    if (licence.valid_until - today).days > EXPIRY_REMINDER_DAYS:
        return 0
    with translation.override(NOTIFICATION_LANGUAGE):
        subject = _("证照即将到期")
        body = _("您的“%(name)s”（%(identifier)s）将于%(date)s到期，请及时办理延续或换发。") % {
            "name": licence.licence_type.name,
            "identifier": licence.identifier,
            "date": licence.valid_until.isoformat(),
        }
    queued = 0
    for user_id in holder_accounts(licence):
        queued += len(
            notifications.notify(
                dedupe_key=f"licence-expiry:{licence.pk}:user:{user_id}",
                template="licence-expiry",
                subject=subject,
                body=body,
                link=reverse("wallet:licence", args=[licence.pk]),
                user_id=user_id,
                channels=("in_app",),
            )
        )
    if queued:
        add_event(licence, LicenceEventKind.REMINDED, until=licence.valid_until.isoformat())
    return queued
