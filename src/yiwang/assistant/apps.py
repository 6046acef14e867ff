from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistantConfig(AppConfig):
    name = "yiwang.assistant"
    label = "assistant"
    verbose_name = _("智能客服")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from yiwang.assistant import policy, recognise
        from yiwang.core.desks import register_desk
        from yiwang.core.warmup import worker_started

        # The case workbench and the staff home list it for 12345 operators (they cannot import this app).
        register_desk("assistant:desk", _("智能客服人工坐席"), policy.may_answer_live_chats, order=15)
        # The item vectors are built when a server worker starts, not by the first citizen's question.
        worker_started.connect(recognise.warm_up, dispatch_uid="assistant.warm_up")
