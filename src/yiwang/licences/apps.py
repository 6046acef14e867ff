"""五电: electronic licences (电子证照) and their wallet, e-seals and e-signatures, sealed documents,
licence shares (亮证), cross-region trust and the tamper-evident e-archive (电子档案)."""

from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LicencesConfig(AppConfig):
    name = "yiwang.licences"
    label = "licences"
    verbose_name = _("电子证照与电子印章")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the outbox handlers: licences issued on 制证, savings on submission, expiry.
        # --- licence wallet ---
        # Applications take e-licence materials from the wallet; the staff desk of licence types and licences.
        from yiwang.core.case_records import register_case_records_provider
        from yiwang.core.desks import register_desk
        from yiwang.core.material_sources import register_material_provider, register_savings_counter
        from yiwang.licences import (
            policy,
            tasks,  # noqa: F401
        )
        from yiwang.licences import selectors as licences_selectors
        from yiwang.licences.services import wallet

        register_material_provider("licence_wallet", wallet.offers)
        register_savings_counter("licence_wallet", licences_selectors.materials_saved_counts)
        register_desk("wallet:staff_home", _("电子证照管理"), policy.may_use_licence_desk, order=30)
        import_module("yiwang.licences.admin_licences")
        # --- end of licence wallet ---
        # Registers the outbox handlers that seal finished cases and paid fees into the e-archive.
        # And the start-up check of the archive log (a partial write or damage is reported by `yiwang serve`).
        from yiwang.licences import archive_checks, archive_tasks  # noqa: F401

        # --- sealed case documents ---
        # The case pages list the sealed 受理回执, 补正告知书 and decisions, and link the archive package.
        register_case_records_provider("licences", licences_selectors.case_records)
        # --- end of sealed case documents ---

        # --- real-name level 4 ---
        # Identity checks in accounts (below this app) see the person's identity e-licences (ADR 0030).
        from yiwang.core.assurance_sources import register_identity_licence_provider

        register_identity_licence_provider("licence_wallet", licences_selectors.identity_licences)
        # --- end of real-name level 4 ---

        # --- seals ---
        # Department administrators reach their seals (and key rotation) from the staff home.
        register_desk("seals:desk", _("电子印章"), policy.may_manage_seals, order=35)
        # --- end of seals ---
