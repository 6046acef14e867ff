from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "yiwang.cases"
    label = "cases"
    verbose_name = _("办件")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the outbox handlers of case handling.
        from yiwang.cases import tasks  # noqa: F401

        # --- fee payment ---
        # Registers the payment providers and the sandbox gateway's outbox handlers:
        # a worker without them would mark the gateway's notices done, unsent.
        import_module("yiwang.cases.payments")
        # --- end of fee payment ---
