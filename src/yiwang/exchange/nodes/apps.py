"""节点间交换: this node's signing key, its peers, signed messages and the message log."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeNodesConfig(AppConfig):
    name = "yiwang.exchange.nodes"
    label = "exchange_nodes"
    verbose_name = _("节点间交换")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import services

        services.register_builtin_handlers()
