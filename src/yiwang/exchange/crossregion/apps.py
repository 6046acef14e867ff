"""跨省通办: remote items, forwarded applications and the status that comes back, over the node exchange."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrossRegionConfig(AppConfig):
    name = "yiwang.exchange.crossregion"
    label = "exchange_crossregion"
    verbose_name = _("跨省通办")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The message kinds this app answers, its outbox handlers (delivery, case events) and its search source.
        from . import services

        services.register()
