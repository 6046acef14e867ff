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
        from yiwang.core.desks import register_desk
        from yiwang.core.material_sources import register_material_provider
        from yiwang.licences import (
            policy,
            tasks,  # noqa: F401
        )
        from yiwang.licences.services import wallet

        register_material_provider("licence_wallet", wallet.offers)
        register_desk("wallet:staff_home", _("电子证照管理"), policy.may_use_licence_desk, order=30)
        import_module("yiwang.licences.admin_licences")
        # --- end of licence wallet ---
        # --- seals ---
        # Department administrators reach their seals (and key rotation) from the staff home.
        from yiwang.core.desks import register_desk
        from yiwang.licences import policy

        register_desk("seals:desk", _("电子印章"), policy.may_manage_seals, order=35)
        # --- end of seals ---
