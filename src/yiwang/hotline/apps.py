from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HotlineConfig(AppConfig):
    name = "yiwang.hotline"
    label = "hotline"
    verbose_name = _("12345 热线与网格")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the outbox handlers of the hotline (notifications to departments and callers).
        from yiwang.core.desks import register_desk
        from yiwang.hotline import policy, tasks  # noqa: F401

        # The case workbench lists these for the staff who may use them (it cannot import the hotline).
        register_desk("hotline:desk", _("12345热线工作台"), policy.may_use_desk, order=10)
        register_desk("hotline:supervision", _("12345工单督办"), policy.is_supervisor, order=20)
