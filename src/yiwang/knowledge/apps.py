from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "yiwang.knowledge"
    label = "knowledge"
    verbose_name = _("知识库")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from yiwang.core.desks import register_desk
        from yiwang.core.search_sources import register_search_source
        from yiwang.core.warmup import worker_started

        # tasks registers the outbox handler that stores a published version's vectors.
        from . import policy, selectors, tasks  # noqa: F401

        # The staff home lists this desk for those who may draft; the portal search shows published entries.
        register_desk("knowledge:desk", _("知识库"), policy.may_use_desk, order=70)
        register_search_source("knowledge", _("知识库问答"), selectors.search_source_hits, order=10)
        # A server worker builds the index (and loads the model) before its first request.
        worker_started.connect(selectors.warm_up, dispatch_uid="knowledge_warm_up")
