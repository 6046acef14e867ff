"""Applications before submission: who applies, starting one, drafts, checking answers, files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.accounts import selectors as accounts_selectors
from yiwang.accounts.services import ActingFor
from yiwang.cases import definitions, policy
from yiwang.cases.constants import ApplicationState, Channel
from yiwang.cases.models import Application, ApplicationFile, CorrectionNotice
from yiwang.cases.services import prefill
from yiwang.cases.services.errors import CaseError, CaseNotFound
from yiwang.catalog import selectors as catalog_selectors
from yiwang.catalog.constants import OnlineDepth
from yiwang.core import uploads
from yiwang.core.audit import record_event

if TYPE_CHECKING:
    from yiwang.catalog.models import ServiceItem


@dataclass(frozen=True)
class Applicant:
    """Who an application is for, and who fills it in (see :func:`applicant_for`)."""

    person_id: int
    organisation_id: int | None
    agent_id: int | None
    basis: str
    label: str


def applicant_for(user: Any, *, acting: ActingFor | None = None, organisation_id: int | None = None) -> Applicant:
    """Who an account applies for: itself, an organisation it represents, or a person it acts for."""
    if acting is not None:
        return Applicant(acting.person_id, None, user.pk, acting.basis, acting.person_label)
    if user.person_id is None:
        raise CaseError("identity_required", _("请先完成实名认证再申请"))
    if organisation_id is not None:
        organisation = accounts_selectors.get_represented_organisation(user, organisation_id)
        return Applicant(user.person_id, organisation.pk, None, "", organisation.name)
    return Applicant(user.person_id, None, None, "", user.person.name)


def definition_and_items(application: Application) -> tuple[definitions.ApplicationDefinition, list[ServiceItem]]:
    """The application's definition and the published items it may apply for, fetched once."""
    if application.bundle_code:
        return definitions.for_bundle(application.bundle_code)
    item = catalog_selectors.published_item(application.item_code)
    return item_definition(item), [item]


# Definitions of published item versions, built once per version (they never change, ADR 0003).
_item_definitions: dict[tuple[int, str], definitions.ApplicationDefinition] = {}
_ITEM_DEFINITIONS_KEPT = 1024


def item_definition(item: ServiceItem) -> definitions.ApplicationDefinition:
    """The definition of one published item version (built once per version)."""
    key = (item.pk, item.updated_at.isoformat())
    definition = _item_definitions.get(key)
    if definition is None:
        if len(_item_definitions) >= _ITEM_DEFINITIONS_KEPT:
            _item_definitions.clear()
        definition = _item_definitions[key] = definitions.for_item(item)
    return definition


def application_definition(application: Application) -> definitions.ApplicationDefinition:
    """What the application asks: the definition of its item, or of its bundle (一件事)."""
    return definition_and_items(application)[0]


def start_application(
    *,
    actor: Any,
    applicant: Applicant,
    item_code: str = "",
    bundle_code: str = "",
    channel: str = Channel.ONLINE,
    resume: bool = False,
) -> Application:
    """Open a draft application for one published item or one bundle.

    With ``resume``, the draft this account already has for the same applicant,
    item or bundle and channel is returned instead of a second one (在线办理
    pressed again continues where the person left off).
    """
    if bool(item_code) == bool(bundle_code):
        raise CaseError("item_required", _("请选择一个事项或一件事"))
    if channel not in Channel.values:
        raise CaseError("bad_channel", _("未知的办理渠道"))
    # Counter applications are made by a clerk for a person whose identity the clerk checked.
    if channel == Channel.COUNTER and not applicant.basis.startswith("counter:"):
        raise CaseError("counter_identity_required", _("窗口办理须由窗口人员核验办事人身份后代为申请"))
    if item_code:
        item = catalog_selectors.get_item(item_code)
        if channel in {Channel.ONLINE, Channel.MOBILE} and item.online_depth < OnlineDepth.ONLINE_APPLICATION:
            raise CaseError("counter_only", _("该事项暂不支持网上申请，请到办事窗口办理"))
        # An imported item whose guide lacks materials, fees or time limits cannot say what to submit.
        if channel in {Channel.ONLINE, Channel.MOBILE} and not item.guide_complete:
            raise CaseError(
                "guide_incomplete", _("该事项办事指南信息待完善，暂不接受网上申请，请咨询办理部门或到窗口办理")
            )
        if not policy.meets_assurance(applicant.person_id, item):
            raise CaseError("assurance_too_low", _("该事项要求更高的实名认证等级，请先提升认证等级或到窗口办理"))
    else:
        catalog_selectors.get_bundle(bundle_code)
    with transaction.atomic():
        if resume:
            existing = _open_draft(actor, applicant, item_code=item_code, bundle_code=bundle_code, channel=channel)
            if existing is not None:
                return existing
        application = Application.objects.create(
            created_by=actor,
            applicant_person_id=applicant.person_id,
            applicant_organisation_id=applicant.organisation_id,
            agent_id=applicant.agent_id,
            assisted_basis=applicant.basis,
            channel=channel,
            item_code=item_code,
            bundle_code=bundle_code,
        )
        # 免填: the applicant's own details and earlier answers go in now; the page marks them as prefilled.
        filled = prefill.prefill_for(application, application_definition(application))
        if filled.values:
            application.form_data = filled.values
            application.prefilled = filled.marks()
            application.save(update_fields=["form_data", "prefilled"])
        record_event(
            "application.started",
            actor=actor,
            on_behalf_of_person_id=applicant.person_id if applicant.agent_id else None,
            target=f"cases.Application:{application.pk}",
            detail={"item": item_code, "bundle": bundle_code, "channel": channel, "prefilled": sorted(filled.values)},
        )
    return application


def _open_draft(
    actor: Any, applicant: Applicant, *, item_code: str, bundle_code: str, channel: str
) -> Application | None:
    # Locks the actor's row so that two quick presses of 在线办理 cannot both find no draft and make two.
    list(get_user_model().objects.select_for_update().filter(pk=actor.pk).values_list("pk", flat=True))
    return (
        Application.objects.filter(
            created_by=actor,
            applicant_person_id=applicant.person_id,
            applicant_organisation_id=applicant.organisation_id,
            agent_id=applicant.agent_id,
            item_code=item_code,
            bundle_code=bundle_code,
            channel=channel,
            state=ApplicationState.DRAFT,
        )
        .order_by("-updated_at", "-id")
        .first()
    )


def _editable(application: Application, actor: Any) -> Application:
    if not policy.can_edit_application(actor, application):
        raise CaseNotFound("not_found", _("申请不存在"))
    if application.state != ApplicationState.DRAFT:
        raise CaseError("not_a_draft", _("申请已提交，不能再修改；如需补正请按补正告知办理"))
    return application


def save_draft(
    application: Application,
    *,
    actor: Any,
    answers: Mapping[str, Any] | None = None,
    form_data: Mapping[str, Any] | None = None,
) -> list[definitions.Problem]:
    """Save what the applicant has filled in so far; return what is still missing or wrong.

    A draft keeps whatever was typed, valid or not, so nothing is lost between
    channels; unknown questions and fields are dropped.
    """
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        _editable(application, actor)
        definition = application_definition(application)
        if answers is not None:
            known = {q.key for q in definition.questions}
            application.situation_answers = {k: str(v) for k, v in answers.items() if k in known}
        if form_data is not None:
            keys = {f.key for f in definition.fields}
            merged = dict(application.form_data)
            merged.update({k: str(v)[:5000] for k, v in form_data.items() if k in keys})
            application.form_data = merged
        application.save(update_fields=["situation_answers", "form_data", "updated_at"])
    return application_problems(application, definition)


def application_problems(
    application: Application, definition: definitions.ApplicationDefinition | None = None
) -> list[definitions.Problem]:
    """Everything that stops the application from being submitted, each addressed to its question, field or material."""
    definition = definition or application_definition(application)
    problems = definitions.check_answers(definition, application.situation_answers)
    if problems:
        return problems
    problems = definitions.check_form(definition, application.situation_answers, application.form_data)
    applies = definitions.applicable(definition, application.situation_answers)
    if definition.members and not applies.item_codes:
        problems.append(definitions.Problem("items", _("按您的选择没有需要办理的事项"), "question"))
    present = set(application.files.filter(superseded_at__isnull=True).values_list("material_key", flat=True))
    for spec in applies.materials:
        if spec.required and not spec.from_source and spec.key not in present:
            problems.append(definitions.Problem(spec.key, _("请上传：%(name)s") % {"name": spec.name}, "material"))
    return problems


def attach_file(
    application: Application, *, actor: Any, material_key: str, name: str, stream: IO[bytes]
) -> ApplicationFile:
    """Check and store one material file (type, size, content, virus scan) and attach it to the application.

    Drafts take files at any time; a case waiting for correction takes files
    for the materials its correction notice lists.
    """
    if not policy.can_edit_application(actor, application):
        raise CaseNotFound("not_found", _("申请不存在"))
    definition = application_definition(application)
    spec = next((m for m in definition.materials if m.key == material_key), None)
    if spec is None:
        raise CaseError("unknown_material", _("该事项没有这项材料"))
    if application.state != ApplicationState.DRAFT and material_key not in _correctable_materials(application):
        raise CaseError("not_a_draft", _("申请已提交，只能上传补正告知中列出的材料"))
    try:
        checked = uploads.check_upload(name, stream)
    except uploads.UploadRejected as refused:
        record_event(
            "application.file_refused",
            actor=actor,
            target=f"cases.Application:{application.pk}",
            detail={"code": refused.code, "material": material_key},
        )
        raise CaseError(refused.code, refused.message) from refused
    stream.seek(0)
    with transaction.atomic():
        storage_name = uploads.store_in_transaction(checked, stream)
        stored = ApplicationFile.objects.create(
            application=application,
            material_key=material_key,
            original_name=checked.safe_name,
            storage_name=storage_name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            scan_status=checked.scan_status,
            uploaded_by=actor,
        )
        record_event(
            "application.file_attached",
            actor=actor,
            target=f"cases.Application:{application.pk}",
            detail={"material": material_key, "sha256": checked.sha256, "size": checked.size},
        )
    return stored


def remove_file(application: Application, *, actor: Any, file_id: int) -> None:
    """Take a file off a draft (kept, marked superseded, for the record)."""
    _editable(application, actor)
    updated = ApplicationFile.objects.filter(pk=file_id, application=application, superseded_at__isnull=True).update(
        superseded_at=timezone.now()
    )
    if not updated:
        raise CaseNotFound("not_found", _("文件不存在"))


def _correctable_materials(application: Application) -> set[str]:
    keys: set[str] = set()
    for notice in CorrectionNotice.objects.filter(case__application=application, resolved_at__isnull=True):
        keys.update(entry["key"] for entry in notice.items if entry.get("kind") == "material")
    return keys


def abandon_application(application: Application, *, actor: Any) -> None:
    """Discard a draft the applicant no longer wants."""
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        _editable(application, actor)
        application.state = ApplicationState.ABANDONED
        application.save(update_fields=["state", "updated_at"])
