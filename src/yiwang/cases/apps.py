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

        # The staff home lists the workbench and counter intake beside the other apps' desks.
        from yiwang.cases.page_data import staff
        from yiwang.core.desks import register_desk

        register_desk("workbench:home", _("办件工作台"), staff.has_case_queue, order=0)
        register_desk("workbench:counter", _("窗口受理"), staff.may_use_counter, order=5)
