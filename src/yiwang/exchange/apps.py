"""数据共享交换: data sharing between departments and between platform nodes."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "yiwang.exchange"
    label = "exchange"
    verbose_name = _("数据共享交换")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # 免提交: applications fetch 部门共享获取 materials from data services (the kernel's registry, since
        # cases sits below this app); the outbox handler records the materials saved; the staff desk.
        from yiwang.core.desks import register_desk
        from yiwang.core.material_sources import register_material_provider
        from yiwang.exchange import (
            policy,
            remote,
            services,
            tasks,  # noqa: F401
            transports,  # noqa: F401  (registers the local transport)
        )

        # Named so that it sorts after "licence_wallet": where the applicant's wallet holds the licence a
        # material names (户口簿, 营业执照), the wallet's offer wins and the data service fills the gap.
        register_material_provider("shared_data", services.material_offers)
        register_desk("exchange:desk", _("数据共享交换"), policy.may_use_exchange_desk, order=40)
        # Services held by other nodes (transport ``node:<peer>``) and this node's answers to their requests.
        remote.register()
