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
        from django.db.models.signals import post_migrate

        from yiwang.core.desks import register_desk
        from yiwang.core.material_sources import register_material_provider, register_savings_counter
        from yiwang.exchange import (
            batches,
            policy,
            remote,
            selectors,
            services,
            tasks,  # noqa: F401
            transports,  # noqa: F401  (registers the local transport)
        )

        # Named so that it sorts after "licence_wallet": where the applicant's wallet holds the licence a
        # material names (户口簿, 营业执照), the wallet's offer wins and the data service fills the gap.
        register_material_provider("shared_data", services.material_offers)
        register_savings_counter("shared_data", selectors.materials_saved_counts)
        # 前置库: the scheduled scan of the front directory (when one is configured) and its outbox handlers.
        post_migrate.connect(batches.start_schedule_after_migrate, sender=self, dispatch_uid="exchange-batch-schedule")
        register_desk("exchange:desk", _("数据共享交换"), policy.may_use_exchange_desk, order=40)
        # Real-name level 3 online: identity (below this app) matches a person against household registration.
        from yiwang.core.assurance_sources import register_register_matcher

        register_register_matcher("household", services.match_household_register)
        # Services held by other nodes (transport ``node:<peer>``) and this node's answers to their requests.
        remote.register()
